// aaj_loadgen against an in-process aaj::http::Server, plain and TLS.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "http/server.h"
#include "loadgen.h"

namespace {

using aaj::loadgen::LoadResult;
using aaj::loadgen::LoadSpec;
using aaj::loadgen::run_load;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A throwaway self-signed P-256 certificate (CN=localhost) in a temporary directory.
class TlsFiles {
 public:
  TlsFiles() {
    char tmpl[] = "/tmp/aaj-loadgen-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    FILE* f = std::fopen(cert_.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key_.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
  }
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& cert() const { return cert_; }
  const std::string& key() const { return key_; }

 private:
  std::filesystem::path dir_;
  std::string cert_, key_;
};

const TlsFiles& tls_files() {
  static TlsFiles files;
  return files;
}

// Counts requests and remembers every body it saw; answers {"n":<body size>} (or echoes the
// body when `echo`).
struct Target {
  std::atomic<size_t> count{0};
  std::mutex mu;
  std::map<std::string, size_t> seen;
  bool record = false;
  bool echo = false;
  std::chrono::milliseconds delay{0};
  std::unique_ptr<aaj::http::Server> server;

  aaj::http::Handler handler() {
    return [this](const aaj::http::Request& req) {
      count.fetch_add(1);
      if (record) {
        std::lock_guard lock(mu);
        ++seen[req.body];
      }
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      aaj::http::Response r;
      if (req.path == "/teapot") r.status = 418;
      r.body = echo ? req.body : "{\"n\":" + std::to_string(req.body.size()) + "}";
      return r;
    };
  }
  uint16_t start(bool tls, uint16_t port = 0) {
    aaj::http::ServerOptions o;
    o.port = port;
    o.tls = tls;
    if (tls) {
      o.cert_chain_file = tls_files().cert();
      o.private_key_file = tls_files().key();
    }
    auto s = aaj::http::Server::start(o, handler());
    if (!s) {
      ADD_FAILURE() << s.error().code << ": " << s.error().detail;
      return 0;
    }
    server = std::move(s.value());
    return server->port();
  }
};

size_t sum(const std::map<int, size_t>& m) {
  size_t n = 0;
  for (const auto& [k, v] : m) n += v;
  return n;
}

std::vector<std::string> make_bodies(size_t n, const std::string& tag) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("{\"" + tag + "\":" + std::to_string(i) + ",\"pad\":\"" +
                  std::string(i % 100, 'x') + "\"}");
  return out;
}

uint16_t free_port_then_closed() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);  // nobody listens there now
  return ntohs(a.sin_port);
}

class LoadgenBoth : public ::testing::TestWithParam<bool> {};

TEST_P(LoadgenBoth, CountsMatchServerAndStatuses) {
  bool tls = GetParam();
  Target t;
  auto bodies = make_bodies(50, "k");
  LoadSpec s;
  s.port = t.start(tls);
  s.tls = tls;
  s.path = "/api";
  s.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer x"}};
  s.bodies = &bodies;
  s.connections = 8;
  s.threads = 2;
  s.duration = 20s;
  s.max_requests = 1500;
  auto r = run_load(s);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->requests, 1500u);
  EXPECT_EQ(r->sent, 1500u);
  EXPECT_EQ(r->by_status.at(200), 1500u);
  EXPECT_EQ(sum(r->by_status), r->requests);
  EXPECT_EQ(t.count.load(), 1500u);
  EXPECT_EQ(r->connects, 8u);
  EXPECT_EQ(r->reconnects, 0u);
  EXPECT_GT(r->bytes_in, 1500u * 20);
  EXPECT_GT(r->rps, 0);
  EXPECT_LT(r->seconds, 20);
  EXPECT_LE(r->p50_ms, r->p90_ms);
  EXPECT_LE(r->p90_ms, r->p99_ms);
  EXPECT_LE(r->p99_ms, r->max_ms);
  EXPECT_GT(r->max_ms, 0);

  // Non-2xx statuses are answers, not errors.
  s.path = "/teapot";
  s.max_requests = 100;
  r = run_load(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->by_status.size(), 1u);
  EXPECT_EQ(r->by_status.at(418), 100u);
}

TEST_P(LoadgenBoth, OnceSendsEachBodyExactlyOnce) {
  bool tls = GetParam();
  Target t;
  t.record = true;
  auto bodies = make_bodies(1200, "nonce");
  LoadSpec s;
  s.port = t.start(tls);
  s.tls = tls;
  s.path = "/signed";
  s.bodies = &bodies;
  s.once = true;
  s.connections = 16;
  s.duration = 20s;
  auto r = run_load(s);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->requests, bodies.size());
  EXPECT_EQ(r->sent, bodies.size());
  EXPECT_LT(r->seconds, 20);  // stopped on exhaustion, not on the deadline
  std::lock_guard lock(t.mu);
  ASSERT_EQ(t.seen.size(), bodies.size());
  for (const auto& b : bodies) {
    auto it = t.seen.find(b);
    ASSERT_NE(it, t.seen.end()) << b;
    EXPECT_EQ(it->second, 1u) << b;
  }
}

