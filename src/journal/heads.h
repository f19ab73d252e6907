// Internal to aaj_journal: the pieces of signed tree heads and answer seals
// (docs/journal-format.md §3–§4). The functions are pure and thread-safe; HeadsReader reads a
// file and is one reader's, not to be shared between threads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "journal/merkle.h"

namespace aaj::journal::heads {

// The body fields a seal leaf names when they are strings.
inline constexpr const char* kSealLeafFields[] = {"request_id", "answer_sha256", "cms_sha256"};

// The seal leaf object of a record (§4): log_seq, record_hash, and the body's request_id,
// answer_sha256 and cms_sha256 when they are strings in `body_json` (the record body's
// canonical text).
nlohmann::json seal_leaf(uint64_t seq, std::string_view record_hash, std::string_view body_json);

// The body fields a seal leaf names (kSealLeafFields), each when the body has it as a string.
struct SealLeafFields {
  std::optional<std::string> request_id, answer_sha256, cms_sha256;
};

// Those fields of a record body object (absent when missing or not a string).
SealLeafFields seal_leaf_fields(const nlohmann::json& body);

// canonical(seal_leaf(…)) written directly: the leaf's members in their canonical (sorted) order.
// The flusher writes one per record; this spares it building and dumping a JSON object. False
// when a field is not valid UTF-8 (then the object form would not dump either).
bool append_canonical_seal_leaf(std::string& out, uint64_t seq, std::string_view record_hash,
                                const SealLeafFields& fields);

// The head object (§3).
nlohmann::json make_head(std::string_view log_id, uint64_t size, const merkle::Hash& root,
                         uint64_t first_seq, uint64_t last_seq, const merkle::Hash& batch_root,
                         time::Instant at);

// Canonical JSON text (dump()).
std::string canonical(const nlohmann::json& j);

// Hashes as hex strings, and back: unhex_list() takes a JSON list of 64-hex strings. Error
// "malformed" when it is not a list or an element is not 64 hex characters.
std::vector<std::string> hex_list(const std::vector<merkle::Hash>& hashes);
Result<std::vector<merkle::Hash>> unhex_list(const nlohmann::json& list);

// A line of heads.log ({"head":{…},"signature":"…"}) or cosignatures.log ({"head":{…},
// "witness","cosignature"}), its types checked: "head" an object with an unsigned "size" and a
// string "root"; "batch" read when it has unsigned first_seq and last_seq.
struct HeadLine {
  nlohmann::json value;  // the whole line
  uint64_t size = 0;
  std::string root;
  std::optional<std::pair<uint64_t, uint64_t>> batch;  // first_seq, last_seq
  // "signature" is a string (a signed head of heads.log).
  bool is_signed() const;
  const nlohmann::json& head() const { return value["head"]; }
};
// nullopt when the line is not such an object.
std::optional<HeadLine> parse_head_line(std::string_view line);

// The one reader of heads.log (and cosignatures.log): complete lines in order, each parsed. A
// last line without its '\n' is a write torn by a crash, never acknowledged: it is not returned
// but counted in incomplete_tail_bytes() (the journal cuts it at open). A missing file reads
// as empty.
class HeadsReader {
 public:
  explicit HeadsReader(const std::filesystem::path& path) : in_(path, std::ios::binary) {}
  struct Line {
    uint64_t number = 0;           // 1-based
    std::string text;              // without '\n'
    std::optional<HeadLine> head;  // nullopt: not a head line
  };
  // The next complete line; false at the end.
  bool next(Line& out);
  uint64_t incomplete_tail_bytes() const { return tail_; }

 private:
  std::ifstream in_;
  uint64_t line_ = 0;
  uint64_t tail_ = 0;
};

}  // namespace aaj::journal::heads
