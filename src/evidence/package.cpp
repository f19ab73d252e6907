#include "evidence/package.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "evidence/evidence.h"
#include "journal/heads.h"
#include "journal/journal.h"
#include "journal/merkle.h"
#include "journal/segments.h"
#include "pki/certificate.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/openssl_util.h"
#include "pki/trust.h"

namespace aaj::evidence {
namespace {

namespace fs = std::filesystem;
namespace merkle = journal::merkle;
using nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<json> rebuild_seal(const fs::path& dir, uint64_t seq) {
  // The signed head whose batch holds the record.
  json found;
  {
    std::ifstream in(dir / journal::files::kHeadsFile, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("head")) continue;
      const json& b = j["head"].value("batch", json::object());
      if (b.value("first_seq", uint64_t{0}) <= seq && seq <= b.value("last_seq", uint64_t{0})) {
        found = std::move(j);
        break;
      }
    }
  }
  if (found.is_null())
    return Error{"not_sealed", "no signed head covers record " + std::to_string(seq)};
  const json& head = found["head"];
  const auto first = head["batch"]["first_seq"].get<uint64_t>();
  const auto last = head["batch"]["last_seq"].get<uint64_t>();
  merkle::MemoryHashStore batch;
  json leaf;
  Status err;
  Status walk = journal::files::for_each_line(dir, first, [&](uint64_t s, std::string_view line) {
    if (s > last) return false;
    auto r = json::parse(line, nullptr, false);
    if (!r.is_object()) {
      err = Error{"journal_corrupt", "record " + std::to_string(s) + " is not JSON"};
      return false;
    }
    json l = journal::heads::seal_leaf(s, r.value("hash", std::string()), r["body"].dump());
    if (s == seq) leaf = l;
    err = batch.append_record(merkle::leaf_hash(l.dump()));
    return err.ok();
  });
  if (!walk) return walk.error();
  if (!err) return err.error();
  if (static_cast<uint64_t>(batch.records()) != last - first + 1)
    return Error{"journal_unavailable", "the batch's records are not all in the log"};
  auto proof = merkle::prove_record(static_cast<int64_t>(last - first + 1),
                                    static_cast<int64_t>(seq - first), batch);
  if (!proof) return proof.error();
  return json{{"head", head},
              {"leaf", leaf},
              {"proof", journal::heads::hex_list(*proof)},
              {"signature", found["signature"]}};
}

Result<std::vector<std::string>> request_records(const fs::path& dir, uint64_t seq,
                                                 const std::string& request_id, uint64_t window) {
  std::vector<std::string> out;
  Status walk = journal::files::for_each_line(dir, seq, [&](uint64_t s, std::string_view line) {
    if (s > seq + window) return false;
    auto r = json::parse(line, nullptr, false);
    if (!r.is_object()) return true;
    const std::string type = r.value("type", std::string());
    const json& body = r.value("body", json::object());
    if (s == seq) {
      if (type != "data_request" || body.value("request_id", std::string()) != request_id)
        return false;
      out.emplace_back(line);
      return true;
    }
    if (type == "resource_answer" && body.value("request_id", std::string()) == request_id)
      out.emplace_back(line);
    return true;
  });
  if (!walk) return walk.error();
  if (out.empty())
    return Error{"record_unknown",
                 "record " + std::to_string(seq) + " is not request " + request_id + "'s"};
  return out;
}

json make_package(const PackageParts& p) {
  json records = json::array();
  for (size_t i = 0; i < p.record_lines.size(); ++i)
    records.push_back({{"line", p.record_lines[i]},
                       {"seal", i < p.seals.size() ? p.seals[i] : json(nullptr)},
                       {"inclusion", i < p.inclusions.size() ? p.inclusions[i] : json(nullptr)}});
  json answers = json::array();
  for (const auto& a : p.answers)
    answers.push_back({{"resource", a.resource},
                       {"data", a.data ? json(*a.data) : json(nullptr)},
                       {"sha256", a.sha256},
                       {"destroyed", a.destroyed}});
  return {
      {"format", "aaj-evidence/1"},   {"request_id", p.request_id},         {"records", records},
      {"answers", answers},           {"certificates", p.certificates_pem}, {"crls", p.crls_pem},
      {"exported_at", p.exported_at}, {"exported_by", p.exported_by}};
}

int verify_evidence(const fs::path& file, const std::vector<fs::path>& trust, std::ostream& out) {
  auto print = [&out](const json& j, int code) {
    out << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return code;
  };
  json report = {{"ok", false}, {"file", file.string()}};
  auto fail = [&](const std::string& what, const std::string& detail) {
    report["problem"] = what;
    report["detail"] = detail;
    return print(report, 1);
  };
  json pkg = json::parse(slurp(file), nullptr, false);
  if (!pkg.is_object() || pkg.value("format", std::string()) != "aaj-evidence/1")
    return print({{"ok", false}, {"problem", "not an aaj evidence package"}}, 2);
  pki::init_openssl();
  auto anchors = pki::TrustStore::load(trust);
  if (!anchors) return print({{"ok", false}, {"problem", anchors.error().detail}}, 2);
  // The package's CRLs are revocation evidence: verified like any CRL (against the anchors).
  std::shared_ptr<const pki::CrlStore> crls;
  std::vector<fs::path> crl_files;
  char tmpl[] = "/tmp/aaj-evidence-XXXXXX";
  fs::path tmp = ::mkdtemp(tmpl) ? fs::path(tmpl) : fs::path();
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      if (!p.empty()) fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  int n = 0;
  for (const auto& c : pkg.value("crls", json::array()))
    if (c.is_string() && !tmp.empty()) {
      crl_files.push_back(tmp / ("crl-" + std::to_string(n++) + ".pem"));
      std::ofstream(crl_files.back(), std::ios::binary) << c.get<std::string>();
    }
  if (!crl_files.empty()) {
    auto c = pki::CrlStore::from_files(crl_files, *anchors);
    if (c) crls = *c;
  }
  pki::CmsVerifier verifier(*anchors, crls);

  const json& records = pkg.value("records", json::array());
  const json& answers = pkg.value("answers", json::array());
  if (!records.is_array() || records.empty()) return fail("records", "the package has no records");
  json checked_records = json::array();
  journal::Record main;
  for (size_t i = 0; i < records.size(); ++i) {
    const json& e = records[i];
    const std::string line = e.value("line", std::string());
    journal::Record rec;
    if (Status s = journal::check_record_line(line, &rec); !s)
      return fail("record " + std::to_string(i), s.error().detail);
    if (i == 0) {
      if (rec.type != "data_request" ||
          rec.body.value("request_id", std::string()) != pkg.value("request_id", std::string()))
        return fail("record 0", "not the data_request record of the package's request");
      main = rec;
    } else if (rec.type != "resource_answer" ||
               rec.body.value("request_id", std::string()) != main.body["request_id"]) {
      return fail("record " + std::to_string(i), "not a resource_answer of the request");
    }
    // The seal: of this record, over the batch, signed by the system.
    const json& seal = e.value("seal", json());
    json leaf = journal::heads::seal_leaf(rec.seq, rec.hash, rec.body.dump());
    if (!seal.is_object() || seal.value("leaf", json()) != leaf)
      return fail("seal of record " + std::to_string(rec.seq), "the seal is not this record's");
    if (Status s = verify_seal(verifier, seal, ""); !s)
      return fail("seal of record " + std::to_string(rec.seq), s.error().detail);
    // Its place in the whole log, under a signed head.
    const json& inc = e.value("inclusion", json());
    auto root = merkle::from_hex(inc.value("root", std::string()));
    const auto size = inc.value("size", uint64_t{0});
    std::vector<merkle::Hash> proof;
    for (const auto& h : inc.value("proof", json::array())) {
      auto v = h.is_string() ? merkle::from_hex(h.get<std::string>()) : std::nullopt;
      if (!v) return fail("inclusion of record " + std::to_string(rec.seq), "a bad hash");
      proof.push_back(*v);
    }
    if (!root) return fail("inclusion of record " + std::to_string(rec.seq), "no root");
    if (Status s = merkle::check_record(proof, static_cast<int64_t>(size), *root,
                                        static_cast<int64_t>(rec.seq - 1), merkle::leaf_hash(line));
        !s)
      return fail("inclusion of record " + std::to_string(rec.seq), s.error().detail);
    const json& sh = inc.value("signed_head", json());
    if (!sh.is_object() || sh["head"].value("size", uint64_t{0}) != size ||
        sh["head"].value("root", std::string()) != merkle::to_hex(*root))
      return fail("inclusion of record " + std::to_string(rec.seq),
                  "the signed head is missing or of another tree");
    if (Status s = check_system_signature(verifier, sh["head"].dump(),
                                          sh.value("signature", std::string()));
        !s)
      return fail("signed head of size " + std::to_string(size), s.error().detail);
    checked_records.push_back({{"seq", rec.seq},
                               {"type", rec.type},
                               {"logged_at", rec.at_astana},
                               {"sealed_at", seal["head"].value("at_astana", std::string())},
                               {"tree_size", size}});
  }

  // The signed request: the officer's own signature over the document the log holds.
  const json& body = main.body;
  const std::string cms = body.value("cms", std::string());
  const json& doc = body.value("document", json());
  auto signed_at = time::parse_iso8601(doc.value("signed_at", std::string()));
  if (cms.empty() || !signed_at)
    return fail("signed request", "the record holds no signed request and document");
  pki::VerifyResult v = verifier.verify(cms, {*signed_at, pki::Usage::Signing, crls != nullptr});
  if (!v.valid) return fail("signed request", v.reason + ": " + v.detail);
  if (json::parse(v.content, nullptr, false) != doc)
    return fail("signed request", "the signed content is not the logged document");
  if (pki::sha256_hex(*pki::decode_der_or_base64(cms)) != body.value("cms_sha256", std::string()))
    return fail("signed request", "cms_sha256 does not match the signed request");
  const json& user = body.value("user", json::object());
  const bool system_request = body.contains("system") && body["system"].is_object();
  if (!system_request && v.signer.iin != user.value("iin", std::string()))
    return fail("signed request", "signed by IIN " + v.signer.iin + ", the user is " +
                                      user.value("iin", std::string()));

  // The answers: the bytes the officer received, as the log hashed them.
  json checked_answers = json::array();
  for (const auto& a : answers) {
    const std::string resource = a.value("resource", std::string());
    std::string logged;
    for (size_t i = 0; i < records.size(); ++i) {
      journal::Record rec;
      (void)journal::check_record_line(records[i].value("line", std::string()), &rec);
      const bool single = i == 0 && records.size() == 1;
      if (single || rec.body.value("resource", std::string()) == resource)
        logged = rec.body.value("answer_sha256", std::string());
    }
    if (a["data"].is_string()) {
      const std::string digest = pki::sha256_hex(a["data"].get<std::string>());
      if (digest != logged)
        return fail("answer " + resource, "its SHA-256 is not the logged answer_sha256");
      checked_answers.push_back({{"resource", resource}, {"data_checked", true}});
    } else {
      checked_answers.push_back({{"resource", resource},
                                 {"data_checked", false},
                                 {"destroyed", a.value("destroyed", json())}});
    }
  }
  report = {{"ok", true},
            {"request_id", pkg["request_id"]},
            {"records", checked_records},
            {"signed_request",
             {{"signer", {{"iin", v.signer.iin}, {"name", v.signer.common_name}}},
              {"signed_at", doc.value("signed_at", std::string())},
              {"revocation", v.revocation}}},
            {"policy", body.value("policy", json())},
            {"document", doc},
            {"answers", checked_answers}};
  return print(report, 0);
}

}  // namespace aaj::evidence
