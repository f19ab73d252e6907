// Internal to aaj_journal: the files of a log directory (docs/journal-format.md).
//   journal.log                 the active segment
//   segments/NNNNNN.log         sealed segments, in order
//   segments/NNNNNN.seal.json   their signed seals
//   merkle.hashes               the Merkle tree's stored hashes (tree.h)
//   heads.log                   signed tree heads, one per group commit
//   cosignatures.log            the witness's co-signatures
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::journal::files {

inline constexpr const char* kSegmentsDir = "segments";
inline constexpr const char* kHeadsFile = "heads.log";
inline constexpr const char* kCosignaturesFile = "cosignatures.log";

struct Segment {
  int number = 0;              // 1, 2, …
  std::filesystem::path log;   // segments/NNNNNN.log
  std::filesystem::path seal;  // segments/NNNNNN.seal.json (may not exist yet)
};

// "000001.log" for 1.
std::string segment_name(int number);

// The sealed segments of `dir`, ordered by number. Files that do not match NNNNNN.log are
// ignored. An unreadable directory gives an empty list (a log with no sealed segment).
std::vector<Segment> list_segments(const std::filesystem::path& dir);

// Every file of the log in order: the sealed segments, then journal.log.
std::vector<std::filesystem::path> record_files(const std::filesystem::path& dir);

// The seal of a segment as stored ({"seal":{…},"signature":…}), or nullopt when the file is
// missing or is not such an object.
std::optional<nlohmann::json> read_seal(const Segment& s);

// Calls fn(seq, line) for every record line with seq >= from_seq, in order across all files,
// until fn returns false. Lines are as stored (no '\n'); their seq is counted from each file's
// first record, whose seq is read from it. Records are not checked (verify() does that).
// Errors: "journal_unavailable" (a file cannot be read), "journal_corrupt" (a first line with no
// seq).
Status for_each_line(const std::filesystem::path& dir, uint64_t from_seq,
                     const std::function<bool(uint64_t, std::string_view)>& fn);

// Appends one line (with '\n') to a JSON Lines side file, creating it (mode 0600). No fsync:
// side files are derived or re-creatable. Errors: "journal_unavailable".
Status append_line(const std::filesystem::path& path, std::string_view line);

// The last complete line of a file, or "" when it has none. Errors: "journal_unavailable".
Result<std::string> last_line(const std::filesystem::path& path);

// Cuts a side file back to its last '\n' (a line torn by a crash), so that the next append
// starts a line of its own. A missing file is fine. Errors: "journal_unavailable".
Status drop_incomplete_tail(const std::filesystem::path& path);

}  // namespace aaj::journal::files
