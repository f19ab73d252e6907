// The source network: resilience decorator (breaker, limiter, retry), SourceRouter health and
// fetch_many, against the real source simulator started in-process and driven by POST /control.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "core/ids.h"
#include "sources/connector.h"
#include "sources/sim/generator.h"
#include "tools/sourcesim/service.h"

namespace aaj::sources {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

long ms_since(Clock::time_point t0) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

class SourceNetwork : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = sourcesim::start("127.0.0.1", 0);
    ASSERT_TRUE(s.ok()) << s.error().detail;
    sim_ = std::move(*s);
    url_ = "http://127.0.0.1:" + std::to_string(sim_->port());
  }
  void TearDown() override {
    if (sim_) sim_->stop();
  }

  // POST /control {resource, mode, delay_ms}.
  void control(const std::string& resource, const std::string& mode, int delay_ms = 0) {
    CURL* h = curl_easy_init();
    ASSERT_NE(h, nullptr);
    std::string body = json{{"resource", resource}, {"mode", mode}, {"delay_ms", delay_ms}}.dump();
    std::string u = url_ + "/control";
    curl_easy_setopt(h, CURLOPT_URL, u.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    ASSERT_EQ(rc, CURLE_OK);
    ASSERT_EQ(status, 200);
  }

  ConnectorConfig cfg(const std::string& name = "") const {
    ConnectorConfig c;
    c.url = url_;
    c.name = name;
    c.connect_timeout_ms = 200;
    c.timeout_ms = 1000;
    c.retry_backoff_ms = 10;
    return c;
  }

  std::shared_ptr<SourceRouter> router(const ConnectorConfig& fallback,
                                       const std::map<std::string, ConnectorConfig>& o = {}) {
    auto r = SourceRouter::create(fallback, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
    return r.ok() ? *r : nullptr;
  }

  static Query person(const std::string& resource = "R01", uint32_t n = 1) {
    return {resource, json{{"iin", sim::synthetic_iin(n)}}, "req-" + std::to_string(n)};
  }
  static Query missing_person() {
    for (int day = 1; day <= 28; ++day)
      if (auto iin = ids::make_iin(1985, 6, day, true, 9999))
        return {"R01", json{{"iin", *iin}}, "req-missing"};
    ADD_FAILURE() << "no valid IIN with serial 9999";
    return {};
  }
  static json source(const SourceRouter& r, const std::string& name) {
    for (const auto& s : r.health())
      if (s["name"] == name) return s;
    ADD_FAILURE() << "no source " << name << " in " << r.health().dump();
    return json::object();
  }

  std::unique_ptr<http::Server> sim_;
  std::string url_;
};

std::string code_of(const Result<Answer>& r) {
  return r.ok() ? "<ok>" : r.error().code;
}

// A port on which nothing listens (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_F(SourceNetwork, BreakerOpensAfterConsecutiveFailuresAndFailsFast) {
  auto c = cfg("s1");
  c.breaker_failures = 3;
  c.breaker_open_ms = 5000;
  auto r = router(c);
  ASSERT_TRUE(r);
  ASSERT_EQ(code_of(r->fetch(person())), "<ok>");
  control("R01", "fail");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  EXPECT_EQ(source(*r, "s1")["state"], "closed");
  EXPECT_EQ(source(*r, "s1")["consecutive_failures"], 2);
  EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  json h = source(*r, "s1");
  EXPECT_EQ(h["state"], "open");
  EXPECT_TRUE(h["open_until"].is_string());
  EXPECT_EQ(h["last_error"]["code"], "source_error");

  // Open: fails at once even though the source would now take 1 s.
  control("R01", "slow", 1000);
  auto t0 = Clock::now();
  auto res = r->fetch(person());
  EXPECT_LT(ms_since(t0), 50);
  ASSERT_EQ(code_of(res), "source_unavailable");
  EXPECT_NE(res.error().detail.find("circuit open until"), std::string::npos) << res.error().detail;
  h = source(*r, "s1");
  EXPECT_EQ(h["requests"], 4);  // the rejected call never reached the source
  EXPECT_EQ(h["rejected"], 1);
  EXPECT_EQ(h["failures"], 3);
}

