#include "evidence/log_tool.h"

#include <fstream>
#include <sstream>

#include "core/json_scan.h"
#include "evidence/evidence.h"
#include "journal/heads.h"
#include "journal/journal.h"
#include "journal/merkle.h"
#include "journal/segments.h"
#include "journal/tree.h"
#include "pki/crl.h"
#include "pki/openssl_util.h"
#include "pki/trust.h"

namespace aaj::evidence {
namespace {

namespace fs = std::filesystem;
namespace merkle = journal::merkle;
using nlohmann::json;

int print(std::ostream& out, const json& j, int code) {
  out << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return code;
}
int refuse(std::ostream& out, const std::string& code, const std::string& detail, int exit) {
  return print(out, {{"ok", false}, {"error", {{"code", code}, {"detail", detail}}}}, exit);
}

// Runs a command's body; JSON of an unexpected shape that slipped past its type checks is
// refused as malformed input (exit 2) instead of ending the process.
template <class F>
int guarded(std::ostream& out, const F& body) {
  try {
    return body();
  } catch (const json::exception& e) {
    return refuse(out, "malformed", std::string("unexpected JSON: ") + e.what(), 2);
  }
}

// The log's tree: the stored hashes when they cover `size` records, else rebuilt in memory
// from the records (an archive, or a log whose owner is not running).
class Tree {
 public:
  static Result<Tree> open(const fs::path& dir, uint64_t size) {
    Tree t;
    auto file = journal::TreeFile::open(dir, /*writable=*/false);
    if (file && static_cast<uint64_t>((*file)->records()) >= size) {
      t.file_ = std::move(*file);
      return t;
    }
    t.memory_ = std::make_unique<merkle::MemoryHashStore>();
    Status err;
    Status walk = journal::files::for_each_line(dir, 1, [&](uint64_t seq, std::string_view line) {
      if (seq > size) return false;
      err = t.memory_->append_record(merkle::leaf_hash(line));
      return err.ok();
    });
    if (!walk) return walk.error();
    if (!err) return err.error();
    if (static_cast<uint64_t>(t.memory_->records()) < size)
      return Error{"bad_argument", "the log holds " + std::to_string(t.memory_->records()) +
                                       " records, not " + std::to_string(size)};
    return t;
  }
  merkle::HashReader& reader() {
    return file_ ? static_cast<merkle::HashReader&>(*file_) : *memory_;
  }

