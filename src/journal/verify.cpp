// Reading the whole journal back: scan() for consumers (reports, archiving), verify() and the
// `aaj log verify` command for auditors. Both walk the same checks.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "journal/codec.h"
#include "journal/journal.h"

namespace aaj::journal {
namespace {

// Walks the chain, calling fn (if any) for each good record until it returns false. Fills the
// report; never throws.
VerifyReport walk(const std::filesystem::path& dir,
                  const std::function<bool(codec::Decoded&)>* fn) {
  VerifyReport rep;
  rep.head_hash = std::string(codec::kZeroHash);
  const auto path = dir / kFileName;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    rep.unreadable = true;
    rep.problem = "cannot open " + path.string() + ": " + std::strerror(errno);
    return rep;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    rep.unreadable = true;
    rep.problem = std::string("fstat failed: ") + std::strerror(errno);
    ::close(fd);
    return rep;
  }
  // A snapshot of the size: records appended while we read are left for the next run.
  codec::LineReader reader(fd, 0, static_cast<uint64_t>(st.st_size));
  codec::Sha256 sha;
  codec::Decoded d;
  std::string_view line;
  uint64_t line_no = 0;
  while (reader.next(line)) {
    ++line_no;
    d.seq = 0;
    std::string problem = codec::decode(line, sha, d, /*keep_body=*/fn != nullptr);
    const uint64_t expected = rep.records + 1;
    if (problem.empty() && d.seq != expected) {
      problem = (d.seq > expected ? "seq gap: expected " : "seq out of order: expected ") +
                std::to_string(expected) + " got " + std::to_string(d.seq);
    }
    if (problem.empty() && d.prev != rep.head_hash) problem = "prev does not match previous hash";
    if (!problem.empty()) {
      rep.first_bad_line = line_no;
      if (d.seq != 0) rep.first_bad_seq = d.seq;
      rep.problem = std::move(problem);
      ::close(fd);
      return rep;
    }
    ++rep.records;
    rep.head_hash = d.hash;
    if (fn && !(*fn)(d)) break;
  }
  if (!reader.error().empty()) {
    rep.unreadable = true;
    rep.problem = reader.error();
    ::close(fd);
    return rep;
  }
  rep.incomplete_tail_bytes = reader.tail_bytes();
  rep.ok = true;
  ::close(fd);
  return rep;
}

}  // namespace

Status scan(const std::filesystem::path& dir, const std::function<bool(const Record&)>& fn) {
  Record rec;
  std::function<bool(codec::Decoded&)> each = [&](codec::Decoded& d) {
    rec.seq = d.seq;
    rec.type = std::move(d.type);
    rec.at = d.instant;
    rec.at_astana = std::move(d.at_astana);
    rec.body = std::move(d.body);
    rec.prev = std::move(d.prev);
    rec.hash = std::move(d.hash);  // walk() already took its copy for the next prev check
    return fn(rec);
  };
  VerifyReport rep = walk(dir, &each);
  if (rep.unreadable) return Error{"journal_unavailable", rep.problem};
  if (!rep.ok) {
    std::string where = "line " + std::to_string(rep.first_bad_line.value_or(0));
    if (rep.first_bad_seq) where += " (seq " + std::to_string(*rep.first_bad_seq) + ")";
    return Error{"journal_corrupt", where + ": " + rep.problem};
  }
  return {};
}

VerifyReport verify(const std::filesystem::path& dir) {
  return walk(dir, nullptr);
}

nlohmann::json to_json(const VerifyReport& r) {
  nlohmann::json j;
  j["ok"] = r.ok;
  j["records"] = r.records;
  j["first_bad_line"] = r.first_bad_line ? nlohmann::json(*r.first_bad_line) : nlohmann::json();
  j["first_bad_seq"] = r.first_bad_seq ? nlohmann::json(*r.first_bad_seq) : nlohmann::json();
  j["problem"] = r.problem;
  j["head_hash"] = r.head_hash;
  j["incomplete_tail_bytes"] = r.incomplete_tail_bytes;
  j["unreadable"] = r.unreadable;
  return j;
}

int log_verify_command(const std::filesystem::path& journal_dir, std::ostream& out) {
  VerifyReport r = verify(journal_dir);
  // The problem text may quote a path with odd bytes; never let dump() throw on them.
  out << to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  if (r.unreadable) return 2;
  return r.ok ? 0 : 1;
}

}  // namespace aaj::journal
