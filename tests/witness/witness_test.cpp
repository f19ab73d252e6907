// The witness's service logic (src/witness/witness.h) against docs/journal-format.md §6, its
// HTTP routes without sockets (server.h), its configuration file (config.h), and the helpers the
// system shares with it. Heads are signed exactly as §3 says, over a log in memory.
#include "witness/witness.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "core/messages.h"
#include "core/time.h"
#include "pki/openssl_util.h"
#include "support.h"
#include "witness/config.h"
#include "witness/server.h"

namespace aaj::witness {
namespace {

using namespace aaj::witness::test;  // NOLINT(google-build-using-namespace)
namespace merkle = journal::merkle;

std::string code_of(const Result<json>& r) {
  return r ? "<ok>" : r.error().code;
}

std::string detail_of(const Result<json>& r) {
  return r ? "" : r.error().detail;
}

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("aaj_witness_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
    ASSERT_TRUE(write_files(dir_));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Config config() const {
    Config c;
    c.name = "prosecutor-general";
    c.log_id = kLogId;
    c.operator_bin = kOperatorBin;
    c.trust = {dir_ / "system_ca.pem"};
    c.key_store = dir_ / "witness.p12";
    c.key_store_password = kPassword;
    c.state_dir = dir_ / "state";
    return c;
  }

  std::unique_ptr<Witness> open(Config c) {
    auto w = Witness::open(std::move(c));
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().code + ": " + w.error().detail);
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<Witness> open() { return open(config()); }

  // The system's honest submission of `log`'s current head from the witness's size m.
  static json offer(Log& log, int64_t m, const Holder& by = keys().system_sign) {
    return request(sign_head(log.head(), by), m, log.proof_from(m));
  }

  // The co-signature verifies over the canonical head with the witness's certificate.
  static void expect_cosignature(const json& head, const json& answer) {
    auto trust = pki::TrustStore::from_pem(keys().witness_ca.cert_pem());
    ASSERT_TRUE(trust.ok());
    pki::CmsVerifier v(*trust, nullptr);
    ASSERT_TRUE(answer.contains("cosignature")) << answer;
    EXPECT_EQ(answer["witness"], "prosecutor-general");
    auto who = verify_cosignature(head, answer["cosignature"].get<std::string>(), v, kProsecutorBin,
                                  time::now());
    ASSERT_TRUE(who.ok()) << who.error().detail;
    EXPECT_EQ(who->sha256_hex, pki::describe(keys().witness_sign.cert())->sha256_hex);
  }

  std::vector<json> refusals() const { return read_json_lines(dir_ / "state/refused.log"); }

  fs::path dir_;
};

TEST_F(WitnessTest, FirstHeadIsAcceptedFromSizeZeroAndTheCosignatureVerifies) {
  auto w = open();
  ASSERT_TRUE(w);
  EXPECT_FALSE(w->latest());
  Log log;
  log.grow_to(3);
  json req = offer(log, 0);
  json latest;
  auto r = w->submit(req, &latest);
  ASSERT_EQ(code_of(r), "<ok>") << detail_of(r);
  expect_cosignature(req["checkpoint"]["head"], *r);
  EXPECT_EQ(latest, (json{{"size", 3}, {"root", merkle::to_hex(log.root())}}));

  // Over the canonical bytes, and only those: another head does not verify with it.
  auto trust = pki::TrustStore::from_pem(keys().witness_ca.cert_pem());
  pki::CmsVerifier v(*trust, nullptr);
  json other = req["checkpoint"]["head"];
  other["size"] = 4;
  auto bad = verify_cosignature(other, (*r)["cosignature"].get<std::string>(), v, "", time::now());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_signature");
  // A detached CMS: the head is not inside it.
  auto der = pki::base64_decode((*r)["cosignature"].get<std::string>());
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(der->find(canonical_head(req["checkpoint"]["head"])), std::string::npos);

  auto l = w->latest();
  ASSERT_TRUE(l);
  EXPECT_EQ((*l)["size"], 3);
  EXPECT_EQ((*l)["root"], merkle::to_hex(log.root()));
  EXPECT_EQ((*l)["head"], req["checkpoint"]["head"]);
  EXPECT_EQ((*l)["signature"], req["checkpoint"]["signature"]);
  EXPECT_EQ((*l)["cosignature"], (*r)["cosignature"]);
  EXPECT_TRUE(refusals().empty());
}

TEST_F(WitnessTest, AGrowingLogIsCosignedWithConsistencyProofs) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  int64_t m = 0;
  for (int64_t n : {1, 2, 3, 7, 8, 20, 33, 64, 65, 100}) {
    log.grow_to(n);
    json req = offer(log, m);
    auto r = w->submit(req);
    ASSERT_EQ(code_of(r), "<ok>") << "size " << n << ": " << detail_of(r);
    expect_cosignature(req["checkpoint"]["head"], *r);
    EXPECT_EQ((*w->latest())["size"], n);
    m = n;
  }
  // The same tree again (a retry, or a re-signed head of the same size): co-signed again.
  auto again = w->submit(offer(log, m));
  EXPECT_EQ(code_of(again), "<ok>") << detail_of(again);
  EXPECT_TRUE(refusals().empty());
}

TEST_F(WitnessTest, AForkIsRefusedInconsistentAndKeptAsEvidence) {
  auto w = open();
  ASSERT_TRUE(w);
  Log honest;
  honest.grow_to(7);
  json held = sign_head(honest.head(), keys().system_sign);
  ASSERT_EQ(code_of(w->submit(request(held, 0, {}))), "<ok>");

  // Records from index 5 rewritten, grown to 12, with a proof that is valid for the forged
  // tree (from its own size-7 root): it cannot reach the root the witness holds.
  Log forged(5);
  forged.grow_to(12);
  json fork = sign_head(forged.head(), keys().system_sign);
  json req = request(fork, 7, forged.proof_from(7));
  json latest;
  auto r = w->submit(req, &latest);
  ASSERT_EQ(code_of(r), "inconsistent");
  EXPECT_EQ(http_status(r.error().code), 409);
  EXPECT_EQ(latest, (json{{"size", 7}, {"root", merkle::to_hex(honest.root())}}));
  EXPECT_EQ((*w->latest())["size"], 7);  // nothing changed

  // Same size, another root: no proof can help.
  Log same_size(3);
  same_size.grow_to(7);
  auto r2 = w->submit(request(sign_head(same_size.head(), keys().system_sign), 7, {}));
  ASSERT_EQ(code_of(r2), "inconsistent");

  // Both are on record with what was offered and what the witness held: two operator-signed
  // heads that cannot both be true.
  auto lines = refusals();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["reason"]["code"], "inconsistent");
  EXPECT_FALSE(lines[0]["reason"]["detail"].get<std::string>().empty());
  EXPECT_EQ(lines[0]["checkpoint"], fork);
  EXPECT_EQ(lines[0]["previous_size"], 7);
  EXPECT_EQ(lines[0]["consistency"], req["consistency"]);
  EXPECT_EQ(lines[0]["held"], held);
  EXPECT_TRUE(time::parse_iso8601(lines[0]["at"].get<std::string>()));
  EXPECT_NE(lines[0]["at"].get<std::string>().find('Z'), std::string::npos);
  const std::string astana = lines[0]["at_astana"].get<std::string>();
  EXPECT_TRUE(astana.ends_with("+05:00") || astana.ends_with("+06:00")) << astana;
  EXPECT_EQ(lines[1]["reason"]["code"], "inconsistent");
  EXPECT_EQ(lines[1]["checkpoint"]["head"]["size"], 7);