 private:
  std::unique_ptr<journal::TreeFile> file_;
  std::unique_ptr<merkle::MemoryHashStore> memory_;
};

uint64_t record_count(const fs::path& dir) {
  uint64_t n = 0;
  (void)journal::files::for_each_line(dir, 1, [&](uint64_t seq, std::string_view) {
    n = seq;
    return true;
  });
  return n;
}

// The signed heads of heads.log, in order (lines that are not heads are left out).
std::vector<journal::heads::HeadLine> signed_heads(const fs::path& dir) {
  std::vector<journal::heads::HeadLine> out;
  journal::heads::HeadsReader in(dir / journal::files::kHeadsFile);
  for (journal::heads::HeadsReader::Line l; in.next(l);)
    if (l.head && l.head->is_signed()) out.push_back(std::move(*l.head));
  return out;
}

json head_of_size(const std::vector<journal::heads::HeadLine>& heads, uint64_t size) {
  for (const auto& h : heads)
    if (h.size == size) return h.value;
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<const pki::CmsVerifier>> make_verifier(const Anchors& a) {
  pki::init_openssl();
  auto trust = pki::TrustStore::load(a.trust);
  if (!trust) return trust.error();
  std::shared_ptr<const pki::CrlStore> crls;
  if (!a.crl_dir.empty()) {
    auto c = pki::CrlStore::open(a.crl_dir, *trust);
    if (!c) return c.error();
    crls = *c;
  } else if (!a.crl_files.empty()) {
    auto c = pki::CrlStore::from_files(a.crl_files, *trust);
    if (!c) return c.error();
    crls = *c;
  }
  return std::make_shared<const pki::CmsVerifier>(*trust, crls);
}

int log_verify(const fs::path& dir, const pki::CmsVerifier* verifier, std::ostream& out) {
  journal::VerifyOptions opts;
  if (verifier)
    opts.check_signature = [verifier](std::string_view canonical, std::string_view sig) {
      return check_system_signature(*verifier, canonical, sig);
    };
  return journal::log_verify_command(dir, out, opts);
}

static int log_prove_inclusion_unguarded(const fs::path& dir, uint64_t seq,
                                         std::optional<uint64_t> size, std::ostream& out) {
  const auto heads = signed_heads(dir);
  const uint64_t n = size ? *size : (!heads.empty() ? heads.back().size : record_count(dir));
  if (seq == 0 || seq > n)
    return refuse(out, "bad_argument", "seq must be 1.." + std::to_string(n) + " (the tree's size)",
                  2);
  auto tree = Tree::open(dir, n);
  if (!tree) return refuse(out, tree.error().code, tree.error().detail, 2);
  auto root = merkle::tree_hash(static_cast<int64_t>(n), tree->reader());
  auto proof =
      merkle::prove_record(static_cast<int64_t>(n), static_cast<int64_t>(seq - 1), tree->reader());
  if (!root || !proof) return refuse(out, "bad_argument", "cannot prove", 2);
  std::string record;
  (void)journal::files::for_each_line(dir, seq, [&](uint64_t, std::string_view l) {
    record = std::string(l);
    return false;
  });
  return print(out,
               {{"kind", "inclusion"},
                {"seq", seq},
                {"record", record},
                {"size", n},
                {"root", merkle::to_hex(*root)},
                {"proof", journal::heads::hex_list(*proof)},
                {"signed_head", head_of_size(heads, n)}},
               0);
}

static int log_prove_consistency_unguarded(const fs::path& dir, uint64_t from,
                                           std::optional<uint64_t> to, std::ostream& out) {
  const auto heads = signed_heads(dir);
  const uint64_t n = to ? *to : (!heads.empty() ? heads.back().size : record_count(dir));
  if (from == 0 || from > n)
    return refuse(out, "bad_argument", "from must be 1.." + std::to_string(n), 2);
  auto tree = Tree::open(dir, n);
  if (!tree) return refuse(out, tree.error().code, tree.error().detail, 2);
  auto root_m = merkle::tree_hash(static_cast<int64_t>(from), tree->reader());
  auto root_n = merkle::tree_hash(static_cast<int64_t>(n), tree->reader());
  auto proof =
      merkle::prove_tree(static_cast<int64_t>(n), static_cast<int64_t>(from), tree->reader());
  if (!root_m || !root_n || !proof) return refuse(out, "bad_argument", "cannot prove", 2);
  return print(
      out,
      {{"kind", "consistency"},
       {"from",
        {{"size", from},
         {"root", merkle::to_hex(*root_m)},
         {"signed_head", head_of_size(heads, from)}}},
       {"to",
        {{"size", n}, {"root", merkle::to_hex(*root_n)}, {"signed_head", head_of_size(heads, n)}}},
       {"proof", journal::heads::hex_list(*proof)}},
      0);
}

int check_proof(const fs::path& file, const pki::CmsVerifier& verifier, std::ostream& out) {
  return guarded(out, [&] {
    auto text = pki::read_file(file);
    if (!text) return refuse(out, "unreadable", text.error().detail, 2);
    json p = json::parse(*text, nullptr, false);
    if (!p.is_object()) return refuse(out, "malformed", file.string() + " is not a JSON object", 2);
    auto malformed = [&](const std::string& detail) { return refuse(out, "malformed", detail, 2); };
    auto bad = [&](const Error& e) { return refuse(out, e.code, e.detail, 1); };
    auto signed_head = [&](const json& obj) -> Result<json> {
      json sh = obj.contains("signed_head") ? obj["signed_head"] : json();
      if (Status s = check_signed_head_shape(sh); !s) return s.error();
      return sh;
    };
    const std::string kind = string_of(p, "kind");
    if (kind != "inclusion" && kind != "consistency")
      return malformed("kind must be inclusion or consistency");
    auto proof = journal::heads::unhex_list(p.contains("proof") ? p["proof"] : json());
    if (!proof) return malformed(proof.error().detail);
    if (kind == "inclusion") {
      const auto seq = uint_of(p, "seq"), size = uint_of(p, "size");
      auto root = merkle::from_hex(string_of(p, "root"));
      if (!seq || *seq == 0 || !size || !root || !p.contains("record") || !p["record"].is_string())
        return malformed("an inclusion proof needs seq, size, root (hex), record and proof");
      auto sh = signed_head(p);
      if (!sh) return malformed(sh.error().detail);
      // The record is a canonical, self-consistent log record of that seq.
      const std::string& record = p["record"].get_ref<const std::string&>();
      journal::Record rec;
      if (Status s = journal::check_record_line(record, &rec); !s)
        return bad({"bad_record", "the record is not a log record: " + s.error().detail});
      if (rec.seq != *seq)
        return bad({"bad_record", "the record is of seq " + std::to_string(rec.seq) + ", not " +
                                      std::to_string(*seq)});
      Status in = merkle::check_record(*proof, static_cast<int64_t>(*size), *root,
                                       static_cast<int64_t>(*seq - 1), merkle::leaf_hash(record));
      if (!in) return bad(in.error());
      if (Status s = check_signed_head(verifier, *sh, *size, merkle::to_hex(*root)); !s)
        return bad(s.error());
      return print(
          out, {{"ok", true}, {"kind", kind}, {"seq", *seq}, {"size", *size}, {"signed", true}}, 0);
    }
    const json f = p.contains("from") ? p["from"] : json();
    const json t = p.contains("to") ? p["to"] : json();
    auto rm = merkle::from_hex(string_of(f, "root"));
    auto rn = merkle::from_hex(string_of(t, "root"));
    const auto m = uint_of(f, "size"), n = uint_of(t, "size");
    if (!rm || !rn || !m || !n) return malformed("from and to need size and root (hex)");
    auto fh = signed_head(f), th = signed_head(t);
    if (!fh) return malformed(fh.error().detail);
    if (!th) return malformed(th.error().detail);
    Status c =
        merkle::check_tree(*proof, static_cast<int64_t>(*n), *rn, static_cast<int64_t>(*m), *rm);
    if (!c) return bad(c.error());
    // The newer tree must be one the system signed; the older one is checked when signed (any
    // size can be proved consistent, e.g. a root someone kept, and heads exist per batch only).
    if (!fh->is_null())
      if (Status s = check_signed_head(verifier, *fh, *m, merkle::to_hex(*rm)); !s)
        return bad(s.error());
    if (Status s = check_signed_head(verifier, *th, *n, merkle::to_hex(*rn)); !s)
      return bad(s.error());
    return print(
        out,
        {{"ok", true}, {"kind", kind}, {"from", *m}, {"to", *n}, {"from_signed", !fh->is_null()}},
        0);
  });
}

static int log_export_unguarded(const fs::path& dir, const fs::path& to,
                                const pki::CmsVerifier* verifier, std::ostream& out) {
  namespace files = journal::files;
  auto segs = files::list_segments(dir);
  std::error_code ec;
  fs::create_directories(to / files::kSegmentsDir, ec);
  if (ec) return refuse(out, "unwritable", to.string() + ": " + ec.message(), 2);
  uint64_t last_seq = 0;
  json copied = json::array(), present = json::array(), appended = json::array();
  auto write_new = [&](const fs::path& target, const std::string& data) -> Status {
    const fs::path tmp = target.string() + ".tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << data;
      if (!o.flush()) return Error{"unwritable", tmp.string()};
    }
    fs::rename(tmp, target, ec);
    if (ec) return Error{"unwritable", target.string() + ": " + ec.message()};
    copied.push_back(target.filename().string());
    return {};
  };
  auto copy = [&](const fs::path& from, const fs::path& target) -> Status {
    auto data = pki::read_file(from);
    if (!data) return Error{"unreadable", data.error().detail};
    if (fs::exists(target)) {
      auto there = pki::read_file(target);
      if (!there || *there != *data)
        return Error{"archive_conflict", target.string() +
                                             " exists with other content: an "
                                             "archive never changes"};
      present.push_back(target.filename().string());
      return {};
    }
    return write_new(target, *data);
  };
  for (const auto& s : segs) {
    auto seal = files::read_seal(s);
    if (!seal)
      return refuse(out, "unsealed", s.log.string() + " has no seal yet: run the server", 1);
    auto last = uint_of((*seal)["seal"], "last_seq");
    if (!last) return refuse(out, "bad_seal", s.seal.string() + " has no last_seq", 1);
    last_seq = *last;
    for (const auto& f : {s.log, s.seal})
      if (Status st = copy(f, to / files::kSegmentsDir / f.filename()); !st)
        return refuse(out, st.error().code, st.error().detail,
                      st.error().code == "unreadable" ? 2 : 1);
  }
  // The heads and co-signatures the archived records reach. These files grow: the archive's
  // copy must be a prefix of what the live log has now (the rest is appended); anything else is
  // a conflict, and the archive is left as it is.
  for (const char* name : {files::kHeadsFile, files::kCosignaturesFile}) {
    std::string kept;
    journal::heads::HeadsReader in(dir / name);
    for (journal::heads::HeadsReader::Line l; in.next(l);)
      if (l.head && l.head->size <= last_seq) kept += l.text + "\n";
    const fs::path target = to / name;
    if (!fs::exists(target)) {
      if (Status st = write_new(target, kept); !st)
        return refuse(out, st.error().code, st.error().detail, 2);
      continue;
    }
    auto there = pki::read_file(target);
    if (!there) return refuse(out, "unreadable", there.error().detail, 2);
    if (*there == kept) {
      present.push_back(name);
      continue;
    }
    if (kept.size() < there->size() || kept.compare(0, there->size(), *there) != 0)
      return refuse(
          out, "archive_conflict",
          target.string() + " is not a beginning of the live log's: an archive never changes", 1);
    std::ofstream o(target, std::ios::binary | std::ios::app);
    o << std::string_view(kept).substr(there->size());
    if (!o.flush()) return refuse(out, "unwritable", target.string(), 2);
    appended.push_back(name);
  }
  std::ostringstream report;
  const int code = log_verify(to, verifier, report);
  json verified = json::parse(report.str(), nullptr, false);
  return print(out,
               {{"ok", code == 0},
                {"archive", to.string()},
                {"segments", segs.size()},
                {"last_seq", last_seq},
                {"copied", copied},
                {"appended", appended},
                {"already_there", present},
                {"verify", verified}},
               code == 0 ? 0 : 1);
}

int verify_answer_seal(const fs::path& answer_file, const pki::CmsVerifier& verifier,
                       std::ostream& out) {
  return guarded(out, [&] {
    auto text = pki::read_file(answer_file);
    if (!text) return refuse(out, "unreadable", text.error().detail, 2);
    auto members = json_scan::object_members(*text);
    if (!members) return refuse(out, "malformed", "the answer is not a JSON object", 2);
    const json_scan::Member* seal = json_scan::find(*members, "seal");
    if (!seal) return refuse(out, "no_seal", "the answer carries no seal", 1);
    const json_scan::Member* data = json_scan::find(*members, "data");
    json seal_json = json::parse(seal->value, nullptr, false);
    Status s = verify_seal(verifier, seal_json,
                           data ? std::optional<std::string_view>(data->value) : std::nullopt);
    if (!s) return refuse(out, s.error().code, s.error().detail, 1);
    return print(out,
                 {{"ok", true},
                  {"log_seq", seal_json["leaf"]["log_seq"]},
                  {"request_id", string_of(seal_json["leaf"], "request_id")},
                  {"data_checked", data != nullptr},
                  {"sealed_at", string_of(seal_json["head"], "at_astana")}},
                 0);
  });
}

int log_prove_inclusion(const fs::path& dir, uint64_t seq, std::optional<uint64_t> size,
                        std::ostream& out) {
  return guarded(out, [&] { return log_prove_inclusion_unguarded(dir, seq, size, out); });
}

int log_prove_consistency(const fs::path& dir, uint64_t from, std::optional<uint64_t> to,
                          std::ostream& out) {
  return guarded(out, [&] { return log_prove_consistency_unguarded(dir, from, to, out); });
}

int log_export(const fs::path& dir, const fs::path& to, const pki::CmsVerifier* verifier,
               std::ostream& out) {
  return guarded(out, [&] { return log_export_unguarded(dir, to, verifier, out); });
}

}  // namespace aaj::evidence
