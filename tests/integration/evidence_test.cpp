// The event log as evidence, end to end (docs/journal-format.md): real `aaj serve`,
// `aaj sourcesim` and `aaj witness` processes on loopback. Every answer and refusal carries a
// seal that `aaj verify-seal` checks offline; `aaj log prove` / `check-proof`; segments sealed as
// they fill, exported and verified as an archive; the witness co-signs and catches a rewritten
// history; a server killed mid-load loses no acknowledged record.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "client/client.h"
#include "core/ids.h"
#include "harness.h"
#include "pki/openssl_util.h"

namespace fs = std::filesystem;
using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;

namespace {

const json kCriminal = {{"type", "criminal_case"}, {"number", "251234567890123"}};
const std::string kPurpose = "Проверка по уголовному делу / қылмыстық іс бойынша тексеру";

std::string subject_iin(int n = 1) {
  for (int s = n;; ++s)
    if (auto i = aaj::ids::make_iin(1986, 4, 17, true, s)) return *i;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

struct Officer {
  std::unique_ptr<aaj::client::ApiClient> api;
  std::string token;
  std::shared_ptr<aaj::client::Signer> key;
};

Officer enter(Installation& inst, const std::string& user_type = "prosecutor") {
  Officer o;
  o.api = inst.api();
  const json& u = inst.user(user_type);
  o.token = inst.enter(*o.api, u);
  o.key = inst.sign_key(u);
  return o;
}

aaj::client::HttpResult ask(Officer& o, const std::string& resource = "R01", int who = 1,
                            const json& ground = kCriminal) {
  auto r = aaj::client::send_request(
      *o.api, o.token, *o.key,
      aaj::client::make_document(resource, ground, {{"iin", subject_iin(who)}}, kPurpose));
  if (!r) throw std::runtime_error("transport: " + r.error().detail);
  return *r;
}

json journal_records(const Installation& inst) {
  json out = json::array();
  std::vector<fs::path> files;
  fs::path dir = inst.dir() / "data/journal";
  if (fs::exists(dir / "segments"))
    for (const auto& e : fs::directory_iterator(dir / "segments"))
      if (e.path().extension() == ".log") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  files.push_back(dir / "journal.log");
  for (const auto& f : files) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  }
  return out;
}

json healthz(const Installation& inst) {
  auto h = inst.api()->get("/healthz");
  return h ? h->body : json();
}

// Runs `aaj args…` on a file holding `content`; the command must refuse it as malformed input
// (exit 2, one JSON line), never crash.
void expect_malformed(const fs::path& file, const std::string& content,
                      const std::vector<std::string>& args, const std::string& what) {
  spit(file, content);
  auto r = run_aaj(args);
  EXPECT_EQ(r.exit_code, 2) << what << ": " << r.out << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object() && j["ok"] == false) << what << ": " << r.out;
}

// `aaj verify-evidence` on `file`, written with `package` first.
aaj::testing::CommandResult verify_evidence(const Installation& inst, const fs::path& file,
                                            const std::string& package) {
  spit(file, package);
  return run_aaj({"verify-evidence", file.string(), "--trust", inst.ca()});
}