  // The honest continuation is still co-signed.
  honest.grow_to(12);
  EXPECT_EQ(code_of(w->submit(offer(honest, 7))), "<ok>");
}

TEST_F(WitnessTest, ATamperedOrMisshapenProofIsInconsistent) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(6);
  ASSERT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
  log.grow_to(13);
  json good = offer(log, 6);
  ASSERT_FALSE(good["consistency"].empty());

  for (size_t i = 0; i < good["consistency"].size(); ++i) {
    json bad = good;
    std::string h = bad["consistency"][i];
    h[10] = h[10] == '0' ? '1' : '0';
    bad["consistency"][i] = h;
    EXPECT_EQ(code_of(w->submit(bad)), "inconsistent") << "hash " << i;
  }
  json shorter = good;
  shorter["consistency"].erase(shorter["consistency"].size() - 1);
  EXPECT_EQ(code_of(w->submit(shorter)), "inconsistent");
  json longer = good;
  longer["consistency"].push_back(good["consistency"][0]);
  EXPECT_EQ(code_of(w->submit(longer)), "inconsistent");
  json none = good;
  none["consistency"] = json::array();
  EXPECT_EQ(code_of(w->submit(none)), "inconsistent");
  // The same size needs an empty proof.
  Log six;
  six.grow_to(6);
  json same_size = request(sign_head(six.head(), keys().system_sign), 6, {good["consistency"][0]});
  EXPECT_EQ(code_of(w->submit(same_size)), "inconsistent");
  EXPECT_EQ((*w->latest())["size"], 6);
  EXPECT_EQ(refusals().size(), good["consistency"].size() + 4);

  EXPECT_EQ(code_of(w->submit(good)), "<ok>");

  // Before the first co-signature the proof must be empty.
  fs::remove_all(dir_ / "state2");
  Config c = config();
  c.state_dir = dir_ / "state2";
  auto fresh = open(c);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(code_of(fresh->submit(
                request(sign_head(log.head(), keys().system_sign), 0, {good["consistency"][0]}))),
            "inconsistent");
}