TEST_F(SourceNetwork, HalfOpenProbeSuccessClosesTheCircuit) {
  auto c = cfg("s1");
  c.breaker_failures = 2;
  c.breaker_open_ms = 150;
  auto r = router(c);
  control("R01", "fail");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  EXPECT_EQ(source(*r, "s1")["state"], "open");
  control("R01", "normal");
  EXPECT_EQ(code_of(r->fetch(person())), "source_unavailable");  // still open
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(source(*r, "s1")["state"], "half_open");
  EXPECT_EQ(code_of(r->fetch(person())), "<ok>");  // the probe
  json h = source(*r, "s1");
  EXPECT_EQ(h["state"], "closed");
  EXPECT_EQ(h["consecutive_failures"], 0);
  EXPECT_TRUE(h["open_until"].is_null());
  EXPECT_TRUE(h["last_success_at"].is_string());
  EXPECT_EQ(code_of(r->fetch(person())), "<ok>");
}

TEST_F(SourceNetwork, HalfOpenProbeFailureReopens) {
  auto c = cfg("s1");
  c.breaker_failures = 2;
  c.breaker_open_ms = 150;
  auto r = router(c);
  control("R01", "fail");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(code_of(r->fetch(person())), "source_error");  // the probe reached the source
  EXPECT_EQ(source(*r, "s1")["state"], "open");
  auto t0 = Clock::now();
  EXPECT_EQ(code_of(r->fetch(person())), "source_unavailable");
  EXPECT_LT(ms_since(t0), 50);
  EXPECT_EQ(source(*r, "s1")["requests"], 3);
}

TEST_F(SourceNetwork, HalfOpenLetsExactlyOneProbeThrough) {
  auto c = cfg("s1");
  c.breaker_failures = 1;
  c.breaker_open_ms = 100;
  auto r = router(c);
  control("R01", "fail");
  EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  control("R01", "slow", 300);
  std::this_thread::sleep_for(milliseconds(150));
  auto probe = std::async(std::launch::async, [&] { return r->fetch(person()); });
  for (int i = 0; i < 100 && source(*r, "s1")["in_flight"] != 1; ++i)
    std::this_thread::sleep_for(milliseconds(5));
  auto t0 = Clock::now();
  auto second = r->fetch(person(/*resource=*/"R01", 2));
  EXPECT_LT(ms_since(t0), 50);
  ASSERT_EQ(code_of(second), "source_unavailable");
  EXPECT_NE(second.error().detail.find("half-open"), std::string::npos) << second.error().detail;
  EXPECT_EQ(code_of(probe.get()), "<ok>");
  EXPECT_EQ(source(*r, "s1")["state"], "closed");
}

TEST_F(SourceNetwork, NotFoundAndInvalidSubjectAreNotFailures) {
  auto c = cfg("s1");
  c.breaker_failures = 2;
  auto r = router(c);
  for (int i = 0; i < 4; ++i) {
    auto a = r->fetch(missing_person());
    ASSERT_TRUE(a.ok()) << a.error().code;
    EXPECT_FALSE(a->found);
    EXPECT_EQ(code_of(r->fetch({"R01", json{{"iin", "123"}}, "bad"})), "invalid_subject");
  }
  json h = source(*r, "s1");
  EXPECT_EQ(h["state"], "closed");
  EXPECT_EQ(h["failures"], 0);
  EXPECT_EQ(h["consecutive_failures"], 0);
  EXPECT_EQ(h["requests"], 8);
}

TEST_F(SourceNetwork, ConcurrencyLimitFailsFastWithSourceBusy) {
  auto c = cfg("s1");
  c.max_concurrency = 2;
  c.queue_timeout_ms = 100;
  auto r = router(c);
  control("R01", "slow", 350);
  auto a = std::async(std::launch::async, [&] { return r->fetch(person("R01", 1)); });
  auto b = std::async(std::launch::async, [&] { return r->fetch(person("R01", 2)); });
  for (int i = 0; i < 100 && source(*r, "s1")["in_flight"] != 2; ++i)
    std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(source(*r, "s1")["in_flight"], 2);
  auto t0 = Clock::now();
  auto third = r->fetch(person("R01", 3));
  long took = ms_since(t0);
  EXPECT_EQ(code_of(third), "source_busy");
  EXPECT_GE(took, 90);
  EXPECT_LT(took, 350);
  EXPECT_EQ(code_of(a.get()), "<ok>");
  EXPECT_EQ(code_of(b.get()), "<ok>");
  json h = source(*r, "s1");
  EXPECT_EQ(h["in_flight"], 0);
  EXPECT_EQ(h["rejected"], 1);
  EXPECT_EQ(h["failures"], 0);  // our own limit is not the source's failure
  EXPECT_EQ(h["state"], "closed");
}