// The error code of a refusal printed by an `aaj log …` tool.
std::string error_code(const aaj::testing::CommandResult& r) {
  json j = json::parse(r.out, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

TEST(Evidence, AnswersAndRefusalsCarrySealsThatVerifyOfflineAndProofsCheck) {
  Installation inst;
  inst.start();
  Officer o = enter(inst);
  auto a = ask(o);
  ASSERT_EQ(a.status, 200) << a.raw;
  ASSERT_TRUE(a.body.contains("seal"));
  EXPECT_EQ(a.body["seal"]["leaf"]["request_id"], a.body["request_id"]);
  EXPECT_EQ(a.body["seal"]["leaf"]["log_seq"], a.body["log_seq"]);
  EXPECT_EQ(a.body["seal"]["leaf"]["cms_sha256"], a.body["cms_sha256"]);
  fs::path answer = inst.dir() / "answer.json";
  spit(answer, a.raw);
  auto ok = run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(json::parse(ok.out)["data_checked"], true);

  // Any change to the data, or to the seal, is caught; so is another trust anchor.
  std::string changed = a.raw;
  size_t at = changed.find("\"data\":");
  ASSERT_NE(at, std::string::npos);
  size_t digit = changed.find_first_of("0123456789", at);
  changed[digit] = changed[digit] == '1' ? '2' : '1';
  spit(answer, changed);
  auto bad = run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  json forged = json::parse(a.raw);
  forged["seal"]["head"]["batch"]["root"] = std::string(64, 'a');
  spit(answer, forged.dump());
  EXPECT_EQ(run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()}).exit_code, 1);
  // The answer's bytes removed: the seal names an answer_sha256, so nothing is proved.
  json no_data = json::parse(a.raw);
  no_data.erase("data");
  spit(answer, no_data.dump());
  auto missing = run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_EQ(error_code(missing), "answer_missing") << missing.out;
  // Malformed answers are refused (exit 2 or a bad seal), never a crash.
  for (const std::string& junk :
       {std::string("[1]"), std::string("{\"seal\":{\"leaf\":{\"log_seq\":\"1\"},\"head\":[],"
                                        "\"proof\":{},\"signature\":1}}")}) {
    spit(answer, junk);
    auto r = run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()});
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << junk << ": " << r.out << r.err;
    EXPECT_TRUE(json::parse(r.out, nullptr, false).is_object()) << r.out << r.err;
  }
  spit(answer, a.raw);
  auto other_ca = inst.dir() / "witness/tls.pem";  // a certificate that is no CA of the system
  EXPECT_NE(run_aaj({"verify-seal", answer.string(), "--trust", other_ca.string()}).exit_code, 0);

  // A refusal is sealed too (prosecutors may not use a financial-monitoring ground).
  auto refused = ask(o, "R01", 2, {{"type", "financial_monitoring"}, {"number", "FM-2026/77"}});
  ASSERT_EQ(refused.status, 403) << refused.raw;
  ASSERT_TRUE(refused.body.contains("seal")) << refused.raw;
  spit(answer, refused.raw);
  auto r = run_aaj({"verify-seal", answer.string(), "--trust", inst.ca()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["data_checked"], false);

  // Proofs from the log: inclusion of the answered record, consistency between two sizes.
  const auto seq = a.body["log_seq"].get<uint64_t>();
  auto proof =
      run_aaj({"log", "prove", "--config", inst.config().string(), "--seq", std::to_string(seq)});
  ASSERT_EQ(proof.exit_code, 0) << proof.out << proof.err;
  EXPECT_NE(json::parse(proof.out)["signed_head"], nullptr);
  fs::path pf = inst.dir() / "proof.json";
  spit(pf, proof.out);
  auto checked = run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()});
  EXPECT_EQ(checked.exit_code, 0) << checked.out;
  json tampered = json::parse(proof.out);
  tampered["record"] = std::string(tampered["record"]).replace(10, 1, "9");
  spit(pf, tampered.dump());
  auto tampered_r = run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()});
  EXPECT_EQ(tampered_r.exit_code, 1);
  // The record itself is checked (canonical bytes, its hash, its seq), before the proof.
  EXPECT_EQ(error_code(tampered_r), "bad_record") << tampered_r.out;
  // A proof against a head the system did not sign proves nothing.
  json unsigned_proof = json::parse(proof.out);
  unsigned_proof["signed_head"] = nullptr;
  spit(pf, unsigned_proof.dump());
  auto unsigned_r = run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()});
  EXPECT_EQ(unsigned_r.exit_code, 1) << unsigned_r.out;
  EXPECT_EQ(error_code(unsigned_r), "unsigned") << unsigned_r.out;
  // Malformed proof files: exit 2, never a crash.
  const std::vector<std::string> check = {"log", "check-proof", pf.string(), "--trust", inst.ca()};
  for (const auto& [what, change] : std::vector<std::pair<std::string, std::function<void(json&)>>>{
           {"seq a string", [](json& j) { j["seq"] = "1"; }},
           {"size negative", [](json& j) { j["size"] = -1; }},
           {"record a number", [](json& j) { j["record"] = 5; }},
           {"proof a string", [](json& j) { j["proof"] = "ab"; }},
           {"signed_head a number", [](json& j) { j["signed_head"] = 5; }},
           {"signed_head.head a list", [](json& j) { j["signed_head"]["head"] = json::array(); }},
           {"no kind", [](json& j) { j.erase("kind"); }},
           {"a list", [](json& j) { j = json::array({1}); }}}) {
    json changed = json::parse(proof.out);
    change(changed);
    expect_malformed(pf, changed.dump(), check, what);
  }
  expect_malformed(pf, "{\"kind\":\"consistency\",\"from\":[],\"to\":5,\"proof\":[]}", check,
                   "consistency with lists");
  auto cons = run_aaj({"log", "prove", "--config", inst.config().string(), "--from", "3"});
  ASSERT_EQ(cons.exit_code, 0) << cons.out;
  spit(pf, cons.out);
  EXPECT_EQ(run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()}).exit_code, 0);
  json wrong = json::parse(cons.out);
  wrong["from"]["root"] = std::string(64, 'b');
  spit(pf, wrong.dump());
  EXPECT_EQ(run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()}).exit_code, 1);

  auto verify = run_aaj({"log", "verify", "--config", inst.config().string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(json::parse(verify.out)["signatures_checked"], true);
}

TEST(Evidence, APackageForTheCaseMaterialsVerifiesOfflineAndFailsAfterAnyChange) {
  Installation inst;
  inst.start();
  Officer o = enter(inst);
  auto a = ask(o);
  ASSERT_EQ(a.status, 200) << a.raw;
  const std::string id = a.body["request_id"];
  auto p = o.api->get("/api/v1/evidence?request_id=" + id, o.token);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->status, 200) << p->raw;
  fs::path file = inst.dir() / "evidence.json";
  auto ok = verify_evidence(inst, file, p->raw);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  json report = json::parse(ok.out);
  EXPECT_EQ(report["request_id"], id);
  EXPECT_EQ(report["answers"][0]["data_checked"], true);
  EXPECT_EQ(report["signed_request"]["signer"]["iin"], inst.user("prosecutor")["iin"]);
  EXPECT_EQ(report["signed_request"]["revocation"], "good");
  EXPECT_FALSE(report["policy"].is_null());

  EXPECT_EQ(report["crls"]["rejected"], json::array()) << report.dump();

  // Every kind of change is caught, each by the check it is meant for: the answer, the record,
  // the seal, the inclusion proof, the signed head (the signed request: below).
  const json pkg = json::parse(p->raw);
  const std::string seq0 = std::to_string(
      json::parse(pkg["records"][0]["line"].get<std::string>())["seq"].get<uint64_t>());
  auto check_changed = [&](const std::string& what, const std::string& problem,
                           const std::function<void(json&)>& change) {
    json changed = pkg;
    change(changed);
    auto r = verify_evidence(inst, file, changed.dump());
    EXPECT_EQ(r.exit_code, 1) << what << ": " << r.out;
    EXPECT_EQ(json::parse(r.out, nullptr, false).value("problem", ""), problem)
        << what << ": " << r.out;
  };
  check_changed("answer data", "answer R01", [](json& j) {
    std::string d = j["answers"][0]["data"];
    d[d.find("\"iin\"") + 8] ^= 1;
    j["answers"][0]["data"] = d;
  });
  // The answer's bytes taken out: the record says an answer was given, and the package records
  // no destruction of it.
  check_changed("answer bytes removed", "answer R01",
                [](json& j) { j["answers"][0]["data"] = nullptr; });
  check_changed("answer removed", "answer of the request",
                [](json& j) { j["answers"] = json::array(); });
  check_changed("record", "record 0", [](json& j) {
    std::string l = j["records"][0]["line"];
    l.replace(l.find("Проверка"), 2, "Пр");
    l[l.find("purpose") + 12] ^= 1;
    j["records"][0]["line"] = l;
  });
  // The signed request in the record: its hash catches the change; with the hash made again,
  // the seal (of the record's hash) does.
  check_changed("signed request in the record", "record 0", [](json& j) {
    json rec = json::parse(j["records"][0]["line"].get<std::string>());
    std::string cms = rec["body"]["cms"];
    cms[cms.size() / 2] = cms[cms.size() / 2] == 'A' ? 'B' : 'A';
    rec["body"]["cms"] = cms;
    j["records"][0]["line"] = rec.dump();
  });
  check_changed("signed request in the record, rehashed", "seal of record " + seq0, [](json& j) {
    json rec = json::parse(j["records"][0]["line"].get<std::string>());
    std::string cms = rec["body"]["cms"];
    cms[cms.size() / 2] = cms[cms.size() / 2] == 'A' ? 'B' : 'A';
    rec["body"]["cms"] = cms;
    rec.erase("hash");
    rec["hash"] = aaj::pki::sha256_hex(rec.dump());
    j["records"][0]["line"] = rec.dump();
  });
  check_changed("seal proof", "seal of record " + seq0, [](json& j) {
    j["records"][0]["seal"]["head"]["batch"]["root"] = std::string(64, '1');
  });
  check_changed("inclusion", "inclusion of record " + seq0,
                [](json& j) { j["records"][0]["inclusion"]["root"] = std::string(64, '2'); });
  const std::string size = std::to_string(pkg["records"][0]["inclusion"]["size"].get<uint64_t>());
  check_changed("signed head", "signed head of size " + size,
                [](json& j) { j["records"][0]["inclusion"]["signed_head"]["signature"] = "MIIB"; });
  // The installation publishes CRLs (the revocation above is "good"): the package holds them.
  ASSERT_FALSE(pkg["crls"].empty()) << p->raw;
  check_changed("crl", "crl crls[0]", [](json& j) {
    std::string c = j["crls"][0];
    const size_t mid = c.size() / 2;
    c[mid] = c[mid] == 'A' ? 'B' : 'A';
    j["crls"][0] = c;
  });

  // Malformed packages: exit 2, never a crash.
  const std::vector<std::string> verify = {"verify-evidence", file.string(), "--trust", inst.ca()};
  for (const auto& [what, change] : std::vector<std::pair<std::string, std::function<void(json&)>>>{
           {"records a string", [](json& j) { j["records"] = "x"; }},
           {"a record a number", [](json& j) { j["records"][0] = 5; }},
           {"line a number", [](json& j) { j["records"][0]["line"] = 5; }},
           {"seal a list", [](json& j) { j["records"][0]["seal"] = json::array(); }},
           {"inclusion size a string", [](json& j) { j["records"][0]["inclusion"]["size"] = "3"; }},
           {"inclusion proof a string",
            [](json& j) { j["records"][0]["inclusion"]["proof"] = "x"; }},
           {"signed_head a string",
            [](json& j) { j["records"][0]["inclusion"]["signed_head"] = "x"; }},
           {"answers an object", [](json& j) { j["answers"] = json::object(); }},
           {"answer data a number", [](json& j) { j["answers"][0]["data"] = 5; }},
           {"answer resource missing", [](json& j) { j["answers"][0].erase("resource"); }},
           {"crls of numbers", [](json& j) { j["crls"] = json::array({1}); }},
           {"request_id a number", [](json& j) { j["request_id"] = 1; }}}) {
    json changed = pkg;
    change(changed);
    expect_malformed(file, changed.dump(), verify, what);
  }
  expect_malformed(file, "[]", verify, "a list");

  // The signed request checked for what it is: a record that is genuine in the log (the system
  // sealed it, as it seals any record another writer appended while it was stopped) but whose
  // signed request is not the logged document.
  auto b = ask(o, "R01", 2);
  ASSERT_EQ(b.status, 200) << b.raw;
  inst.stop();
  const fs::path jdir = inst.dir() / "data/journal";
  std::string other_cms;
  for (const auto& r : journal_records(inst))
    if (r["type"] == "data_request" && r["body"]["request_id"] == b.body["request_id"])
      other_cms = r["body"]["cms"];
  ASSERT_FALSE(other_cms.empty());
  const json last = journal_records(inst).back();
  json forged = json::parse(pkg["records"][0]["line"].get<std::string>());
  forged["body"]["cms"] = other_cms;  // the officer's genuine signature, over another document
  forged["seq"] = last["seq"].get<uint64_t>() + 1;
  forged["prev"] = last["hash"];
  forged.erase("hash");
  forged["hash"] = aaj::pki::sha256_hex(forged.dump());
  const uint64_t fseq = forged["seq"];
  {
    std::ofstream(jdir / "journal.log", std::ios::binary | std::ios::app) << forged.dump() << "\n";
  }
  inst.start();
  json seal;
  {
    std::ifstream in(jdir / "heads.log");
    for (std::string l; std::getline(in, l);) {
      json h = json::parse(l);
      if (h["head"]["batch"]["first_seq"] == fseq && h["head"]["batch"]["last_seq"] == fseq) {
        json leaf = {{"log_seq", fseq}, {"record_hash", forged["hash"]}};
        for (const char* k : {"request_id", "answer_sha256", "cms_sha256"})
          if (forged["body"].contains(k)) leaf[k] = forged["body"][k];
        seal = {{"head", h["head"]},
                {"leaf", leaf},
                {"proof", json::array()},
                {"signature", h["signature"]}};
      }
    }
  }
  ASSERT_FALSE(seal.is_null()) << "no head seals record " << fseq << " alone";
  auto inc =
      run_aaj({"log", "prove", "--config", inst.config().string(), "--seq", std::to_string(fseq)});
  ASSERT_EQ(inc.exit_code, 0) << inc.out;
  json incj = json::parse(inc.out);
  json with_forged = pkg;
  with_forged["records"][0] = {{"line", forged.dump()},
                               {"seal", seal},
                               {"inclusion",
                                {{"size", incj["size"]},
                                 {"root", incj["root"]},
                                 {"proof", incj["proof"]},
                                 {"signed_head", incj["signed_head"]}}}};
  auto sr = verify_evidence(inst, file, with_forged.dump());
  EXPECT_EQ(sr.exit_code, 1) << sr.out;
  json srj = json::parse(sr.out);
  EXPECT_EQ(srj["problem"], "signed request") << sr.out;
  EXPECT_NE(srj.value("detail", "").find("not the logged document"), std::string::npos) << sr.out;
  o = enter(inst);

  // Only the officer who made the request gets the package.
  Officer other = enter(inst, "investigator_mia");
  auto refused = other.api->get("/api/v1/evidence?request_id=" + id, other.token);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 403) << refused->raw;
  // The export itself is in the log.
  bool logged = false;
  for (const auto& r : journal_records(inst))
    logged = logged || (r["type"] == "evidence_exported" && r["body"]["request_id"] == id);
  EXPECT_TRUE(logged);
}