TEST_F(WitnessTest, ReplayingAPublishedHeadWithBogusProofsCannotFillRefusedLog) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(6);
  ASSERT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
  // Anyone can read a signed head from GET /v1/latest; only the head is signed, so previous_size
  // and the proof can be anything.
  log.grow_to(13);
  json published = sign_head(log.head(), keys().system_sign);
  const fs::path refused = dir_ / "state/refused.log";
  std::mt19937 rng(7);
  auto bogus_proof = [&] {
    std::vector<std::string> proof;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 5); ++i) {
      std::string h(64, '0');
      for (char& c : h) c = "0123456789abcdef"[rng() % 16];
      proof.push_back(h);
    }
    return proof;
  };
  const int cap = Witness::kMaxRefusalLines;
  uintmax_t size_at_cap = 0;
  for (int i = 0; i < 3 * cap; ++i) {
    json latest;
    auto r = w->submit(request(published, 6, bogus_proof()), &latest);
    ASSERT_EQ(code_of(r), "inconsistent") << i;
    EXPECT_EQ(http_status(r.error().code), 409);
    EXPECT_EQ(latest["size"], 6);
    const bool recorded = i < cap;
    EXPECT_EQ(detail_of(r).find("not recorded") == std::string::npos, recorded)
        << i << ": " << detail_of(r);
    if (i == cap - 1) size_at_cap = fs::file_size(refused);
  }
  EXPECT_EQ(refusals().size(), static_cast<size_t>(cap));
  EXPECT_EQ(fs::file_size(refused), size_at_cap);

  // Another reason for the same head has its own lines, bounded the same way.
  for (int i = 0; i < 2 * cap; ++i)
    ASSERT_EQ(code_of(w->submit(request(published, 3, bogus_proof()))), "wrong_previous_size");
  EXPECT_EQ(refusals().size(), static_cast<size_t>(2 * cap));

  // Another signed head is recorded.
  log.grow_to(14);
  Log forged(2);
  forged.grow_to(14);
  ASSERT_EQ(
      code_of(w->submit(request(sign_head(forged.head(), keys().system_sign), 6, bogus_proof()))),
      "inconsistent");
  auto lines = refusals();
  ASSERT_EQ(lines.size(), static_cast<size_t>(2 * cap + 1));
  EXPECT_EQ(lines.back()["checkpoint"]["head"]["root"], merkle::to_hex(forged.root()));

  // The honest continuation is still co-signed.
  EXPECT_EQ(code_of(w->submit(offer(log, 6))), "<ok>");
}

TEST_F(WitnessTest, ASmallerHeadIsStale) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(7);
  json seven = offer(log, 0);
  ASSERT_EQ(code_of(w->submit(seven)), "<ok>");
  log.grow_to(20);
  ASSERT_EQ(code_of(w->submit(offer(log, 7))), "<ok>");
  // The old head, offered again (whatever previous_size it claims).
  json latest;
  auto r = w->submit(request(seven["checkpoint"], 20, {}), &latest);
  ASSERT_EQ(code_of(r), "stale");
  EXPECT_EQ(http_status("stale"), 409);
  EXPECT_EQ(latest["size"], 20);
  EXPECT_EQ(code_of(w->submit(seven)), "stale");
  auto lines = refusals();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["reason"]["code"], "stale");
}

TEST_F(WitnessTest, PreviousSizeMustBeTheWitnesssSize) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(5);
  // Nothing co-signed yet: previous_size must be 0.
  json latest;
  auto r0 =
      w->submit(request(sign_head(log.head(), keys().system_sign), 3, log.proof_from(3)), &latest);
  ASSERT_EQ(code_of(r0), "wrong_previous_size");
  EXPECT_EQ(latest, (json{{"size", 0}, {"root", merkle::to_hex(merkle::empty_root())}}));
  ASSERT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
  log.grow_to(9);
  // A valid proof, but from a size the witness does not hold.
  auto r = w->submit(offer(log, 3), &latest);
  ASSERT_EQ(code_of(r), "wrong_previous_size");
  EXPECT_EQ(http_status(r.error().code), 409);
  EXPECT_EQ(latest["size"], 5);
  EXPECT_EQ(code_of(w->submit(offer(log, 0))), "wrong_previous_size");
  EXPECT_EQ(refusals().size(), 3u);
  EXPECT_EQ(code_of(w->submit(offer(log, 5))), "<ok>");
}