TEST_P(LoadgenBoth, DurationAndWarmupBound) {
  bool tls = GetParam();
  Target t;
  auto bodies = make_bodies(3, "d");
  LoadSpec s;
  s.port = t.start(tls);
  s.tls = tls;
  s.bodies = &bodies;
  s.connections = 4;
  s.warmup = 300ms;
  s.duration = 700ms;
  auto t0 = Clock::now();
  auto r = run_load(s);
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_GT(r->requests, 0u);
  EXPECT_NEAR(r->seconds, 0.7, 1e-6);
  EXPECT_GE(wall, 0.95);
  EXPECT_LT(wall, 1.0 + 0.5);
  // Warmup answers were sent and answered but not counted.
  EXPECT_GT(t.count.load(), r->requests);
  EXPECT_GE(r->sent, r->requests);
  EXPECT_GT(r->client_cpu_seconds, 0);
}

TEST_P(LoadgenBoth, ConnectionCloseReconnectsEveryRequest) {
  bool tls = GetParam();
  Target t;
  auto bodies = make_bodies(5, "c");
  LoadSpec s;
  s.port = t.start(tls);
  s.tls = tls;
  s.bodies = &bodies;
  s.headers = {{"Connection", "close"}};  // the server closes after each answer
  s.connections = 4;
  s.max_requests = 120;
  s.duration = 20s;
  auto r = run_load(s);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->requests, 120u);
  EXPECT_EQ(t.count.load(), 120u);
  EXPECT_EQ(r->connects, 120u);
  EXPECT_EQ(r->reconnects, 120u - 4u);
}

TEST_P(LoadgenBoth, SlowServerTimesOutWithoutHanging) {
  bool tls = GetParam();
  Target t;
  t.delay = 1500ms;
  LoadSpec s;
  s.port = t.start(tls);
  s.tls = tls;
  s.method = "GET";
  s.connections = 3;
  s.timeout = 300ms;
  s.error_backoff = 50ms;
  s.duration = 1000ms;
  auto t0 = Clock::now();
  auto r = run_load(s);
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->requests, 0u);
  EXPECT_GE(r->timeouts, 3u);
  EXPECT_EQ(r->errors, r->timeouts);
  EXPECT_NE(r->first_error.find("timeout"), std::string::npos) << r->first_error;
  EXPECT_LT(wall, 1.6);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, LoadgenBoth, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Tls" : "Plain"; });

// The server goes away mid-run and comes back on the same port: the run survives, counts the
// failures as errors and reconnects, and ends on time.
TEST(Loadgen, ServerRestartMidRunIsSurvived) {
  Target t1, t2;
  auto bodies = make_bodies(10, "r");
  LoadSpec s;
  s.port = t1.start(false);
  s.tls = false;
  s.bodies = &bodies;
  s.connections = 8;
  s.duration = 2500ms;
  s.timeout = 500ms;
  s.error_backoff = 20ms;
  aaj::Result<LoadResult> r = aaj::Error{"not_run", ""};
  auto t0 = Clock::now();
  std::thread runner([&] { r = run_load(s); });
  std::this_thread::sleep_for(600ms);
  t1.server->stop();
  t1.server.reset();  // closes the listener and every connection
  std::this_thread::sleep_for(400ms);
  ASSERT_EQ(t2.start(false, s.port), s.port);
  runner.join();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_GT(r->errors, 0u);
  EXPECT_GE(r->reconnects, 8u);
  EXPECT_GT(t1.count.load(), 0u);
  EXPECT_GT(t2.count.load(), 0u);
  EXPECT_LE(r->requests, t1.count.load() + t2.count.load());
  EXPECT_EQ(sum(r->by_status), r->requests);
  EXPECT_LT(wall, 2.5 + 1.0);
  std::printf("restart: requests=%zu errors=%zu timeouts=%zu reconnects=%zu first_error=%s\n",
              r->requests, r->errors, r->timeouts, r->reconnects, r->first_error.c_str());
}

TEST(Loadgen, RefusedPortGivesErrorsNotAHang) {
  for (bool tls : {false, true}) {
    LoadSpec s;
    s.port = free_port_then_closed();
    s.tls = tls;
    s.connections = 4;
    s.duration = 300ms;
    auto t0 = Clock::now();
    auto r = run_load(s);
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->requests, 0u);
    EXPECT_GT(r->errors, 4u);
    EXPECT_LT(r->errors, 4u * 300 / 10 + 8);  // backoff bounds the error rate
    EXPECT_NE(r->first_error.find("connect"), std::string::npos) << r->first_error;
    EXPECT_LT(wall, 1.0);
  }
}

TEST(Loadgen, InvalidSpecsAreRefused) {
  LoadSpec s;
  EXPECT_EQ(run_load(s).error().code, "invalid_spec");  // port 0
  s.port = 1;
  s.once = true;  // without bodies
  EXPECT_EQ(run_load(s).error().code, "invalid_spec");
  s.once = false;
  s.headers = {{"X-Bad", "a\r\nInjected: 1"}};
  EXPECT_EQ(run_load(s).error().code, "invalid_spec");
  s.headers.clear();
  s.connections = 0;
  EXPECT_EQ(run_load(s).error().code, "invalid_spec");
  s.connections = 1;
  s.host = "no-such-host.invalid";
  EXPECT_EQ(run_load(s).error().code, "resolve_failed");
}

