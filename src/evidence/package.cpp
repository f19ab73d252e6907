#include "evidence/package.h"

#include <algorithm>
#include <set>

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

// The types of a package's members (values are checked by verify_evidence). Error "malformed".
Status check_shape(const json& pkg) {
  auto bad = [](const std::string& what) { return Error{"malformed", what}; };
  auto opt = [](const json& o, const char* k, auto is) { return !o.contains(k) || is(o[k]); };
  auto object_or_null = [](const json& v) { return v.is_object() || v.is_null(); };
  auto strings = [](const json& v) {
    return v.is_array() &&
           std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
  };
  if (!pkg.contains("request_id") || !pkg["request_id"].is_string())
    return bad("request_id is not a string");
  if (!pkg.contains("records") || !pkg["records"].is_array()) return bad("records is not a list");
  for (const auto& r : pkg["records"]) {
    if (!r.is_object() || !r.contains("line") || !r["line"].is_string())
      return bad("a record is not {line, seal, inclusion}");
    if (!opt(r, "seal", object_or_null) || !opt(r, "inclusion", object_or_null))
      return bad("a record's seal or inclusion is not an object");
    if (!r.contains("inclusion") || r["inclusion"].is_null()) continue;
    const json& inc = r["inclusion"];
    if (!opt(inc, "size", [](const json& v) { return v.is_number_unsigned(); }) ||
        !opt(inc, "root", [](const json& v) { return v.is_string(); }) ||
        !opt(inc, "proof", strings) || !opt(inc, "signed_head", object_or_null))
      return bad("an inclusion is not {size, root, proof, signed_head}");
  }
  if (!opt(pkg, "answers", [](const json& v) { return v.is_array(); }))
    return bad("answers is not a list");
  for (const auto& a : pkg.value("answers", json::array()))
    if (!a.is_object() || !a.contains("resource") || !a["resource"].is_string() ||
        !opt(a, "data", [](const json& v) { return v.is_string() || v.is_null(); }) ||
        !opt(a, "sha256", [](const json& v) { return v.is_string(); }) ||
        !opt(a, "destroyed", object_or_null))
      return bad("an answer is not {resource, data, sha256, destroyed}");
  if (!opt(pkg, "crls", strings) || !opt(pkg, "certificates", strings))
    return bad("crls and certificates are not lists of strings");
  return {};
}

// A CRL rejected for one of these was damaged or forged in the package: the package fails.
bool crl_damaged(const std::string& reason) {
  return reason == "empty" || reason == "corrupt" || reason == "bad_signature";
}

}  // namespace