TEST_F(WitnessTest, OnlyTheOperatorsSigningCertificateFromTheTrustedCaIsAccepted) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(4);
  struct Case {
    const char* what;
    const Holder* by;
    const char* reason;  // the verifier's reason, at the start of the detail
  } cases[] = {
      {"a key of an untrusted CA", &keys().untrusted_sign, "untrusted"},
      {"an authentication certificate", &keys().system_auth, "wrong_key_usage"},
      {"another organisation's certificate", &keys().other_bin_sign, "wrong_bin"},
      {"the witness's own key", &keys().witness_sign, "untrusted"},
  };
  for (const auto& c : cases) {
    json latest;
    auto r = w->submit(offer(log, 0, *c.by), &latest);
    ASSERT_EQ(code_of(r), "bad_signature") << c.what;
    EXPECT_EQ(http_status(r.error().code), 403);
    EXPECT_EQ(r.error().detail.rfind(c.reason, 0), 0u) << c.what << ": " << r.error().detail;
  }
  // A head changed after signing.
  json req = offer(log, 0);
  req["checkpoint"]["head"]["at"] = time::format_utc(time::now() + std::chrono::seconds(1));
  auto r = w->submit(req);
  ASSERT_EQ(code_of(r), "bad_signature");
  EXPECT_EQ(r.error().detail.rfind("bad_signature", 0), 0u) << r.error().detail;
  // A signature that is not CMS at all.
  req = offer(log, 0);
  req["checkpoint"]["signature"] = pki::base64_encode("not a CMS");
  EXPECT_EQ(code_of(w->submit(req)), "bad_signature");

  // Unsigned offers are not evidence: nothing recorded, nothing stored.
  EXPECT_TRUE(refusals().empty());
  EXPECT_FALSE(w->latest());
  EXPECT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
}

TEST_F(WitnessTest, AnotherLogIsUnknown) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(4);
  json req = request(sign_head(log.head("aaj:100140011059:other"), keys().system_sign), 0, {});
  auto r = w->submit(req);
  ASSERT_EQ(code_of(r), "unknown_log");
  EXPECT_EQ(http_status("unknown_log"), 403);
  auto lines = refusals();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["reason"]["code"], "unknown_log");
  EXPECT_TRUE(lines[0]["held"].is_null());
  EXPECT_FALSE(w->latest());
}