TEST_F(SourceNetwork, QueuedRequestTakesTheFreedSlot) {
  auto c = cfg("s1");
  c.max_concurrency = 1;
  c.queue_timeout_ms = 1000;
  auto r = router(c);
  control("R01", "slow", 100);
  auto a = std::async(std::launch::async, [&] { return r->fetch(person("R01", 1)); });
  auto b = std::async(std::launch::async, [&] { return r->fetch(person("R01", 2)); });
  EXPECT_EQ(code_of(a.get()), "<ok>");
  EXPECT_EQ(code_of(b.get()), "<ok>");
  EXPECT_EQ(source(*r, "s1")["requests"], 2);
}

TEST_F(SourceNetwork, FetchManySlowSourceDoesNotDelayFastOnes) {
  auto fast = cfg("fast");
  auto slow = cfg("pension");
  slow.timeout_ms = 250;
  auto r = router(fast, {{"R11", slow}});
  control("R11", "slow", 700);
  std::vector<Query> qs = {person("R01", 1), person("R11", 2), person("R01", 3), person("R01", 4)};
  auto t0 = Clock::now();
  auto res = r->fetch_many(qs);
  long took = ms_since(t0);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_EQ(code_of(res[1]), "source_timeout");
  for (size_t i : {0u, 2u, 3u}) {
    ASSERT_EQ(code_of(res[i]), "<ok>") << i;
    EXPECT_TRUE(res[i]->found);
    EXPECT_EQ(res[i]->parsed()["iin"], qs[i].key["iin"]);  // same order as asked
  }
  EXPECT_GE(took, 240);
  EXPECT_LT(took, 450);  // ≈ the slow one's own timeout, not a sum
  EXPECT_EQ(source(*r, "fast")["failures"], 0);
  EXPECT_EQ(source(*r, "pension")["failures"], 1);
}

TEST_F(SourceNetwork, FetchManyAsksConcurrently) {
  auto r = router(cfg("s1"));
  control("R01", "slow", 200);
  control("R11", "slow", 200);
  std::vector<Query> qs;
  for (uint32_t i = 1; i <= 6; ++i) qs.push_back(person(i % 2 ? "R01" : "R11", i));
  auto t0 = Clock::now();
  auto res = r->fetch_many(qs);
  long took = ms_since(t0);
  ASSERT_EQ(res.size(), qs.size());
  for (const auto& a : res) EXPECT_EQ(code_of(a), "<ok>");
  EXPECT_LT(took, 600);  // sequential would be 1200 ms
  // Small batches and repeated calls.
  EXPECT_TRUE(r->fetch_many({}).empty());
  auto one = r->fetch_many({person("R01", 9)});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(code_of(one[0]), "<ok>");
}

TEST_F(SourceNetwork, FetchManyFromManyCallersAtOnce) {
  // The router's own runtime has one I/O thread: 24 slow queries from 6 callers are all in
  // flight on it at once, none waits for a thread (nor for another caller's batch).
  RouterOptions o;
  auto c = cfg("s1");
  auto created = SourceRouter::create(c, {}, o);
  ASSERT_TRUE(created.ok());
  auto r = *created;
  control("R01", "slow", 200);
  auto t0 = Clock::now();
  std::vector<std::future<std::vector<Result<Answer>>>> calls;
  for (int k = 0; k < 6; ++k)
    calls.push_back(std::async(std::launch::async, [&, k] {
      std::vector<Query> qs;
      for (uint32_t i = 0; i < 4; ++i) qs.push_back(person("R01", k * 10 + i));
      return r->fetch_many(qs);
    }));
  for (int k = 0; k < 6; ++k) {
    auto res = calls[k].get();
    ASSERT_EQ(res.size(), 4u);
    for (uint32_t i = 0; i < 4; ++i) {
      ASSERT_EQ(code_of(res[i]), "<ok>");
      EXPECT_EQ(res[i]->parsed()["iin"], sim::synthetic_iin(k * 10 + i));
    }
  }
  // Each answer takes 200 ms: one batch asked query by query would take 800 ms, the callers
  // served one after another 1200 ms (4800 ms both), all at once ≈ 200 ms.
  EXPECT_LT(ms_since(t0), 600);
}

