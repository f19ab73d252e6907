// Reading the whole journal back: scan() for consumers (reports, archiving), verify() and the
// `aaj log verify` command for auditors. Both walk the same checks over every file of the log.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "journal/codec.h"
#include "journal/heads.h"
#include "journal/journal.h"
#include "journal/merkle.h"
#include "journal/segments.h"

namespace aaj::journal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Walker {
  const fs::path& dir;
  const VerifyOptions& opts;
  const std::function<bool(codec::Decoded&)>* fn;
  bool check_evidence;  // seals, heads, the tree (verify); scan() only walks the chain

  VerifyReport rep;
  codec::Sha256 sha;
  merkle::Frontier tree;
  uint64_t line_no = 0;
  // heads, read as the walk reaches their sizes
  std::optional<heads::HeadsReader> heads;
  std::optional<heads::HeadsReader::Line> pending_head;
  bool heads_done = false;

  // `line`: the line in `file` when it is not the record line being read (heads.log).
  bool bad(const std::string& file, std::string problem, std::optional<uint64_t> seq = {},
           std::optional<uint64_t> line = {}) {
    rep.ok = false;
    rep.first_bad_file = file;
    if (!rep.first_bad_line) rep.first_bad_line = line ? *line : line_no;
    if (seq) rep.first_bad_seq = seq;
    rep.problem = std::move(problem);
    return false;
  }

  bool check_sig(const json& signed_obj, const char* key, const std::string& file,
                 const std::string& where, std::optional<uint64_t> line = {}) {
    if (!opts.check_signature) return true;
    if (!signed_obj.contains("signature") || !signed_obj["signature"].is_string())
      return bad(file, where + ": no signature", {}, line);
    Status s = opts.check_signature(heads::canonical(signed_obj[key]),
                                    signed_obj["signature"].get<std::string>());
    if (!s) return bad(file, where + ": signature does not verify: " + s.error().detail, {}, line);
    return true;
  }

  // Checks every signed head whose size the tree has reached.
  bool check_heads() {
    if (!check_evidence || heads_done) return true;
    for (;;) {
      if (!pending_head) {
        pending_head.emplace();
        if (!heads->next(*pending_head)) {
          pending_head.reset();
          heads_done = true;
          rep.heads_incomplete_tail_bytes = heads->incomplete_tail_bytes();
          return true;
        }
      }
      const uint64_t at = pending_head->number;
      const std::string where = "heads.log line " + std::to_string(at);
      if (!pending_head->head) return bad(kHeadsFileName, where + ": not a signed head", {}, at);
      const heads::HeadLine& sh = *pending_head->head;
      const uint64_t size = sh.size;
      if (size > static_cast<uint64_t>(tree.size())) return true;  // not reached yet
      if (size < static_cast<uint64_t>(tree.size()))
        return bad(kHeadsFileName,
                   where + ": heads are out of order (size " + std::to_string(size) +
                       " after the tree passed it)",
                   {}, at);
      if (sh.root != merkle::to_hex(tree.root()))
        return bad(kHeadsFileName,
                   where + ": the head of size " + std::to_string(size) + " has root " + sh.root +
                       ", the records' tree has " + merkle::to_hex(tree.root()),
                   {}, at);
      if (!check_sig(sh.value, "head", kHeadsFileName, where, at)) return false;
      ++rep.heads;
      pending_head.reset();
    }
  }

  // One record file. `seg` is set for a sealed segment. journal.log may be missing only when
  // there are sealed segments (an archive folder, or a log sealed to its end).
  bool file(const fs::path& path, const files::Segment* seg, bool may_be_missing = false) {
    const std::string name = seg ? files::segment_name(seg->number) : std::string(kFileName);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT && may_be_missing) return true;
      rep.ok = false;
      rep.unreadable = true;
      rep.problem = "cannot open " + path.string() + ": " + std::strerror(errno);
      return false;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      rep.ok = false;
      rep.unreadable = true;
      rep.problem = std::string("fstat failed: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
    // A snapshot of the size: records appended while we read are left for the next run.
    codec::LineReader reader(fd, 0, static_cast<uint64_t>(st.st_size));
    codec::Decoded d;
    std::string_view line;
    merkle::Frontier segment;
    uint64_t first_seq = 0;
    std::string first_prev;
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
        ::close(fd);
        return bad(name, std::move(problem),
                   d.seq != 0 ? std::optional<uint64_t>(d.seq) : std::nullopt);
      }
      if (first_seq == 0) {
        first_seq = d.seq;
        first_prev = d.prev;
      }
      if (check_evidence) {
        auto leaf = merkle::leaf_hash(line);
        (void)tree.append(leaf);
        if (seg) (void)segment.append(leaf);
      }
      ++rep.records;
      rep.head_hash = d.hash;
      if (check_evidence && !check_heads()) {
        ::close(fd);
        return false;
      }
      if (fn && !(*fn)(d)) {
        ::close(fd);
        rep.ok = true;
        return false;  // stopped by the caller: not a failure
      }
    }
    const std::string err = reader.error();
    const uint64_t tail = reader.tail_bytes();
    ::close(fd);
    if (!err.empty()) {
      rep.ok = false;
      rep.unreadable = true;
      rep.problem = err;
      return false;
    }
    if (seg) {
      if (tail != 0) return bad(name, name + ": a sealed segment ends with an incomplete line");
      if (check_evidence && !check_seal(*seg, name, first_seq, first_prev, segment)) return false;
      ++rep.segments;
    } else {
      rep.incomplete_tail_bytes = tail;
    }
    return true;
  }

  bool check_seal(const files::Segment& seg, const std::string& name, uint64_t first_seq,
                  const std::string& first_prev, const merkle::Frontier& segment) {
    auto sealed = files::read_seal(seg);
    const std::string where = "seal of " + name;
    if (!sealed) return bad(name, where + ": missing or malformed");
    const json& s = (*sealed)["seal"];
    auto u64 = [&](const char* k) -> std::optional<uint64_t> {
      if (!s.contains(k) || !s[k].is_number_unsigned()) return std::nullopt;
      return s[k].get<uint64_t>();
    };
    auto str = [&](const char* k) -> std::string {
      return s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : std::string();
    };
    const uint64_t last = rep.records;
    std::string mismatch;
    if (u64("first_seq") != first_seq)
      mismatch = "first_seq";
    else if (u64("last_seq") != last)
      mismatch = "last_seq";
    else if (u64("records") != last - first_seq + 1)
      mismatch = "records";
    else if (str("first_prev") != first_prev)
      mismatch = "first_prev";
    else if (str("last_hash") != rep.head_hash)
      mismatch = "last_hash";
    else if (str("segment_root") != merkle::to_hex(segment.root()))
      mismatch = "segment_root";
    else if (u64("size") != last)
      mismatch = "size";
    else if (str("root") != merkle::to_hex(tree.root()))
      mismatch = "root";
    else if (str("segment") != name)
      mismatch = "segment";
    if (!mismatch.empty())
      return bad(name, where + ": " + mismatch + " does not match its records");
    return check_sig(*sealed, "seal", name, where);
  }

  static constexpr const char* kHeadsFileName = files::kHeadsFile;
};