// A request for several resources writes one record per resource (each with its own seq) after
// the request's own: its package holds them all, and every answer is checked against its record.
TEST(Evidence, APackageOfAMultiResourceRequestVerifies) {
  Installation inst;
  inst.start();
  Officer o = enter(inst);
  json doc = aaj::client::make_document("R01", kCriminal, {{"iin", subject_iin()}}, kPurpose);
  doc.erase("resource");
  doc["resources"] = {"R01", "R11"};
  auto a = aaj::client::send_request(*o.api, o.token, *o.key, doc);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->status, 200) << a->raw;
  const std::string id = a->body["request_id"];
  // request_id need not be the first parameter.
  auto p = o.api->get("/api/v1/evidence?x=1&request_id=" + id, o.token);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->status, 200) << p->raw;
  const json pkg = json::parse(p->raw);
  ASSERT_EQ(pkg["records"].size(), 3u) << p->raw;
  fs::path file = inst.dir() / "evidence.json";
  auto ok = verify_evidence(inst, file, p->raw);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  json report = json::parse(ok.out);
  EXPECT_EQ(report["request_id"], id);
  ASSERT_EQ(report["records"].size(), 3u);
  EXPECT_EQ(report["records"][0]["type"], "data_request");
  EXPECT_EQ(report["records"][1]["type"], "resource_answer");
  EXPECT_EQ(report["records"][2]["type"], "resource_answer");
  ASSERT_EQ(report["answers"].size(), 2u);
  for (const auto& ans : report["answers"]) EXPECT_EQ(ans["data_checked"], true);
  // One answer's bytes swapped with the other's, or one answer left out: caught.
  json swapped = pkg;
  std::swap(swapped["answers"][0]["data"], swapped["answers"][1]["data"]);
  auto s = verify_evidence(inst, file, swapped.dump());
  EXPECT_EQ(s.exit_code, 1) << s.out;
  json dropped = pkg;
  const std::string gone = dropped["answers"][1]["resource"];
  dropped["answers"].erase(1);
  auto d = verify_evidence(inst, file, dropped.dump());
  EXPECT_EQ(d.exit_code, 1) << d.out;
  EXPECT_EQ(json::parse(d.out)["problem"], "answer " + gone) << d.out;
}

