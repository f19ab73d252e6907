// The witness as a real process: `aaj witness --config …` on a loopback port with its own TLS
// certificate, and this test acting as the system with WitnessClient over HTTPS. The cases run
// in order against one witness process (restarted by one of them).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "harness.h"
#include "http/runtime.h"
#include "journal/merkle.h"
#include "pki/cms.h"
#include "support.h"
#include "witness/client.h"
#include "witness/witness.h"

namespace aaj::testing {
namespace {

namespace fs = std::filesystem;
namespace merkle = journal::merkle;
using nlohmann::json;
using namespace aaj::witness::test;  // NOLINT(google-build-using-namespace)

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<witness::Cosignature> submit(const witness::WitnessClient& c, const json& signed_head,
                                    int64_t m, const std::vector<std::string>& proof) {
  auto p = std::make_shared<std::promise<Result<witness::Cosignature>>>();
  auto f = p->get_future();
  c.submit(signed_head, m, proof,
           [p](Result<witness::Cosignature> r) { p->set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    return Error{"test_hang", "no answer in 30 s"};
  return f.get();
}

Result<std::optional<witness::Checkpoint>> latest(const witness::WitnessClient& c) {
  auto p = std::make_shared<std::promise<Result<std::optional<witness::Checkpoint>>>>();
  auto f = p->get_future();
  c.latest([p](Result<std::optional<witness::Checkpoint>> r) { p->set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    return Error{"test_hang", "no answer in 30 s"};
  return f.get();
}

template <class T>
std::string code_of(const Result<T>& r) {
  return r ? "<ok>" : r.error().code;
}

// The witness's files, configuration and process; the system's client.
class WitnessIt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/aaj-witness-it-XXXXXX";
    dir_ = new fs::path(mkdtemp(tmpl));
    ASSERT_TRUE(write_files(*dir_));
    port_ = free_port();
    std::ofstream(*dir_ / "witness.toml") << R"(# written by tests/integration/witness_test.cpp
name = "prosecutor-general"
listen = "127.0.0.1:)" << port_ << R"("
tls_cert = "tls/server.pem"
tls_key = "tls/server.key"
log_id = ")" << kLogId << R"("
operator_bin = ")" << kOperatorBin << R"("
trust = ["system_ca.pem"]
key_store = "witness.p12"
key_store_password_file = "witness.pass"
state_dir = "state"
)";
    rt_ = new std::shared_ptr<http::Runtime>(http::Runtime::start({1, 0}));
    witness::ClientOptions o;
    o.url = "https://127.0.0.1:" + std::to_string(port_);
    o.ca_file = (*dir_ / "witness_ca.pem").string();
    auto c = witness::WitnessClient::create(*rt_, o);
    ASSERT_TRUE(c.ok()) << c.error().detail;
    client_ = new std::shared_ptr<witness::WitnessClient>(*c);
    log_ = new Log();
    start();
  }

  static void TearDownTestSuite() {
    delete process_;
    process_ = nullptr;
    delete client_;
    if (rt_) (*rt_)->stop();
    delete rt_;
    delete log_;
    if (dir_ && !std::getenv("AAJ_KEEP_TEST_DIRS")) {
      std::error_code ec;
      fs::remove_all(*dir_, ec);
    }
    delete dir_;
  }

  static void start() {
    process_ = new Process({AAJ_BINARY, "witness", "--config", (*dir_ / "witness.toml").string()},
                           *dir_ / "witness");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = latest(client());
      if (r || r.error().code != "witness_unavailable") return;
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the witness did not start: " << slurp(*dir_ / "witness.out")
           << slurp(*dir_ / "witness.err");
  }

  static void stop() {
    delete process_;  // SIGTERM, waits
    process_ = nullptr;
  }

  static const witness::WitnessClient& client() { return **client_; }

  // The witness's co-signature verifies over the head with the witness's certificate.
  static void expect_cosigned(const json& head, const witness::Cosignature& c) {
    EXPECT_EQ(c.witness, "prosecutor-general");
    auto trust = pki::TrustStore::load({*dir_ / "witness_ca.pem"});
    ASSERT_TRUE(trust.ok());
    pki::CmsVerifier v(*trust, nullptr);
    auto who = witness::verify_cosignature(head, c.cosignature_b64, v, kProsecutorBin, time::now());
    EXPECT_TRUE(who.ok()) << who.error().detail;
  }

  static inline fs::path* dir_ = nullptr;
  static inline uint16_t port_ = 0;
  static inline Process* process_ = nullptr;
  static inline std::shared_ptr<http::Runtime>* rt_ = nullptr;
  static inline std::shared_ptr<witness::WitnessClient>* client_ = nullptr;
  static inline Log* log_ = nullptr;  // the honest log
  static inline std::string last_cosignature_;
};

TEST_F(WitnessIt, CosignsAGrowingLogOverHttps) {
  auto none = latest(client());
  ASSERT_EQ(code_of(none), "<ok>") << none.error().detail;
  EXPECT_FALSE(none->has_value());

  int64_t m = 0;
  for (int64_t n : {3, 10, 25}) {
    log_->grow_to(n);
    json signed_head = sign_head(log_->head(kLogId, m + 1), keys().system_sign);
    auto r = submit(client(), signed_head, m, log_->proof_from(m));
    ASSERT_EQ(code_of(r), "<ok>") << "size " << n << ": " << r.error().detail;
    expect_cosigned(signed_head["head"], *r);
    last_cosignature_ = r->cosignature_b64;
    m = n;
  }
  auto l = latest(client());
  ASSERT_EQ(code_of(l), "<ok>");
  ASSERT_TRUE(l->has_value());
  const witness::Checkpoint& cp = **l;
  EXPECT_EQ(cp.size, 25);
  EXPECT_EQ(cp.root, merkle::to_hex(log_->root()));
  EXPECT_EQ(cp.head["size"], 25);
  EXPECT_EQ(cp.cosignature, last_cosignature_);
  EXPECT_EQ(cp.witness, "prosecutor-general");
  expect_cosigned(cp.head, {cp.witness, cp.cosignature});
}

TEST_F(WitnessIt, RefusesARewrittenHistory) {
  ASSERT_EQ(log_->size(), 25);
  // Same size, another root (record 20 rewritten).
  Log same_size(20);
  same_size.grow_to(25);
  auto r = submit(client(), sign_head(same_size.head(), keys().system_sign), 25, {});
  ASSERT_EQ(code_of(r), "inconsistent");
  EXPECT_NE(r.error().detail.find("the witness holds size 25"), std::string::npos)
      << r.error().detail;
  // A fork at a larger size, with the proof that holds for the forged tree.
  Log forged(11);
  forged.grow_to(40);
  r = submit(client(), sign_head(forged.head(), keys().system_sign), 25, forged.proof_from(25));
  ASSERT_EQ(code_of(r), "inconsistent");
  // The honest log's older head, and a proof from a size the witness does not hold.
  Log ten;
  ten.grow_to(10);
  r = submit(client(), sign_head(ten.head(), keys().system_sign), 25, {});
  EXPECT_EQ(code_of(r), "stale");
  Log honest;
  honest.grow_to(30);
  r = submit(client(), sign_head(honest.head(), keys().system_sign), 10, honest.proof_from(10));
  EXPECT_EQ(code_of(r), "wrong_previous_size");
  // Not the operator's signature; another log.
  r = submit(client(), sign_head(honest.head(), keys().untrusted_sign), 25, honest.proof_from(25));
  EXPECT_EQ(code_of(r), "bad_signature");
  r = submit(client(), sign_head(honest.head("aaj:100140011059:elsewhere"), keys().system_sign), 25,
             honest.proof_from(25));
  EXPECT_EQ(code_of(r), "unknown_log");

  // The witness still holds 25 and the refusals of operator-signed heads are on record.
  auto l = latest(client());
  ASSERT_EQ(code_of(l), "<ok>");
  EXPECT_EQ((*l)->size, 25);
  auto lines = read_json_lines(*dir_ / "state/refused.log");
  ASSERT_EQ(lines.size(), 5u);
  std::vector<std::string> reasons;
  for (const auto& line : lines) reasons.push_back(line["reason"]["code"]);
  EXPECT_EQ(reasons, (std::vector<std::string>{"inconsistent", "inconsistent", "stale",
                                               "wrong_previous_size", "unknown_log"}));
  EXPECT_EQ(lines[1]["checkpoint"]["head"]["size"], 40);
  EXPECT_EQ(lines[1]["held"]["head"]["size"], 25);
  EXPECT_NE(slurp(*dir_ / "witness.out").find("\"event\":\"refused\""), std::string::npos);
}

TEST_F(WitnessIt, KeepsItsStateAcrossARestart) {
  stop();
  // Stopped: the system sees it as unavailable.
  log_->grow_to(31);
  auto down =
      submit(client(), sign_head(log_->head(), keys().system_sign), 25, log_->proof_from(25));
  EXPECT_EQ(code_of(down), "witness_unavailable");
  start();
  auto l = latest(client());
  ASSERT_EQ(code_of(l), "<ok>");
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->size, 25);
  EXPECT_EQ((*l)->cosignature, last_cosignature_);
  // It continues from 25: from 0 is refused, the fork still is, the honest log is co-signed.
  auto r = submit(client(), sign_head(log_->head(), keys().system_sign), 0, {});
  EXPECT_EQ(code_of(r), "wrong_previous_size");
  Log forged(11);
  forged.grow_to(31);
  r = submit(client(), sign_head(forged.head(), keys().system_sign), 25, forged.proof_from(25));
  EXPECT_EQ(code_of(r), "inconsistent");
  json signed_head = sign_head(log_->head(kLogId, 26), keys().system_sign);
  r = submit(client(), signed_head, 25, log_->proof_from(25));
  ASSERT_EQ(code_of(r), "<ok>") << r.error().detail;
  expect_cosigned(signed_head["head"], *r);
  EXPECT_EQ((*latest(client()))->size, 31);
}

TEST_F(WitnessIt, ASecondWitnessOnTheSameStateAndBadConfigurationsDoNotStart) {
  auto second = run_aaj({"witness", "--config", (*dir_ / "witness.toml").string(), "--listen",
                         "127.0.0.1:" + std::to_string(free_port())});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.out.find("state_locked"), std::string::npos) << second.out << second.err;