Result<json> rebuild_seal(const fs::path& dir, uint64_t seq) {
  // The signed head whose batch holds the record.
  std::optional<journal::heads::HeadLine> found;
  journal::heads::HeadsReader in(dir / journal::files::kHeadsFile);
  for (journal::heads::HeadsReader::Line l; in.next(l);)
    if (l.head && l.head->is_signed() && l.head->batch && l.head->batch->first <= seq &&
        seq <= l.head->batch->second) {
      found = std::move(l.head);
      break;
    }
  if (!found) return Error{"not_sealed", "no signed head covers record " + std::to_string(seq)};
  // first <= seq <= last: the batch holds at least this record.
  const uint64_t first = found->batch->first, last = found->batch->second;
  merkle::MemoryHashStore batch;
  json leaf;
  Status err;
  Status walk = journal::files::for_each_line(dir, first, [&](uint64_t s, std::string_view line) {
    if (s > last) return false;
    auto r = json::parse(line, nullptr, false);
    if (!r.is_object() || !r.contains("hash") || !r["hash"].is_string() || !r.contains("body") ||
        !r["body"].is_object()) {
      err = Error{"journal_corrupt", "record " + std::to_string(s) + " is not a log record"};
      return false;
    }
    json l = journal::heads::seal_leaf(s, r["hash"].get<std::string>(), r["body"].dump());
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
  return json{{"head", found->head()},
              {"leaf", leaf},
              {"proof", journal::heads::hex_list(*proof)},
              {"signature", found->value["signature"]}};
}

Result<std::vector<std::string>> request_records(const fs::path& dir,
                                                 const std::vector<uint64_t>& seqs,
                                                 const std::string& request_id, uint64_t window) {
  if (seqs.empty() || request_id.empty())
    return Error{"record_unknown", "no record of request " + request_id + " is named"};
  const std::set<uint64_t> wanted(seqs.begin(), seqs.end());
  const uint64_t lo = *wanted.begin(), hi = *wanted.rbegin();
  std::set<uint64_t> seen;
  std::string main;
  std::vector<std::string> answers;
  size_t expected_answers = 0;
  Status walk = journal::files::for_each_line(
      dir, lo > window ? lo - window : 1, [&](uint64_t s, std::string_view line) {
        if (s > hi + window) return false;
        if (line.find(request_id) != std::string_view::npos) {
          auto r = json::parse(line, nullptr, false);
          const json body = r.is_object() && r.contains("body") ? r["body"] : json();
          const std::string type = string_of(r, "type");
          if (string_of(body, "request_id") == request_id) {
            if (type == "data_request" && main.empty()) {
              main = std::string(line);
              if (body.contains("resources") && body["resources"].is_array())
                expected_answers = body["resources"].size();
              seen.insert(s);
            } else if (type == "resource_answer") {
              answers.emplace_back(line);
              seen.insert(s);
            }
          }
        }
        // Everything found: the request's record, its answers, every seq asked about.
        return !(s >= hi && !main.empty() && answers.size() >= expected_answers);
      });
  if (!walk) return walk.error();
  for (uint64_t s : wanted)
    if (!seen.count(s))
      return Error{"record_unknown",
                   "record " + std::to_string(s) + " is not request " + request_id + "'s"};
  if (main.empty())
    return Error{"record_unknown", "no data_request record of request " + request_id};
  std::vector<std::string> out;
  out.reserve(answers.size() + 1);
  out.push_back(std::move(main));
  for (auto& a : answers) out.push_back(std::move(a));
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
  auto unusable = [&](const std::string& problem) {
    return print({{"ok", false}, {"file", file.string()}, {"problem", problem}}, 2);
  };
  try {
    auto text = pki::read_file(file);
    if (!text) return unusable(text.error().detail);
    json pkg = json::parse(*text, nullptr, false);
    if (!pkg.is_object() || string_of(pkg, "format") != "aaj-evidence/1")
      return print({{"ok", false}, {"problem", "not an aaj evidence package"}}, 2);
    if (Status s = check_shape(pkg); !s) return unusable("malformed package: " + s.error().detail);
    const std::string request_id = pkg["request_id"].get<std::string>();
    pki::init_openssl();
    auto anchors = pki::TrustStore::load(trust);
    if (!anchors) return unusable(anchors.error().detail);
    // The package's CRLs are revocation evidence: verified like any CRL (against the anchors),
    // from the package's bytes. One that was damaged fails the package; the others not used are
    // reported.
    std::shared_ptr<const pki::CrlStore> crls;
    json crl_report = {{"held", 0}, {"rejected", json::array()}};
    std::vector<std::pair<std::string, std::string>> crl_bytes;
    for (const auto& c : pkg.value("crls", json::array()))
      crl_bytes.emplace_back("crls[" + std::to_string(crl_bytes.size()) + "]",
                             c.get<std::string>());
    if (!crl_bytes.empty()) {
      auto c = pki::CrlStore::from_bytes(std::move(crl_bytes), *anchors);
      if (!c) return unusable(c.error().detail);
      const json r = (*c)->last_report();
      for (const auto& rej : r["rejected"])
        if (crl_damaged(string_of(rej, "reason")))
          return fail("crl " + string_of(rej, "file"),
                      string_of(rej, "reason") + ": " + string_of(rej, "detail"));
      crl_report = {{"held", r["held"].size()}, {"rejected", r["rejected"]}};
      crls = *c;
    }
    pki::CmsVerifier verifier(*anchors, crls);

    const json& records = pkg["records"];
    if (records.empty()) return fail("records", "the package has no records");
    json checked_records = json::array();
    std::vector<journal::Record> recs;  // each record decoded once
    for (size_t i = 0; i < records.size(); ++i) {
      const json& e = records[i];
      const std::string& line = e["line"].get_ref<const std::string&>();
      journal::Record rec;
      if (Status s = journal::check_record_line(line, &rec); !s)
        return fail("record " + std::to_string(i), s.error().detail);
      if (i == 0) {
        if (rec.type != "data_request" || string_of(rec.body, "request_id") != request_id)
          return fail("record 0", "not the data_request record of the package's request");
      } else if (rec.type != "resource_answer" || string_of(rec.body, "request_id") != request_id) {
        return fail("record " + std::to_string(i), "not a resource_answer of the request");
      }
      const std::string of_record = " of record " + std::to_string(rec.seq);
      // The seal: of this record, over the batch, signed by the system.
      const json seal = e.contains("seal") ? e["seal"] : json();
      const json leaf = journal::heads::seal_leaf(rec.seq, rec.hash, rec.body.dump());
      if (!seal.is_object() || !seal.contains("leaf") || seal["leaf"] != leaf)
        return fail("seal" + of_record, "the seal is not this record's");
      if (Status s = verify_record_seal(verifier, seal); !s)
        return fail("seal" + of_record, s.error().detail);
      // Its place in the whole log, under a signed head.
      const json inc = e.contains("inclusion") ? e["inclusion"] : json();
      if (!inc.is_object()) return fail("inclusion" + of_record, "no inclusion proof");
      auto root = merkle::from_hex(string_of(inc, "root"));
      const uint64_t size = uint_of(inc, "size").value_or(0);
      auto proof = journal::heads::unhex_list(inc.contains("proof") ? inc["proof"] : json::array());
      if (!proof) return fail("inclusion" + of_record, "a bad hash");
      if (!root) return fail("inclusion" + of_record, "no root");
      if (Status s =
              merkle::check_record(*proof, static_cast<int64_t>(size), *root,
                                   static_cast<int64_t>(rec.seq - 1), merkle::leaf_hash(line));
          !s)
        return fail("inclusion" + of_record, s.error().detail);
      const json sh = inc.contains("signed_head") ? inc["signed_head"] : json();
      if (Status s = check_signed_head(verifier, sh, size, merkle::to_hex(*root)); !s)
        return s.error().code == "bad_signature"
                   ? fail("signed head of size " + std::to_string(size), s.error().detail)
                   : fail("inclusion" + of_record,
                          "the signed head is missing or of another tree: " + s.error().detail);
      checked_records.push_back({{"seq", rec.seq},
                                 {"type", rec.type},
                                 {"logged_at", rec.at_astana},
                                 {"sealed_at", string_of(seal["head"], "at_astana")},
                                 {"tree_size", size}});
      recs.push_back(std::move(rec));
    }

    // The signed request: the officer's own signature over the document the log holds.
    const json& body = recs[0].body;
    const std::string cms = string_of(body, "cms");
    const json doc = body.contains("document") ? body["document"] : json();
    auto signed_at = time::parse_iso8601(string_of(doc, "signed_at"));
    if (cms.empty() || !doc.is_object() || !signed_at)
      return fail("signed request", "the record holds no signed request and document");
    pki::VerifyResult v = verifier.verify(cms, {*signed_at, pki::Usage::Signing, crls != nullptr});
    if (!v.valid) return fail("signed request", v.reason + ": " + v.detail);
    if (json::parse(v.content, nullptr, false) != doc)
      return fail("signed request", "the signed content is not the logged document");
    auto der = pki::decode_der_or_base64(cms);
    if (!der || pki::sha256_hex(*der) != string_of(body, "cms_sha256"))
      return fail("signed request", "cms_sha256 does not match the signed request");
    const std::string user_iin = string_of(body.contains("user") ? body["user"] : json(), "iin");
    const bool system_request = body.contains("system") && body["system"].is_object();
    if (!system_request && v.signer.iin != user_iin)
      return fail("signed request", "signed by IIN " + v.signer.iin + ", the user is " + user_iin);

    // The answers: the bytes the officer received, as the log hashed them. Every answer a record
    // logged (answer_sha256) is in the package, with its bytes or with its destruction.
    struct Logged {
      std::string resource;  // "" for the one answer of a single-resource request
      std::string sha256;
      bool held = false;
    };
    std::vector<Logged> logged;
    if (recs.size() == 1) {
      if (const std::string sha = string_of(body, "answer_sha256"); !sha.empty())
        logged.push_back({"", sha});
    } else {
      for (size_t i = 1; i < recs.size(); ++i)
        if (const std::string sha = string_of(recs[i].body, "answer_sha256"); !sha.empty())
          logged.push_back({string_of(recs[i].body, "resource"), sha});
    }
    json checked_answers = json::array();
    for (const auto& a : pkg.value("answers", json::array())) {
      const std::string resource = a["resource"].get<std::string>();
      auto it = std::find_if(logged.begin(), logged.end(), [&](const Logged& l) {
        return !l.held && (l.resource.empty() || l.resource == resource);
      });
      if (it == logged.end())
        return fail("answer " + resource, "no record of the request logged this answer");
      it->held = true;
      if (const std::string sha = string_of(a, "sha256"); !sha.empty() && sha != it->sha256)
        return fail("answer " + resource, "its sha256 is not the logged answer_sha256");
      if (a.contains("data") && a["data"].is_string()) {
        if (pki::sha256_hex(a["data"].get<std::string>()) != it->sha256)
          return fail("answer " + resource, "its SHA-256 is not the logged answer_sha256");
        checked_answers.push_back({{"resource", resource}, {"data_checked", true}});
      } else if (a.contains("destroyed") && a["destroyed"].is_object()) {
        checked_answers.push_back(
            {{"resource", resource}, {"data_checked", false}, {"destroyed", a["destroyed"]}});
      } else {
        return fail("answer " + resource,
                    "the answer's bytes are missing and the package records no destruction");
      }
    }
    for (const auto& l : logged)
      if (!l.held)
        return fail("answer " + (l.resource.empty() ? std::string("of the request") : l.resource),
                    "the log records an answer (answer_sha256 " + l.sha256 +
                        ") that the package does not hold, nor its destruction");
    report = {{"ok", true},
              {"request_id", request_id},
              {"records", checked_records},
              {"signed_request",
               {{"signer", {{"iin", v.signer.iin}, {"name", v.signer.common_name}}},
                {"signed_at", string_of(doc, "signed_at")},
                {"revocation", v.revocation}}},
              {"policy", body.contains("policy") ? body["policy"] : json()},
              {"document", doc},
              {"answers", checked_answers},
              {"crls", crl_report}};
    return print(report, 0);
  } catch (const json::exception& e) {
    return unusable(std::string("malformed package: ") + e.what());
  }
}

}  // namespace aaj::evidence
