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
  EXPECT_EQ(run_aaj({"log", "check-proof", pf.string(), "--trust", inst.ca()}).exit_code, 1);
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
  spit(file, p->raw);
  auto ok = run_aaj({"verify-evidence", file.string(), "--trust", inst.ca()});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  json report = json::parse(ok.out);
  EXPECT_EQ(report["request_id"], id);
  EXPECT_EQ(report["answers"][0]["data_checked"], true);
  EXPECT_EQ(report["signed_request"]["signer"]["iin"], inst.user("prosecutor")["iin"]);
  EXPECT_EQ(report["signed_request"]["revocation"], "good");
  EXPECT_FALSE(report["policy"].is_null());

  // Every kind of change is caught: the answer, the record, the signed request, the seal, the
  // inclusion proof, the signed head.
  const json pkg = json::parse(p->raw);
  auto check_changed = [&](const std::string& what, const std::function<void(json&)>& change) {
    json changed = pkg;
    change(changed);
    spit(file, changed.dump());
    auto r = run_aaj({"verify-evidence", file.string(), "--trust", inst.ca()});
    EXPECT_EQ(r.exit_code, 1) << what << ": " << r.out;
  };
  check_changed("answer data", [](json& j) {
    std::string d = j["answers"][0]["data"];
    d[d.find("\"iin\"") + 8] ^= 1;
    j["answers"][0]["data"] = d;
  });
  check_changed("record", [](json& j) {
    std::string l = j["records"][0]["line"];
    l.replace(l.find("Проверка"), 2, "Пр");
    l[l.find("purpose") + 12] ^= 1;
    j["records"][0]["line"] = l;
  });
  check_changed("signed request", [](json& j) {
    json rec = json::parse(j["records"][0]["line"].get<std::string>());
    std::string cms = rec["body"]["cms"];
    cms[cms.size() / 2] = cms[cms.size() / 2] == 'A' ? 'B' : 'A';
    rec["body"]["cms"] = cms;
    j["records"][0]["line"] = rec.dump();  // (its hash no longer matches either)
  });
  check_changed("seal proof", [](json& j) {
    j["records"][0]["seal"]["head"]["batch"]["root"] = std::string(64, '1');
  });
  check_changed("inclusion",
                [](json& j) { j["records"][0]["inclusion"]["root"] = std::string(64, '2'); });
  check_changed("signed head",
                [](json& j) { j["records"][0]["inclusion"]["signed_head"]["signature"] = "MIIB"; });
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
  std::vector<std::thread> ts;
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&, t] {
      Officer o = enter(inst, t % 2 ? "prosecutor" : "investigator_mia");
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