TEST_F(WitnessTest, MalformedBodiesAreRefusedBeforeAnythingElse) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(4);
  const json good = offer(log, 0);
  // Variants of a good body; `head_edit` ones are re-signed so that only the shape is wrong.
  std::vector<std::pair<std::string, json>> bodies = {
      {"array", json::array()},
      {"string", "x"},
      {"no checkpoint", {{"previous_size", 0}, {"consistency", json::array()}}},
      {"no consistency", {{"checkpoint", good["checkpoint"]}, {"previous_size", 0}}},
  };
  auto body_edit = [&](const std::string& name, auto edit) {
    json b = good;
    edit(b);
    bodies.emplace_back(name, b);
  };
  auto head_edit = [&](const std::string& name, auto edit) {
    json h = good["checkpoint"]["head"];
    edit(h);
    bodies.emplace_back(name, request(sign_head(h, keys().system_sign), 0, {}));
  };
  body_edit("checkpoint not an object", [](json& b) { b["checkpoint"] = "x"; });
  body_edit("head not an object", [](json& b) { b["checkpoint"]["head"] = json::array(); });
  body_edit("no signature", [](json& b) { b["checkpoint"].erase("signature"); });
  body_edit("signature not a string", [](json& b) { b["checkpoint"]["signature"] = 5; });
  body_edit("signature not base64", [](json& b) { b["checkpoint"]["signature"] = "!!!"; });
  body_edit("negative previous_size", [](json& b) { b["previous_size"] = -1; });
  body_edit("float previous_size", [](json& b) { b["previous_size"] = 0.5; });
  body_edit("string previous_size", [](json& b) { b["previous_size"] = "0"; });
  body_edit("no previous_size", [](json& b) { b.erase("previous_size"); });
  body_edit("consistency not an array", [](json& b) { b["consistency"] = "x"; });
  body_edit("consistency not hex", [](json& b) { b["consistency"] = {std::string(64, 'g')}; });
  body_edit("consistency short hash", [](json& b) { b["consistency"] = {std::string(62, 'a')}; });
  body_edit("consistency too long", [](json& b) {
    b["consistency"] = std::vector<std::string>(129, std::string(64, 'a'));
  });
  head_edit("size 0", [](json& h) { h["size"] = 0; });
  head_edit("size float", [](json& h) { h["size"] = 4.0; });
  head_edit("size string", [](json& h) { h["size"] = "4"; });
  head_edit("size too large", [](json& h) { h["size"] = merkle::kMaxRecords + 1; });
  head_edit("float elsewhere", [](json& h) { h["extra"] = {{"x", 1.5}}; });
  head_edit("root uppercase", [](json& h) {
    std::string r = h["root"];
    for (auto& c : r) c = static_cast<char>(std::toupper(c));
    h["root"] = r;
  });
  head_edit("root short", [](json& h) { h["root"] = std::string(63, 'a'); });
  head_edit("no log", [](json& h) { h.erase("log"); });
  head_edit("empty log", [](json& h) { h["log"] = ""; });
  head_edit("no at", [](json& h) { h.erase("at"); });
  head_edit("at not a time", [](json& h) { h["at"] = "yesterday"; });
  head_edit("no at_astana", [](json& h) { h.erase("at_astana"); });
  head_edit("no batch", [](json& h) { h.erase("batch"); });
  head_edit("batch ends elsewhere", [](json& h) { h["batch"]["last_seq"] = 3; });
  head_edit("batch first after last", [](json& h) { h["batch"]["first_seq"] = 5; });
  head_edit("batch first 0", [](json& h) { h["batch"]["first_seq"] = 0; });
  head_edit("batch root not hex", [](json& h) { h["batch"]["root"] = "zz"; });
  for (const auto& [name, body] : bodies) {
    auto r = w->submit(body);
    ASSERT_EQ(code_of(r), "malformed") << name;
    EXPECT_EQ(http_status(r.error().code), 400);
    EXPECT_FALSE(r.error().detail.empty()) << name;
  }
  // Members the witness does not know are allowed (signed like the rest).
  head_edit("extra member", [](json& h) { h["installation"] = {{"name", "test"}}; });
  auto extra = w->submit(bodies.back().second);
  EXPECT_EQ(code_of(extra), "<ok>") << detail_of(extra);
  EXPECT_TRUE(refusals().empty());
}

TEST_F(WitnessTest, TheStateSurvivesARestart) {
  Log log;
  log.grow_to(7);
  json first;
  {
    auto w = open();
    ASSERT_TRUE(w);
    first = offer(log, 0);
    ASSERT_EQ(code_of(w->submit(first)), "<ok>");
    // One witness per state folder.
    auto second = Witness::open(config());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, "state_locked");
  }
  EXPECT_FALSE(fs::exists(dir_ / "state/.latest.json.tmp"));
  auto w = open();
  ASSERT_TRUE(w);
  auto l = w->latest();
  ASSERT_TRUE(l);
  EXPECT_EQ((*l)["size"], 7);
  EXPECT_EQ((*l)["head"], first["checkpoint"]["head"]);
  // It continues from 7, not from 0.
  log.grow_to(12);
  EXPECT_EQ(code_of(w->submit(offer(log, 0))), "wrong_previous_size");
  Log forged(2);
  forged.grow_to(12);
  EXPECT_EQ(code_of(w->submit(
                request(sign_head(forged.head(), keys().system_sign), 7, forged.proof_from(7)))),
            "inconsistent");
  EXPECT_EQ(code_of(w->submit(offer(log, 7))), "<ok>");
  w.reset();

  // A state it cannot read is never taken for "nothing co-signed yet".
  { std::ofstream(dir_ / "state/latest.json", std::ios::trunc) << "{\"head\":"; }
  auto corrupt = Witness::open(config());
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code, "state_corrupt");
  {
    json state = {{"head", forged.head("aaj:100140011059:other")},
                  {"signature", "x"},
                  {"cosignature", "y"},
                  {"witness", "w"}};
    std::ofstream(dir_ / "state/latest.json", std::ios::trunc) << state.dump();
  }
  auto other = Witness::open(config());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "state_mismatch");
}