TEST(Loadgen, CpuProbes) {
  double self = aaj::loadgen::self_cpu_seconds();
  EXPECT_GE(self, 0);
  double proc = aaj::loadgen::process_cpu_seconds(getpid());
  EXPECT_GE(proc, 0);
  EXPECT_LT(std::abs(proc - self), 0.5);
  EXPECT_LT(aaj::loadgen::process_cpu_seconds(0x7ffffff0), 0);
  double idle = aaj::loadgen::box_idle_fraction(100ms);
  EXPECT_GE(idle, 0);
  EXPECT_LE(idle, 1);
}

// The box's CPU counters: a thread that burns 0.2 s of CPU between two snapshots shows up as
// busy (total − idle) time of at least about that much; idle never runs backwards.
TEST(Loadgen, BoxCpuSecondsCountBusyTime) {
  auto before = aaj::loadgen::box_cpu_seconds();
  ASSERT_TRUE(before);
  EXPECT_LE(before->idle, before->total);
  static volatile unsigned sink = 0;
  timespec t{};
  do {
    for (int i = 0; i < 100000; ++i) sink = sink + 1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while (t.tv_sec == 0 && t.tv_nsec < 200'000'000);
  auto after = aaj::loadgen::box_cpu_seconds();
  ASSERT_TRUE(after);
  EXPECT_GE(after->idle, before->idle);
  ASSERT_GT(after->total, before->total);
  const double busy = (after->total - before->total) - (after->idle - before->idle);
  EXPECT_GE(busy, 0.15);  // 0.2 s burnt, at clock-tick resolution
}

// Per-thread CPU is summed by name with the "-<digits>" suffix dropped: two named threads that
// each burn ~0.15 s of their own CPU show up together under one name, the main thread apart.
TEST(Loadgen, ThreadCpuByName) {
  std::atomic<int> burnt{0};
  std::atomic<bool> done{false};
  static volatile unsigned sink = 0;
  auto spin = [&](const char* name) {
    pthread_setname_np(pthread_self(), name);
    timespec t{};
    do {
      for (int i = 0; i < 100000; ++i) sink = sink + 1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while (t.tv_sec == 0 && t.tv_nsec < 150'000'000);
    ++burnt;
    while (!done) std::this_thread::sleep_for(1ms);  // alive while the test reads /proc
  };
  std::thread a(spin, "lg-spin-1"), b(spin, "lg-spin-22");
  while (burnt < 2) std::this_thread::sleep_for(1ms);
  auto by_name = aaj::loadgen::thread_cpu_seconds(getpid());
  done = true;
  a.join();
  b.join();
  ASSERT_TRUE(by_name.count("lg-spin"));
  EXPECT_FALSE(by_name.count("lg-spin-1"));
  EXPECT_GE(by_name["lg-spin"], 0.25);  // two × 0.15 s, at clock-tick resolution
  EXPECT_TRUE(aaj::loadgen::thread_cpu_seconds(0x7ffffff0).empty());
}

// The client's own cost: 64 keep-alive connections, 1 KiB echo, plain and TLS. Opt-in (it loads
// the machine): AAJ_LOADGEN_SELF_COST=1 [AAJ_LOADGEN_SELF_COST_SECONDS=5].
TEST(Loadgen, SelfCost) {
  if (!std::getenv("AAJ_LOADGEN_SELF_COST")) GTEST_SKIP() << "set AAJ_LOADGEN_SELF_COST=1";
  double secs = 5;
  if (const char* v = std::getenv("AAJ_LOADGEN_SELF_COST_SECONDS")) secs = std::atof(v);
  std::vector<std::string> bodies{std::string(1024, 'a')};
  for (bool tls : {false, true}) {
    bool quiet = aaj::loadgen::wait_for_quiet_box(0.9, 2, 1000ms, 20s);
    Target t;
    t.echo = true;
    LoadSpec s;
    s.port = t.start(tls);
    s.tls = tls;
    s.bodies = &bodies;
    s.headers = {{"Content-Type", "application/octet-stream"}};
    s.connections = 64;
    s.warmup = 1s;
    s.duration = std::chrono::milliseconds(static_cast<long long>(secs * 1000));
    double proc0 = aaj::loadgen::self_cpu_seconds();
    auto r = run_load(s);
    double proc1 = aaj::loadgen::self_cpu_seconds();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->errors, 0u) << r->first_error;
    std::printf(
        "self-cost %s: quiet=%d rps=%.0f p50=%.2fms p99=%.2fms client_cpu=%.1f us/req "
        "process(server+client, incl. warmup)=%.1f us/req  %s\n",
        tls ? "TLS  " : "plain", quiet, r->rps, r->p50_ms, r->p99_ms,
        r->client_cpu_seconds * 1e6 / static_cast<double>(r->requests),
        (proc1 - proc0) * 1e6 / static_cast<double>(r->sent), aaj::loadgen::to_json(*r).c_str());
  }
}

}  // namespace
