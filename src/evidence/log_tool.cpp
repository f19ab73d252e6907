#include "evidence/log_tool.h"

#include <fstream>
#include <sstream>

#include "core/json_scan.h"
#include "evidence/evidence.h"
#include "journal/journal.h"
#include "journal/merkle.h"
#include "journal/segments.h"
#include "journal/tree.h"
#include "pki/crl.h"
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

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

// Signed heads of heads.log, in order.
std::vector<json> signed_heads(const fs::path& dir) {
  std::vector<json> out;
  std::ifstream in(dir / journal::files::kHeadsFile, std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("head") && j["head"].is_object()) out.push_back(std::move(j));
  }
  return out;
}

json head_of_size(const std::vector<json>& heads, uint64_t size) {
  for (const auto& h : heads)
    if (h["head"].value("size", uint64_t{0}) == size) return h;
  return nullptr;
}

std::vector<std::string> hexes(const std::vector<merkle::Hash>& v) {
  std::vector<std::string> out;
  for (const auto& h : v) out.push_back(merkle::to_hex(h));
  return out;
}

Result<std::vector<merkle::Hash>> unhex_list(const json& list) {
  if (!list.is_array()) return Error{"malformed", "proof is not a list"};
  std::vector<merkle::Hash> out;
  for (const auto& h : list) {
    auto v = h.is_string() ? merkle::from_hex(h.get<std::string>()) : std::nullopt;
    if (!v) return Error{"malformed", "a proof hash is not 64 hex characters"};
    out.push_back(*v);
  }
  return out;
}

// A signed head, when present, must be of this size and root and signed by the system.
Status check_signed_head(const pki::CmsVerifier& verifier, const json& signed_head, uint64_t size,
                         const std::string& root) {
  if (signed_head.is_null()) return {};
  if (!signed_head.is_object() || !signed_head.contains("head") ||
      !signed_head.contains("signature") || !signed_head["signature"].is_string())
    return Error{"malformed", "signed_head is not {head, signature}"};
  const json& h = signed_head["head"];
  if (h.value("size", uint64_t{0}) != size || h.value("root", std::string()) != root)
    return Error{"bad_proof", "the signed head is of another size or root"};
  return check_system_signature(verifier, h.dump(), signed_head["signature"].get<std::string>());
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

int log_prove_inclusion(const fs::path& dir, uint64_t seq, std::optional<uint64_t> size,
                        std::ostream& out) {
  const auto heads = signed_heads(dir);
  const uint64_t n =
      size ? *size
           : (!heads.empty() ? heads.back()["head"].value("size", uint64_t{0}) : record_count(dir));
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
                {"proof", hexes(*proof)},
                {"signed_head", head_of_size(heads, n)}},
               0);
}

int log_prove_consistency(const fs::path& dir, uint64_t from, std::optional<uint64_t> to,
                          std::ostream& out) {
  const auto heads = signed_heads(dir);
  const uint64_t n =
      to ? *to
         : (!heads.empty() ? heads.back()["head"].value("size", uint64_t{0}) : record_count(dir));
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
       {"proof", hexes(*proof)}},
      0);
}

int check_proof(const fs::path& file, const pki::CmsVerifier& verifier, std::ostream& out) {
  json p = json::parse(slurp(file), nullptr, false);
  if (!p.is_object()) return refuse(out, "malformed", file.string() + " is not JSON", 2);
  auto bad = [&](const Error& e) { return refuse(out, e.code, e.detail, 1); };
  const std::string kind = p.value("kind", std::string());
  auto proof = unhex_list(p.value("proof", json()));
  if (!proof) return bad(proof.error());
  if (kind == "inclusion") {
    const auto seq = p.value("seq", uint64_t{0}), size = p.value("size", uint64_t{0});
    auto root = merkle::from_hex(p.value("root", std::string()));
    const std::string record = p.value("record", std::string());
    if (!root || seq == 0) return bad({"malformed", "seq, root and record are required"});
    // The record is a canonical, self-consistent log record of that seq.
    json rec = json::parse(record, nullptr, false);
    if (!rec.is_object() || rec.value("seq", uint64_t{0}) != seq)
      return bad({"bad_proof", "the record is not the log record of seq " + std::to_string(seq)});
    Status in = merkle::check_record(*proof, static_cast<int64_t>(size), *root,
                                     static_cast<int64_t>(seq - 1), merkle::leaf_hash(record));
    if (!in) return bad(in.error());
    if (Status s = check_signed_head(verifier, p.value("signed_head", json()), size,
                                     merkle::to_hex(*root));
        !s)
      return bad(s.error());
    return print(out,
                 {{"ok", true},
                  {"kind", kind},
                  {"seq", seq},
                  {"size", size},
                  {"signed", !p.value("signed_head", json()).is_null()}},
                 0);
  }
  if (kind == "consistency") {
    const json& f = p.value("from", json::object());
    const json& t = p.value("to", json::object());
    auto rm = merkle::from_hex(f.value("root", std::string()));
    auto rn = merkle::from_hex(t.value("root", std::string()));
    const auto m = f.value("size", uint64_t{0}), n = t.value("size", uint64_t{0});
    if (!rm || !rn) return bad({"malformed", "from and to need size and root"});
    Status c =
        merkle::check_tree(*proof, static_cast<int64_t>(n), *rn, static_cast<int64_t>(m), *rm);
    if (!c) return bad(c.error());
    if (Status s =
            check_signed_head(verifier, f.value("signed_head", json()), m, merkle::to_hex(*rm));
        !s)
      return bad(s.error());
    if (Status s =
            check_signed_head(verifier, t.value("signed_head", json()), n, merkle::to_hex(*rn));
        !s)
      return bad(s.error());
    return print(out, {{"ok", true}, {"kind", kind}, {"from", m}, {"to", n}}, 0);
  }
  return bad({"malformed", "kind must be inclusion or consistency"});
}