TEST_F(WitnessTest, AFailedStateWriteStopsCosigningUntilRestart) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(3);
  ASSERT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
  // A directory where the temporary file goes: open() fails, for root too.
  fs::create_directory(dir_ / "state/.latest.json.tmp");
  log.grow_to(5);
  auto r = w->submit(offer(log, 3));
  ASSERT_EQ(code_of(r), "witness_storage_failed");
  EXPECT_EQ(http_status(r.error().code), 503);
  EXPECT_EQ((*w->latest())["size"], 3);  // no co-signature was given for 5
  fs::remove(dir_ / "state/.latest.json.tmp");
  EXPECT_EQ(code_of(w->submit(offer(log, 3))), "witness_storage_failed");
  w.reset();
  w = open();
  ASSERT_TRUE(w);
  EXPECT_EQ((*w->latest())["size"], 3);
  EXPECT_EQ(code_of(w->submit(offer(log, 3))), "<ok>");
}

TEST_F(WitnessTest, ConcurrentSubmissionsAreSerialized) {
  auto w = open();
  ASSERT_TRUE(w);
  Log log;
  log.grow_to(3);
  ASSERT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
  // Eight offers race to extend 3 with eight different heads of size 12, each consistent with 3.
  std::vector<json> offers;
  for (int i = 0; i < 8; ++i) {
    Log fork(3 + i);
    fork.grow_to(12);
    offers.push_back(request(sign_head(fork.head(), keys().system_sign), 3, fork.proof_from(3)));
  }
  std::atomic<int> accepted{0}, wrong_size{0};
  std::vector<std::thread> threads;
  for (const auto& o : offers)
    threads.emplace_back([&, o] {
      auto r = w->submit(o);
      if (r)
        ++accepted;
      else if (r.error().code == "wrong_previous_size")
        ++wrong_size;
    });
  for (auto& t : threads) t.join();
  // Exactly one extends 3; the others were checked against the state it left.
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(wrong_size.load(), 7);
}

TEST_F(WitnessTest, RevocationIsCheckedWithACrlFolder) {
  fs::create_directories(dir_ / "crl");
  Config c = config();
  c.crl_dir = dir_ / "crl";
  Log log;
  log.grow_to(2);
  {
    // No CRL: fail closed.
    auto w = open(c);
    ASSERT_TRUE(w);
    auto r = w->submit(offer(log, 0));
    ASSERT_EQ(code_of(r), "bad_signature");
    EXPECT_EQ(r.error().detail.rfind("revocation_unavailable", 0), 0u) << r.error().detail;
  }
  const auto& k = keys();
  const auto now = time::now();
  auto crl = k.system_ca.make_crl({{k.system_sign.issued.serial_hex, now - std::chrono::hours(1)}},
                                  now - std::chrono::hours(2), now + std::chrono::hours(24));
  ASSERT_TRUE(crl.ok());
  std::ofstream(dir_ / "crl/system.crl") << *crl;
  {
    auto w = open(c);
    ASSERT_TRUE(w);
    auto r = w->submit(offer(log, 0));
    ASSERT_EQ(code_of(r), "bad_signature");
    EXPECT_EQ(r.error().detail.rfind("revoked", 0), 0u) << r.error().detail;
  }
  crl = k.system_ca.make_crl({}, now - std::chrono::hours(1), now + std::chrono::hours(24));
  ASSERT_TRUE(crl.ok());
  std::ofstream(dir_ / "crl/system.crl", std::ios::trunc) << *crl;
  auto w = open(c);
  ASSERT_TRUE(w);
  EXPECT_EQ(code_of(w->submit(offer(log, 0))), "<ok>");
}

TEST_F(WitnessTest, OpenRefusesABadConfiguration) {
  auto code = [](Config c) {
    auto w = Witness::open(std::move(c));
    return w.ok() ? std::string("<ok>") : w.error().code;
  };
  Config c = config();
  c.operator_bin = "12345";
  EXPECT_EQ(code(c), "config");
  c = config();
  c.name = "";
  EXPECT_EQ(code(c), "config");
  c = config();
  c.log_id = "";
  EXPECT_EQ(code(c), "config");
  c = config();
  c.key_store = dir_ / "witness_auth.p12";  // co-signatures need a signing certificate
  EXPECT_EQ(code(c), "config");
  c = config();
  c.key_store_password = "wrong";
  EXPECT_EQ(code(c), "bad_password");
  c = config();
  c.trust = {dir_ / "missing.pem"};
  EXPECT_EQ(code(c), "unreadable");
  c = config();
  c.crl_dir = dir_ / "no-such-folder";
  EXPECT_EQ(code(c), "unreadable");
  EXPECT_EQ(code(config()), "<ok>");
}