TEST(Evidence, SegmentsAreSealedAsTheyFillExportedAndVerifiedAsAnArchive) {
  Installation inst;
  inst.set_config("segment_records", "8");
  inst.start();
  Officer o = enter(inst);
  for (int i = 0; i < 14; ++i) ASSERT_EQ(ask(o, "R01", i + 1).status, 200);
  fs::path segs = inst.dir() / "data/journal/segments";
  ASSERT_TRUE(fs::exists(segs / "000001.log"));
  ASSERT_TRUE(fs::exists(segs / "000001.seal.json"));
  inst.stop();
  // On demand too (the server is stopped: the CLI owns the log for a moment).
  auto sealed = run_aaj({"log", "seal", "--config", inst.config().string()});
  EXPECT_EQ(sealed.exit_code, 0) << sealed.out << sealed.err;
  fs::path archive = inst.dir() / "archive";
  auto exp =
      run_aaj({"log", "export", "--config", inst.config().string(), "--to", archive.string()});
  ASSERT_EQ(exp.exit_code, 0) << exp.out;
  json report = json::parse(exp.out);
  EXPECT_GE(report["segments"].get<int>(), 3);
  EXPECT_EQ(report["verify"]["ok"], true);
  // Exporting again changes nothing; verified with nothing but the CA certificate.
  auto again =
      run_aaj({"log", "export", "--config", inst.config().string(), "--to", archive.string()});
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(json::parse(again.out)["copied"].empty());
  auto v = run_aaj({"log", "verify", "--dir", archive.string(), "--trust", inst.ca()});
  ASSERT_EQ(v.exit_code, 0) << v.out;
  EXPECT_EQ(json::parse(v.out)["signatures_checked"], true);

  // The log goes on: the archive's heads.log and cosignatures.log grow by what was added (the
  // archive's copy is a beginning of the live file's), never rewritten.
  const std::string heads_before = slurp(archive / "heads.log");
  ASSERT_FALSE(heads_before.empty());
  inst.start();
  Officer o2 = enter(inst);
  for (int i = 0; i < 9; ++i) ASSERT_EQ(ask(o2, "R01", 100 + i).status, 200);
  inst.stop();
  auto grown =
      run_aaj({"log", "export", "--config", inst.config().string(), "--to", archive.string()});
  ASSERT_EQ(grown.exit_code, 0) << grown.out;
  json g = json::parse(grown.out);
  EXPECT_EQ(g["appended"], json::array({"heads.log"})) << grown.out;
  EXPECT_FALSE(g["copied"].empty()) << grown.out;  // the new segment
  const std::string heads_after = slurp(archive / "heads.log");
  EXPECT_GT(heads_after.size(), heads_before.size());
  EXPECT_EQ(heads_after.substr(0, heads_before.size()), heads_before);
  EXPECT_EQ(run_aaj({"log", "verify", "--dir", archive.string(), "--trust", inst.ca()}).exit_code,
            0);
  // An archive heads.log that is not a beginning of the live one: refused, left as it is.
  std::string other_heads = heads_after;
  other_heads[other_heads.find("\"root\":\"") + 9] ^= 1;
  spit(archive / "heads.log", other_heads);
  auto heads_conflict =
      run_aaj({"log", "export", "--config", inst.config().string(), "--to", archive.string()});
  EXPECT_EQ(heads_conflict.exit_code, 1) << heads_conflict.out;
  EXPECT_EQ(error_code(heads_conflict), "archive_conflict") << heads_conflict.out;
  EXPECT_EQ(slurp(archive / "heads.log"), other_heads);
  spit(archive / "heads.log", heads_after);

  // Junk in the log's side files: refused or skipped, never a crash.
  fs::path junk = inst.dir() / "junk-log";
  fs::copy(inst.dir() / "data/journal", junk, fs::copy_options::recursive);
  {
    std::ofstream(junk / "heads.log", std::ios::binary | std::ios::app)
        << "{\"head\":{\"size\":\"x\",\"batch\":[1]}}\n{\"head\":[1]}\n";
  }
  auto pj = run_aaj({"log", "prove", "--dir", junk.string(), "--seq", "1"});
  EXPECT_EQ(pj.exit_code, 0) << pj.out << pj.err;
  EXPECT_NE(json::parse(pj.out)["signed_head"], nullptr) << pj.out;
  json seal1 = json::parse(slurp(junk / "segments/000001.seal.json"));
  seal1["seal"]["last_seq"] = "8";
  spit(junk / "segments/000001.seal.json", seal1.dump());
  auto ej = run_aaj(
      {"log", "export", "--dir", junk.string(), "--to", (inst.dir() / "junk-archive").string()});
  EXPECT_EQ(ej.exit_code, 1) << ej.out << ej.err;
  EXPECT_EQ(error_code(ej), "bad_seal") << ej.out;
  // A changed byte in the archive is named with its file and seq.
  fs::path seg2 = archive / "segments/000002.log";
  std::string text = slurp(seg2);
  size_t p = text.find("\"purpose\"");
  ASSERT_NE(p, std::string::npos);
  text[p + 13] ^= 1;
  spit(seg2, text);
  auto broken = run_aaj({"log", "verify", "--dir", archive.string(), "--trust", inst.ca()});
  EXPECT_EQ(broken.exit_code, 1);
  json b = json::parse(broken.out);
  EXPECT_EQ(b["first_bad_file"], "000002.log");
  EXPECT_GE(b["first_bad_seq"].get<int>(), 9);
  // And the live log refuses a conflicting export.
  auto conflict =
      run_aaj({"log", "export", "--config", inst.config().string(), "--to", archive.string()});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_EQ(json::parse(conflict.out)["error"]["code"], "archive_conflict");
}