TEST_F(SourceNetwork, BlockingFormsRefuseToWaitOnAnIoThread) {
  auto rt = http::Runtime::start({1, 1});
  RouterOptions o;
  o.runtime = rt;
  auto created = SourceRouter::create(cfg("s1"), {}, o);
  ASSERT_TRUE(created.ok());
  auto r = *created;
  std::promise<std::pair<std::string, std::vector<std::string>>> seen;
  rt->post([&] {
    std::vector<std::string> many;
    for (const auto& a : r->fetch_many({person("R01", 1), person("R01", 2)}))
      many.push_back(code_of(a));
    seen.set_value({code_of(r->fetch(person("R01", 3))), many});
  });
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto [one, many] = f.get();
  EXPECT_EQ(one, "internal_error");
  EXPECT_EQ(many, (std::vector<std::string>{"internal_error", "internal_error"}));
  // Off the I/O threads the same calls wait for the answers.
  EXPECT_EQ(code_of(r->fetch(person("R01", 3))), "<ok>");
  r.reset();
  rt->stop();
}

TEST_F(SourceNetwork, RetriesConnectionRefused) {
  auto c = cfg("dead");
  c.url = "http://127.0.0.1:" + std::to_string(closed_port());
  c.retries = 2;
  auto r = router(c);
  auto res = r->fetch(person());
  EXPECT_EQ(code_of(res), "source_unavailable");
  json h = source(*r, "dead");
  EXPECT_EQ(h["requests"], 1);
  EXPECT_EQ(h["retries"], 2);
  EXPECT_EQ(h["failures"], 1);  // one logical failure towards the breaker
  EXPECT_EQ(h["last_error"]["code"], "source_unavailable");
}

TEST_F(SourceNetwork, RetriesDownButNotFailures) {
  auto c = cfg("s1");
  c.retries = 1;
  auto r = router(c);
  control("R01", "down");
  EXPECT_EQ(code_of(r->fetch(person())), "source_unavailable");
  EXPECT_EQ(source(*r, "s1")["retries"], 1);
  control("R01", "fail");  // 500: may have been processed
  EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  control("R01", "garbage");
  EXPECT_EQ(code_of(r->fetch(person())), "source_error");
  EXPECT_EQ(source(*r, "s1")["retries"], 1);
}

TEST_F(SourceNetwork, DoesNotRetryATimeout) {
  auto c = cfg("s1");
  c.timeout_ms = 150;
  c.retries = 3;
  auto r = router(c);
  control("R01", "slow", 400);
  auto t0 = Clock::now();
  EXPECT_EQ(code_of(r->fetch(person())), "source_timeout");
  long took = ms_since(t0);
  EXPECT_GE(took, 140);
  EXPECT_LT(took, 290);  // one timeout, not two
  EXPECT_EQ(source(*r, "s1")["retries"], 0);
}

TEST_F(SourceNetwork, KeptAliveConnectionsServeManyRequests) {
  auto r = router(cfg("s1"));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(code_of(r->fetch(person("R01", i))), "<ok>");
  // The source goes away: its kept-alive connection is dead. It is not reused forever: the next
  // request fails quickly (refused on reconnect, one bounded retry) and is one failure.
  sim_.reset();  // destroyed, so its sockets are closed (stop() alone leaves them open)
  auto t0 = Clock::now();
  EXPECT_EQ(code_of(r->fetch(person())), "source_unavailable");
  EXPECT_LT(ms_since(t0), 500);
  EXPECT_EQ(source(*r, "s1")["failures"], 1);
}