TEST_F(WitnessTest, VerifySignedHeadChecksTheBin) {
  auto trust = pki::TrustStore::load({dir_ / "system_ca.pem"});
  ASSERT_TRUE(trust.ok());
  pki::CmsVerifier v(*trust, nullptr);
  Log log;
  log.grow_to(2);
  json signed_head = sign_head(log.head(), keys().system_sign);
  auto who = verify_signed_head(signed_head, v, kOperatorBin, time::now());
  ASSERT_TRUE(who.ok()) << who.error().detail;
  EXPECT_EQ(who->bin, kOperatorBin);
  EXPECT_EQ(verify_signed_head(signed_head, v, kOtherBin, time::now()).error().code,
            "bad_signature");
  EXPECT_EQ(verify_signed_head(signed_head, v, "", time::now()).error().code, "bad_signature");
  EXPECT_EQ(verify_signed_head(json::array(), v, kOperatorBin, time::now()).error().code,
            "malformed");
  // The canonical form is dump(): key order and whitespace of the text do not matter.
  json reparsed = json::parse(signed_head.dump(2));
  EXPECT_TRUE(verify_signed_head(reparsed, v, kOperatorBin, time::now()).ok());
  EXPECT_EQ(canonical_head(json::parse(R"({"b":1, "a":"ü"})")), "{\"a\":\"ü\",\"b\":1}");
}

// ---- The HTTP routes (no sockets) ----

http::Request req(const std::string& method, const std::string& path, std::string body = "") {
  http::Request r;
  r.method = method;
  r.target = path;
  r.path = path;
  r.body = std::move(body);
  r.remote = "127.0.0.1:1";
  return r;
}