TEST(Evidence, TheWitnessCoSignsAndCatchesARewrittenHistory) {
  Installation inst;
  inst.start_witness();
  inst.start();
  Officer o = enter(inst);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ask(o, "R01", i + 1).status, 200);
  // The server offers its newest head every 2 s (the demo's interval).
  json w;
  for (int i = 0; i < 100; ++i) {
    w = healthz(inst)["witness"];
    if (w.is_object() && w["state"] == "ok" && w["cosigned_size"].is_number() &&
        w["cosigned_size"] == w["offered_size"])
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(w["state"], "ok") << w.dump();
  const auto cosigned = w["cosigned_size"].get<int>();
  auto cos = slurp(inst.dir() / "data/journal/cosignatures.log");
  ASSERT_FALSE(cos.empty());
  EXPECT_NE(cos.find("prosecutor-general-demo"), std::string::npos);
  // The operator, with full access to the server's files, rewrites an answer's hash and the
  // whole chain after it, and removes the signed heads and the tree that would contradict it.
  inst.stop();
  inst.start_witness();
  fs::path j = inst.dir() / "data/journal";
  std::ifstream in(j / "journal.log");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string prev(64, '0');
  std::string rewritten;
  bool changed = false;
  for (auto& l : lines) {
    json r = json::parse(l);
    if (!changed && r["type"] == "data_request" && r["body"].contains("answer_sha256")) {
      r["body"]["answer_sha256"] = std::string(64, 'c');
      changed = true;
    }
    r["prev"] = prev;
    r.erase("hash");
    std::string canonical = r.dump();
    auto h = aaj::testing::run_shell("printf '%s' '" + canonical + "' | sha256sum");
    r["hash"] = h.out.substr(0, 64);
    prev = r["hash"];
    rewritten += r.dump() + "\n";
  }
  ASSERT_TRUE(changed);
  spit(j / "journal.log", rewritten);
  fs::remove(j / "heads.log");
  fs::remove(j / "merkle.hashes");
  fs::remove(j / "cosignatures.log");
  inst.start();  // the rewritten log opens: nothing on the server contradicts it any more
  Officer o2 = enter(inst);
  ASSERT_EQ(ask(o2).status, 200);
  for (int i = 0; i < 100; ++i) {
    w = healthz(inst)["witness"];
    if (w.is_object() && w["state"] == "refused") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(w["state"], "refused") << w.dump();
  EXPECT_EQ(w["last_error"]["code"], "inconsistent");
  EXPECT_EQ(w["cosigned_size"], cosigned);  // what the witness vouched for stands
  json h = healthz(inst);
  EXPECT_EQ(h["status"], "degraded");
  // The witness kept the refused offer as evidence of the attempt.
  EXPECT_NE(slurp(inst.dir() / "witness/state/refused.log").find("inconsistent"),
            std::string::npos);
}

// A co-signature the server cannot keep is not counted as kept: the link reports the failure
// and offers again from the last co-signature on file.
TEST(Evidence, ACoSignatureThatCannotBeKeptIsReportedNotCounted) {
  Installation inst;
  inst.start_witness();
  // cosignatures.log cannot be opened for appending: a directory stands in its place.
  fs::create_directories(inst.dir() / "data/journal/cosignatures.log");
  inst.start();
  Officer o = enter(inst);
  ASSERT_EQ(ask(o).status, 200);
  json w;
  for (int i = 0; i < 100; ++i) {
    w = healthz(inst)["witness"];
    if (w.is_object() && w["last_error"].is_object()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(w.is_object() && w["last_error"].is_object()) << w.dump();
  EXPECT_EQ(w["state"], "unavailable") << w.dump();
  EXPECT_NE(w["last_error"]["detail"].get<std::string>().find("cosignatures.log"),
            std::string::npos)
      << w.dump();
  EXPECT_TRUE(w["cosigned_size"].is_null() || w["cosigned_size"] != w["offered_size"]) << w.dump();
}

TEST(Evidence, AServerKilledUnderLoadLosesNoAcknowledgedRecord) {
  Installation inst;
  inst.start();
  struct Acked {
    std::string request_id;
    uint64_t seq;
    std::string answer_sha256;
  };
  std::mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  // Entered one after another: entries of one user at once would read each other's SMS codes
  // from the outbox (the code is found by phone number).
  std::vector<Officer> officers;
  for (int t = 0; t < 6; ++t)
    officers.push_back(enter(inst, t % 2 ? "prosecutor" : "investigator_mia"));
  std::vector<std::thread> ts;
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&, t] {
      Officer& o = officers[static_cast<size_t>(t)];
      for (int i = 0; !stop; ++i) {
        auto r = aaj::client::send_request(
            *o.api, o.token, *o.key,
            aaj::client::make_document("R01", kCriminal, {{"iin", subject_iin(t * 1000 + i)}},
                                       kPurpose));
        ++sent;
        if (!r || r->status != 200) continue;  // cut off by the kill: never acknowledged
        std::lock_guard<std::mutex> l(mu);
        acked.push_back(
            {r->body["request_id"], r->body["log_seq"], r->body["seal"]["leaf"]["answer_sha256"]});
      }
    });
  while (sent < 150) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  inst.kill_server();  // SIGKILL with requests in flight
  stop = true;
  for (auto& t : ts) t.join();
  ASSERT_GT(acked.size(), 50u);
  inst.restart_server();
  auto v = run_aaj({"log", "verify", "--config", inst.config().string()});
  ASSERT_EQ(v.exit_code, 0) << v.out;
  std::map<std::string, json> by_id;
  for (const auto& r : journal_records(inst))
    if (r["type"] == "data_request") by_id[r["body"].value("request_id", "")] = r;
  for (const auto& a : acked) {
    auto it = by_id.find(a.request_id);
    ASSERT_NE(it, by_id.end()) << "acknowledged request " << a.request_id << " is not in the log";
    EXPECT_EQ(it->second["seq"], a.seq);
    EXPECT_EQ(it->second["body"]["answer_sha256"], a.answer_sha256);
  }
  // The restarted server goes on with the same chain and tree.
  Officer o = enter(inst);
  EXPECT_EQ(ask(o).status, 200);
  EXPECT_EQ(run_aaj({"log", "verify", "--config", inst.config().string()}).exit_code, 0);
}

}  // namespace