TEST_F(SourceNetwork, HealthListsSourcesAndSharing) {
  auto def = cfg();  // name "" = url
  auto same = def;
  same.timeout_ms = 300;  // another transport, same source
  auto other = cfg("pension");
  auto r = router(def, {{"R02", def}, {"R03", same}, {"R11", other}});
  ASSERT_TRUE(r);
  json h = r->health();
  ASSERT_TRUE(h.is_array());
  ASSERT_EQ(h.size(), 2u);
  json by_url = source(*r, url_);
  EXPECT_EQ(by_url["url"], url_);
  EXPECT_EQ(by_url["default"], true);
  EXPECT_EQ(by_url["resources"], json({"R02", "R03"}));
  EXPECT_EQ(by_url["state"], "closed");
  EXPECT_EQ(by_url["max_concurrency"], 64);
  EXPECT_TRUE(by_url["last_error"].is_null());
  EXPECT_TRUE(by_url["last_success_at"].is_null());
  EXPECT_TRUE(by_url["open_until"].is_null());
  json p = source(*r, "pension");
  EXPECT_EQ(p["default"], false);
  EXPECT_EQ(p["resources"], json({"R11"}));
  for (const char* k : {"name", "url", "state", "in_flight", "waiting", "max_concurrency",
                        "consecutive_failures", "requests", "retries", "failures", "rejected",
                        "last_error", "last_error_at", "last_success_at", "open_until"})
    EXPECT_TRUE(p.contains(k)) << k;
  // R01 (default), R02 and R03 share one breaker; R11 has its own.
  control("R02", "fail");
  EXPECT_EQ(code_of(r->fetch(person("R02", 1))), "source_error");
  EXPECT_EQ(code_of(r->fetch(person("R01", 1))), "<ok>");
  EXPECT_EQ(code_of(r->fetch(person("R11", 1))), "<ok>");
  by_url = source(*r, url_);
  EXPECT_EQ(by_url["requests"], 2);
  EXPECT_EQ(by_url["failures"], 1);
  EXPECT_EQ(by_url["last_error"]["code"], "source_error");
  EXPECT_TRUE(by_url["last_error_at"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(source(*r, "pension")["requests"], 1);
}

TEST_F(SourceNetwork, ConfigRejectsConflictingSharingAndBadValues) {
  auto def = cfg("s1");
  auto clash = def;
  clash.max_concurrency = 3;
  auto r = SourceRouter::create(def, {{"R11", clash}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "config");
  auto other_url = def;
  other_url.url = "http://127.0.0.1:1";
  EXPECT_FALSE(SourceRouter::create(def, {{"R11", other_url}}).ok());
  auto bad = def;
  bad.retries = -1;
  EXPECT_FALSE(SourceRouter::create(bad, {}).ok());
  bad = def;
  bad.retries = 9;
  EXPECT_FALSE(SourceRouter::create(bad, {}).ok());
}

TEST(SourceConfig, RefusesABadPortOrSchemeWhenTheConnectorIsBuilt) {
  ConnectorConfig c;
  for (const char* url : {"http://127.0.0.1:99999", "http://127.0.0.1:abc",
                          "http://h:", "ftp://127.0.0.1:8470", "127.0.0.1:8470"}) {
    c.url = url;
    auto plain = make_connector(c, http::Runtime::start({1, 1}));
    ASSERT_FALSE(plain.ok()) << url;
    EXPECT_EQ(plain.error().code, "config") << url;
    EXPECT_NE(plain.error().detail.find(url), std::string::npos) << plain.error().detail;
  }
  // Through the router (as the gateway builds it at startup): the error names the config table.
  ConnectorConfig good;
  good.url = "http://127.0.0.1:8470";
  ConnectorConfig bad_port = good;
  bad_port.url = "http://127.0.0.1:99999";
  bad_port.name = "pension";
  auto r = SourceRouter::create(good, {{"R11", bad_port}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "config");
  EXPECT_NE(r.error().detail.find("sources.R11"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("port"), std::string::npos) << r.error().detail;
  auto d = SourceRouter::create(bad_port, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().detail.find("sources.default"), std::string::npos) << d.error().detail;
  EXPECT_TRUE(SourceRouter::create(good, {}).ok());  // nothing is connected at creation
}

}  // namespace
}  // namespace aaj::sources