TEST_F(WitnessTest, RoutesAnswerWithTheSpecsStatusesAndErrorShape) {
  auto w = open();
  ASSERT_TRUE(w);
  auto l = handle(*w, req("GET", "/v1/latest"));
  EXPECT_EQ(l.status, 404);
  json e = json::parse(l.body);
  EXPECT_EQ(e["error"]["code"], "no_checkpoint");
  EXPECT_FALSE(e["error"]["message"]["kk"].get<std::string>().empty());

  auto h = handle(*w, req("GET", "/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["size"], 0);

  EXPECT_EQ(handle(*w, req("POST", "/v1/checkpoint", "{not json")).status, 400);
  EXPECT_EQ(json::parse(handle(*w, req("POST", "/v1/checkpoint", "[1]")).body)["error"]["code"],
            "malformed");
  EXPECT_EQ(handle(*w, req("POST", "/v1/checkpoint", std::string(100, '[') + std::string(100, ']')))
                .status,
            400);
  EXPECT_EQ(handle(*w, req("GET", "/v1/checkpoint")).status, 405);
  EXPECT_EQ(handle(*w, req("POST", "/v1/latest")).status, 405);
  EXPECT_EQ(handle(*w, req("GET", "/nothing")).status, 404);

  Log log;
  log.grow_to(5);
  json ok_req = offer(log, 0);
  auto ok = handle(*w, req("POST", "/v1/checkpoint", ok_req.dump()));
  ASSERT_EQ(ok.status, 200) << ok.body;
  json cos = json::parse(ok.body);
  EXPECT_EQ(cos.size(), 2u);  // {"witness","cosignature"}
  expect_cosignature(ok_req["checkpoint"]["head"], cos);

  auto untrusted =
      handle(*w, req("POST", "/v1/checkpoint", offer(log, 0, keys().untrusted_sign).dump()));
  EXPECT_EQ(untrusted.status, 403);
  EXPECT_EQ(json::parse(untrusted.body)["error"]["code"], "bad_signature");

  Log forged(1);
  forged.grow_to(5);
  auto fork = handle(*w, req("POST", "/v1/checkpoint",
                             request(sign_head(forged.head(), keys().system_sign), 5, {}).dump()));
  EXPECT_EQ(fork.status, 409);
  json f = json::parse(fork.body);
  EXPECT_EQ(f["error"]["code"], "inconsistent");
  EXPECT_FALSE(f["error"]["detail"].get<std::string>().empty());
  EXPECT_EQ(f["latest"], (json{{"size", 5}, {"root", merkle::to_hex(log.root())}}));

  auto latest = handle(*w, req("GET", "/v1/latest"));
  ASSERT_EQ(latest.status, 200);
  json lj = json::parse(latest.body);
  for (const char* k : {"size", "root", "head", "signature", "cosignature"})
    EXPECT_TRUE(lj.contains(k)) << k;
  EXPECT_EQ(lj["size"], 5);
  EXPECT_EQ(lj["cosignature"], cos["cosignature"]);
  EXPECT_EQ(json::parse(handle(*w, req("GET", "/healthz")).body)["size"], 5);
}

TEST(WitnessCatalogue, EveryCodeTheWitnessAnswersWithHasMessages) {
  for (const auto& code : error_codes()) {
    EXPECT_TRUE(messages::has(code)) << code;
    for (const char* lang : {"kk", "ru", "en"})
      EXPECT_FALSE(messages::localized(code)[lang].get<std::string>().empty()) << code << lang;
  }
  for (const char* code : {"malformed", "bad_signature", "unknown_log", "stale",
                           "wrong_previous_size", "inconsistent", "witness_unavailable"})
    EXPECT_NE(std::find(error_codes().begin(), error_codes().end(), code), error_codes().end());
}

// ---- The configuration file ----

TEST_F(WitnessTest, TheConfigurationFileResolvesPathsAndNamesWrongKeys) {
  const std::string good = R"(
name = "prosecutor-general"
listen = "127.0.0.1:8600"
tls_cert = "tls/server.pem"
tls_key = "tls/server.key"
log_id = "aaj:100140011059:test"
operator_bin = "100140011059"
trust = ["system_ca.pem"]
key_store = "witness.p12"
key_store_password_file = "witness.pass"
state_dir = "state"
)";
  auto write = [&](const std::string& text) {
    std::ofstream(dir_ / "witness.toml", std::ios::trunc) << text;
    return load_config(dir_ / "witness.toml");
  };
  auto c = write(good);
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->witness.name, "prosecutor-general");
  EXPECT_EQ(c->listen, "127.0.0.1:8600");
  EXPECT_EQ(c->tls_cert, dir_ / "tls/server.pem");
  EXPECT_EQ(c->witness.trust, std::vector<fs::path>{dir_ / "system_ca.pem"});
  EXPECT_EQ(c->witness.state_dir, dir_ / "state");
  EXPECT_EQ(c->witness.key_store_password, kPassword);  // without the line break
  EXPECT_TRUE(c->witness.crl_dir.empty());
  EXPECT_EQ(c->witness.crl_reload_seconds, 60);
  EXPECT_TRUE(Witness::open(c->witness).ok());

  auto with_crl = write(good + "crl_dir = \"/abs/crl\"\ncrl_reload_seconds = 5\n");
  ASSERT_TRUE(with_crl.ok()) << with_crl.error().detail;
  EXPECT_EQ(with_crl->witness.crl_dir, fs::path("/abs/crl"));
  EXPECT_EQ(with_crl->witness.crl_reload_seconds, 5);

  auto error_of = [&](const std::string& text) {
    auto r = write(text);
    return r.ok() ? std::string("<ok>") : r.error().code + ": " + r.error().detail;
  };
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  auto e = error_of(replace("operator_bin = \"100140011059\"", "operator_bin = 100140011059"));
  EXPECT_NE(e.find("operator_bin"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("config", 0), 0u) << e;
  e = error_of(replace("trust = [\"system_ca.pem\"]", "trust = \"system_ca.pem\""));
  EXPECT_NE(e.find("trust"), std::string::npos) << e;
  e = error_of(replace("trust = [\"system_ca.pem\"]", "trust = [\"system_ca.pem\", 5]"));
  EXPECT_NE(e.find("trust[1]"), std::string::npos) << e;
  e = error_of(good + "crl-dir = \"crl\"\n");
  EXPECT_NE(e.find("unknown key \"crl-dir\""), std::string::npos) << e;
  e = error_of(good + "crl_dir = 5\n");
  EXPECT_NE(e.find("crl_dir"), std::string::npos) << e;
  e = error_of(replace("state_dir = \"state\"\n", ""));
  EXPECT_NE(e.find("state_dir is required"), std::string::npos) << e;
  e = error_of(good + "crl_reload_seconds = 0\n");
  EXPECT_NE(e.find("crl_reload_seconds"), std::string::npos) << e;
  // Exact typing: toml++'s converting read took `true` for the integer 1 (W6); a float is not an
  // integer either.
  e = error_of(good + "crl_reload_seconds = true\n");
  EXPECT_NE(e.find("wrong type for crl_reload_seconds"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("config", 0), 0u) << e;
  e = error_of(good + "crl_reload_seconds = 5.0\n");
  EXPECT_NE(e.find("wrong type for crl_reload_seconds"), std::string::npos) << e;
  e = error_of(replace("name = \"prosecutor-general\"", "name = true"));
  EXPECT_NE(e.find("wrong type for name"), std::string::npos) << e;
  e = error_of(replace("witness.pass", "missing.pass"));
  EXPECT_EQ(e.rfind("unreadable", 0), 0u) << e;
  e = error_of("name = \n");
  EXPECT_EQ(e.rfind("config", 0), 0u) << e;
}

}  // namespace
}  // namespace aaj::witness
