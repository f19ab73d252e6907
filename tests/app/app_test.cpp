#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "app/config.h"
#include "app/gateway_impl.h"
#include "app/replay_guard.h"
#include "app/traffic.h"

using namespace aaj;
namespace fs = std::filesystem;

TEST(ReplayGuard, SecondUseOfANonceIsARefusalPerSigner) {
  app::ReplayGuard g(std::chrono::seconds(300));
  auto now = time::now();
  EXPECT_TRUE(g.remember("850615300000", "nonce-1", now));
  EXPECT_FALSE(g.remember("850615300000", "nonce-1", now + std::chrono::seconds(1)));
  EXPECT_TRUE(g.remember("990106300596", "nonce-1", now));  // another signer's nonce space
  EXPECT_TRUE(g.remember("850615300000", "nonce-2", now));
}

TEST(ReplayGuard, RestoredNoncesAreRefusedAndOldOnesForgotten) {
  app::ReplayGuard g(std::chrono::seconds(300));
  auto now = time::now();
  g.restore("850615300000", "from-log", now - std::chrono::seconds(30));
  EXPECT_FALSE(g.remember("850615300000", "from-log", now));
  // Pairs older than twice the window are purged (such documents are stale anyway).
  EXPECT_TRUE(g.remember("850615300000", "old", now - std::chrono::seconds(2000)));
  EXPECT_TRUE(g.remember("850615300000", "trigger-purge", now + std::chrono::seconds(400)));
  EXPECT_TRUE(g.remember("850615300000", "old", now + std::chrono::seconds(401)));
}

TEST(Config, ResolvesRelativePathsAndRejectsMissingTls) {
  char tmpl[] = "/tmp/aaj-cfg-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "a.toml") << R"(
[server]
listen = "127.0.0.1:9443"
tls_cert = "pki/server.pem"
tls_key = "pki/server.key"
[pki]
trust = ["pki/ca.pem"]
crl_dir = "pki/crl"
[sources.default]
url = "http://127.0.0.1:9470"
[sources.R11]
url = "http://127.0.0.1:9471"
timeout_ms = 700
)";
  auto c = app::load_config(dir / "a.toml");
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->tls_cert, dir / "pki/server.pem");
  EXPECT_EQ(c->journal_dir, dir / "data/journal");
  ASSERT_EQ(c->source_overrides.count("R11"), 1u);
  EXPECT_EQ(c->source_overrides["R11"].timeout_ms, 700);
  EXPECT_EQ(c->source_overrides["R11"].connect_timeout_ms, c->default_source.connect_timeout_ms);

  std::ofstream(dir / "b.toml") << "[pki]\ntrust=[\"x\"]\ncrl_dir=\"y\"\n";
  auto b = app::load_config(dir / "b.toml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().detail.find("tls_cert"), std::string::npos);
  std::ofstream(dir / "c.toml") << "this is = = not toml";
  EXPECT_FALSE(app::load_config(dir / "c.toml").ok());
  fs::remove_all(dir);
}

TEST(Config, AValueOfTheWrongTypeIsAnErrorNotTheDefault) {
  char tmpl[] = "/tmp/aaj-cfg-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "a.toml") << R"(
[server]
listen = 8443
tls_cert = "s.pem"
tls_key = "s.key"
[pki]
trust = ["ca.pem"]
crl_dir = "crl"
[sources.default]
url = "http://127.0.0.1:9470"
timeout_ms = "fast"
)";
  auto c = app::load_config(dir / "a.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().detail.find("server.listen"), std::string::npos) << c.error().detail;
  EXPECT_NE(c.error().detail.find("sources.default.timeout_ms"), std::string::npos);
  fs::remove_all(dir);
}

// Exact typing and ranges (W6): a negative journal.segment_records used to wrap to a huge
// unsigned (never sealing), a boolean read as the integer 1, a float as an integer.
TEST(Config, ANegativeCountOrAConvertibleValueIsAnErrorNamingTheKey) {
  char tmpl[] = "/tmp/aaj-cfg-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  const std::string base = R"(
[server]
listen = "127.0.0.1:9443"
tls_cert = "s.pem"
tls_key = "s.key"
[pki]
trust = ["ca.pem"]
crl_dir = "crl"
[sources.default]
url = "http://127.0.0.1:9470"
)";
  auto load = [&](const std::string& extra) {
    std::ofstream(dir / "a.toml", std::ios::trunc) << base << extra;
    return app::load_config(dir / "a.toml");
  };
  auto ok = load("[journal]\nsegment_records = 5000\n");
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->segment_records, 5000u);
  ok = load("[journal]\nsegment_records = 0\n");  // 0: sealed by time only
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->segment_records, 0u);

  // The group-commit wait: 1000 µs unless configured, 0..100000 µs.
  EXPECT_EQ(ok->commit_delay_us, 1000);
  ok = load("[journal]\ncommit_delay_us = 0\n");
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->commit_delay_us, 0);
  for (const char* bad : {"-1", "100001", "1.5", "\"2ms\""}) {
    auto d = load(std::string("[journal]\ncommit_delay_us = ") + bad + "\n");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.error().detail.find("journal.commit_delay_us"), std::string::npos)
        << d.error().detail;
  }

  auto neg = load("[journal]\nsegment_records = -1\n");
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.error().code, "config");
  EXPECT_NE(neg.error().detail.find("journal.segment_records = -1 is out of range"),
            std::string::npos)
      << neg.error().detail;
  std::ofstream(dir / "a.toml", std::ios::trunc)
      << std::string(base).replace(base.find("tls_key"), 0, "max_body_bytes = -1\n");
  auto mb = app::load_config(dir / "a.toml");
  ASSERT_FALSE(mb.ok());
  EXPECT_NE(mb.error().detail.find("server.max_body_bytes = -1 is out of range"), std::string::npos)
      << mb.error().detail;

  std::ofstream(dir / "a.toml", std::ios::trunc)
      << base << "[auth]\ninactive_days = true\nsession_ttl_seconds = 60.0\n";
  auto typed = app::load_config(dir / "a.toml");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.error().detail.find("auth.inactive_days"), std::string::npos)
      << typed.error().detail;
  EXPECT_NE(typed.error().detail.find("auth.session_ttl_seconds"), std::string::npos)
      << typed.error().detail;
  auto big = load("[auth]\ninactive_days = 4294967296\n");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().detail.find("auth.inactive_days = 4294967296 is out of range"),
            std::string::npos)
      << big.error().detail;
  // Arrays of strings hold strings only: an element of another type is named, not skipped.
  const std::string trust = "trust = [\"ca.pem\"]";
  std::ofstream(dir / "a.toml", std::ios::trunc)
      << std::string(base).replace(base.find(trust), trust.size(), "trust = [\"ca.pem\", 7]");
  auto arr = app::load_config(dir / "a.toml");
  ASSERT_FALSE(arr.ok());
  EXPECT_NE(arr.error().detail.find("pki.trust[1]"), std::string::npos) << arr.error().detail;
  fs::remove_all(dir);
}