  std::string text = slurp(*dir_ / "witness.toml");
  std::string bad = text;
  const std::string key = "operator_bin = \"";
  bad.replace(bad.find(key), key.size() + 13, "operator_bin = 100140011059");
  std::ofstream(*dir_ / "bad.toml") << bad;
  auto r = run_aaj({"witness", "--config", (*dir_ / "bad.toml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("config_error"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("operator_bin"), std::string::npos) << r.out << r.err;
  // The running witness is unaffected.
  EXPECT_EQ(code_of(latest(client())), "<ok>");
}

// A configuration path that is not UTF-8 used to end `aaj serve` with an uncaught nlohmann
// type_error (the path in the JSON error line): each service now says what is wrong and exits 1.
TEST(ServiceCommands, AConfigurationPathThatIsNotUtf8IsAClearError) {
  for (const char* command : {"serve", "sourcesim", "witness"}) {
    auto r = run_aaj({command, "--config", "\xff.toml"});
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("\"event\":\"config_error\""), std::string::npos)
        << command << ": " << r.out << r.err;
    // The byte is shown as U+FFFD.
    EXPECT_NE(r.out.find("\xef\xbf\xbd.toml"), std::string::npos) << command << ": " << r.out;
  }
}

}  // namespace
}  // namespace aaj::testing