// Walks the chain, calling fn (if any) for each good record until it returns false. Fills the
// report; never throws. A segment sealed while we walk can make the listing stale: the walk is
// then repeated once from a fresh listing.
VerifyReport walk(const fs::path& dir, const std::function<bool(codec::Decoded&)>* fn,
                  const VerifyOptions& opts, bool check_evidence) {
  VerifyReport result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Walker w{dir, opts, fn, check_evidence, {}, {}, {}, 0, {}, {}, false};
    w.rep.ok = true;
    w.rep.head_hash = std::string(codec::kZeroHash);
    w.rep.signatures_checked = check_evidence && static_cast<bool>(opts.check_signature);
    if (check_evidence) w.heads.emplace(dir / files::kHeadsFile);
    const auto before = files::list_segments(dir);
    bool go = true;
    for (const auto& seg : before)
      if (!(go = w.file(seg.log, &seg))) break;
    if (go) go = w.file(dir / kFileName, nullptr, /*may_be_missing=*/!before.empty());
    if (go && check_evidence) go = w.check_heads();  // heads beyond the records are checked too
    if (go && check_evidence && w.pending_head) {
      const auto& sh = *w.pending_head;
      w.bad(files::kHeadsFile,
            "heads.log line " + std::to_string(sh.number) + ": a signed head of size " +
                std::to_string(sh.head ? sh.head->size : 0) +
                " covers more records than the log holds (" + std::to_string(w.rep.records) + ")",
            {}, sh.number);
    }
    w.rep.tree_root = merkle::to_hex(w.tree.root());
    result = std::move(w.rep);
    const bool listing_changed = files::list_segments(dir).size() != before.size();
    if (result.ok || result.unreadable || !listing_changed) break;
  }
  return result;
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
  VerifyReport rep = walk(dir, &each, {}, /*check_evidence=*/false);
  if (rep.unreadable) return Error{"journal_unavailable", rep.problem};
  if (!rep.ok) {
    std::string where =
        rep.first_bad_file + " line " + std::to_string(rep.first_bad_line.value_or(0));
    if (rep.first_bad_seq) where += " (seq " + std::to_string(*rep.first_bad_seq) + ")";
    return Error{"journal_corrupt", where + ": " + rep.problem};
  }
  return {};
}

Status check_record_line(std::string_view line, Record* out) {
  codec::Sha256 sha;
  codec::Decoded d;
  std::string problem = codec::decode(line, sha, d, /*keep_body=*/true);
  if (!problem.empty()) return Error{"journal_corrupt", problem};
  if (out) {
    out->seq = d.seq;
    out->type = std::move(d.type);
    out->at = d.instant;
    out->at_astana = std::move(d.at_astana);
    out->body = std::move(d.body);
    out->prev = std::move(d.prev);
    out->hash = std::move(d.hash);
  }
  return {};
}

VerifyReport verify(const std::filesystem::path& dir, const VerifyOptions& opts) {
  return walk(dir, nullptr, opts, /*check_evidence=*/true);
}

nlohmann::json to_json(const VerifyReport& r) {
  nlohmann::json j;
  j["ok"] = r.ok;
  j["records"] = r.records;
  j["first_bad_line"] = r.first_bad_line ? nlohmann::json(*r.first_bad_line) : nlohmann::json();
  j["first_bad_seq"] = r.first_bad_seq ? nlohmann::json(*r.first_bad_seq) : nlohmann::json();
  j["first_bad_file"] = r.first_bad_file;
  j["problem"] = r.problem;
  j["head_hash"] = r.head_hash;
  j["tree_root"] = r.tree_root;
  j["segments"] = r.segments;
  j["heads"] = r.heads;
  j["signatures_checked"] = r.signatures_checked;
  j["incomplete_tail_bytes"] = r.incomplete_tail_bytes;
  j["heads_incomplete_tail_bytes"] = r.heads_incomplete_tail_bytes;
  j["unreadable"] = r.unreadable;
  return j;
}

int log_verify_command(const std::filesystem::path& journal_dir, std::ostream& out,
                       const VerifyOptions& opts) {
  VerifyReport r = verify(journal_dir, opts);
  // The problem text may quote a path with odd bytes; never let dump() throw on them.
  out << to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  if (r.unreadable) return 2;
  return r.ok ? 0 : 1;
}

}  // namespace aaj::journal