int log_export(const fs::path& dir, const fs::path& to, const pki::CmsVerifier* verifier,
               std::ostream& out) {
  namespace files = journal::files;
  auto segs = files::list_segments(dir);
  std::error_code ec;
  fs::create_directories(to / files::kSegmentsDir, ec);
  if (ec) return refuse(out, "unwritable", to.string() + ": " + ec.message(), 2);
  uint64_t last_seq = 0;
  json copied = json::array(), present = json::array();
  auto copy = [&](const fs::path& from, const fs::path& target) -> Status {
    std::string data = slurp(from);
    if (fs::exists(target)) {
      if (slurp(target) != data)
        return Error{"archive_conflict", target.string() +
                                             " exists with other content: an "
                                             "archive never changes"};
      present.push_back(target.filename().string());
      return {};
    }
    const fs::path tmp = target.string() + ".tmp";
    { std::ofstream(tmp, std::ios::binary | std::ios::trunc) << data; }
    fs::rename(tmp, target, ec);
    if (ec) return Error{"unwritable", target.string() + ": " + ec.message()};
    copied.push_back(target.filename().string());
    return {};
  };
  for (const auto& s : segs) {
    auto seal = files::read_seal(s);
    if (!seal)
      return refuse(out, "unsealed", s.log.string() + " has no seal yet: run the server", 1);
    last_seq = (*seal)["seal"].value("last_seq", uint64_t{0});
    for (const auto& f : {s.log, s.seal})
      if (Status st = copy(f, to / files::kSegmentsDir / f.filename()); !st)
        return refuse(out, st.error().code, st.error().detail, 1);
  }
  // The heads and co-signatures the archived records reach.
  for (const char* name : {files::kHeadsFile, files::kCosignaturesFile}) {
    std::string kept;
    std::ifstream in(dir / name, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("head") && j["head"].value("size", uint64_t{0}) <= last_seq)
        kept += line + "\n";
    }
    const fs::path target = to / name;
    { std::ofstream(target, std::ios::binary | std::ios::trunc) << kept; }
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
                {"already_there", present},
                {"verify", verified}},
               code == 0 ? 0 : 1);
}

int verify_answer_seal(const fs::path& answer_file, const pki::CmsVerifier& verifier,
                       std::ostream& out) {
  const std::string text = slurp(answer_file);
  auto members = json_scan::object_members(text);
  if (!members) return refuse(out, "malformed", "the answer is not a JSON object", 2);
  const json_scan::Member* seal = json_scan::find(*members, "seal");
  if (!seal) return refuse(out, "no_seal", "the answer carries no seal", 1);
  const json_scan::Member* data = json_scan::find(*members, "data");
  json seal_json = json::parse(seal->value, nullptr, false);
  Status s = verify_seal(verifier, seal_json, data ? data->value : std::string_view());
  if (!s) return refuse(out, s.error().code, s.error().detail, 1);
  return print(out,
               {{"ok", true},
                {"log_seq", seal_json["leaf"]["log_seq"]},
                {"request_id", seal_json["leaf"].value("request_id", std::string())},
                {"data_checked", data != nullptr},
                {"sealed_at", seal_json["head"].value("at_astana", std::string())}},
               0);
}

}  // namespace aaj::evidence