#include "auth/challenges.h"

TEST(Challenges, OneClientCannotExhaustTheTable) {
  auth::ChallengeTable t(std::chrono::seconds(120), 1000, 4);
  auto now = time::now();
  std::vector<auth::Challenge> mine;
  for (int i = 0; i < 4; ++i) {
    auto c = t.create(now, "10.0.0.1");
    ASSERT_TRUE(c);
    mine.push_back(*c);
  }
  EXPECT_FALSE(t.create(now, "10.0.0.1"));  // the flooder is capped…
  EXPECT_TRUE(t.create(now, "10.0.0.2"));   // …everyone else still enters
  ASSERT_TRUE(t.take(mine[0].id, now));     // answering one frees a place
  EXPECT_TRUE(t.create(now, "10.0.0.1"));
  EXPECT_FALSE(t.take(mine[0].id, now));  // a challenge is answered once
  // Expired challenges free their places too.
  auto later = now + std::chrono::seconds(121);
  EXPECT_TRUE(t.create(later, "10.0.0.1"));
  EXPECT_FALSE(t.take(mine[1].id, later));  // and cannot be answered
}

TEST(RequestIds, AreVersion7UuidsTimeOrderedAndUnique) {
  std::set<std::string> seen;
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  auto ms_now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto ms_of = [](const std::string& id) {
    return std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  };
  const long long before = ms_now();
  std::string previous;
  for (int i = 0; i < 2000; ++i) {  // crosses the 4 KiB refills of the random pool
    std::string id = app::detail::uuid_v7();
    ASSERT_TRUE(std::regex_match(id, shape)) << id;
    ASSERT_TRUE(seen.insert(id).second) << id;
    // The first 48 bits are the Unix time in milliseconds, never going back.
    ASSERT_GE(ms_of(id), before) << id;
    ASSERT_LE(ms_of(id), ms_now()) << id;
    if (!previous.empty()) {
      ASSERT_GE(ms_of(id), ms_of(previous));
    }
    previous = id;
  }
  // Ids made in different milliseconds sort in the order they were made.
  std::string a = app::detail::uuid_v7();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string b = app::detail::uuid_v7();
  EXPECT_LT(a, b);
}

TEST(Traffic, SummaryCountsByPathAndStatusAndResets) {
  app::TrafficSummary t;
  EXPECT_TRUE(t.take(10).is_null());
  t.note("/api/v1/requests", 200, 100);
  t.note("/api/v1/requests", 200, 300);
  t.note("/api/v1/requests", 403, 50);
  t.note("/api/v1/system/requests", 502, 7);
  auto j = t.take(10);
  ASSERT_TRUE(j.is_object());
  const auto& r = j["paths"]["/api/v1/requests"];
  EXPECT_EQ(r["requests"], 3);
  EXPECT_EQ(r["by_status"]["200"], 2);
  EXPECT_EQ(r["by_status"]["403"], 1);
  EXPECT_EQ(r["max_us"], 300);
  EXPECT_EQ(r["mean_us"], 150);
  EXPECT_EQ(j["paths"]["/api/v1/system/requests"]["by_status"]["502"], 1);
  EXPECT_TRUE(t.take(10).is_null());
}
