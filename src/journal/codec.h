// Internal to aaj_journal: the record line format, its hash, and reading lines from the file.
// Kept apart from the file management in journal.cpp so that sealed segments and Merkle proofs
// can reuse it later.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/types.h>
#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace aaj::journal::codec {

inline constexpr std::string_view kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// SHA-256 of libcrypto, fetched once (EVP_sha256() would look the implementation up again on
// every digest in OpenSSL 3). Immutable; aborts if libcrypto has no SHA-256.
const EVP_MD* sha256_md();

// Incremental SHA-256. Not thread-safe: one per thread/owner. Reusable after hex_final().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // Writes 64 lowercase hex characters to out (replacing its content) and resets for reuse.
  void hex_final(std::string& out);

 private:
  EVP_MD_CTX* ctx_;
};

// Checks that body is a JSON object without floats or binary values. On failure returns
// "invalid_record" naming the JSON pointer of the offending value.
Status check_body(const nlohmann::json& body);

// Appends body.dump() to out, byte for byte the same, without nlohmann's per-character output
// (the records carry the signed request as a long base64 string). Refuses what check_body and
// dump() refuse: "invalid_record" for a body that is not an object, a float or binary value
// (naming its JSON pointer) or invalid UTF-8.
Status dump_body(const nlohmann::json& body, std::string& out);

// Appends the canonical line of one record (with the trailing '\n') to out and writes its hash
// to hash_out. type_json and body_json are the dump() of the type string and the body; at_utc,
// at_astana and prev must be plain ASCII without characters JSON escapes (they are).
void encode(Sha256& sha, uint64_t seq, std::string_view at_utc, std::string_view at_astana,
            std::string_view type_json, std::string_view body_json, std::string_view prev,
            std::string& out, std::string& hash_out);

struct Decoded {
  uint64_t seq = 0;
  std::string type, at, at_astana, prev, hash;
  time::Instant instant;
  nlohmann::json body;
};

// Parses one line (without '\n') and checks it on its own: shape, canonical bytes, hash.
// Returns an empty string when it is fine, otherwise the problem ("unparseable line",
// "malformed record: …", "non-canonical encoding", "hash mismatch"). out.seq is set whenever
// the seq could be read, even on failure (to name the bad record). Chain checks (seq, prev) are
// the caller's.
std::string decode(std::string_view line, Sha256& sha, Decoded& out, bool keep_body);

// decode() in two parts, for the differential test: the exact check (parse, dump, compare) that
// words every verdict, and whether the one-pass fast check alone accepted the line (decode()
// takes it then; it only ever accepts lines the exact check accepts).
std::string decode_exact(std::string_view line, Sha256& sha, Decoded& out, bool keep_body);
bool decode_is_fast(std::string_view line);

// Reads the lines of [begin, end) of an open file with pread, in large chunks (constant memory
// except for single long lines). Not thread-safe.
class LineReader {
 public:
  LineReader(int fd, uint64_t begin, uint64_t end);
  // Sets line (without '\n', valid until the next call) and returns true; false at the end or
  // on a read error (see error()). After false, tail_bytes() is the length of an unterminated
  // last piece.
  bool next(std::string_view& line);
  // File offset of the line last returned.
  uint64_t line_offset() const { return line_offset_; }
  uint64_t tail_bytes() const { return tail_bytes_; }
  const std::string& error() const { return error_; }

 private:
  int fd_;
  uint64_t next_read_, end_;
  std::string buf_;
  size_t pos_ = 0;       // first unconsumed byte of buf_
  uint64_t buf_offset_;  // file offset of buf_[0]
  uint64_t line_offset_ = 0;
  uint64_t tail_bytes_ = 0;
  std::string error_;
};

// Writes all of data at the end of an O_APPEND fd, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view data);

}  // namespace aaj::journal::codec
