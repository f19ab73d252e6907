// The HTTP layer on real sockets: the runtime, the server's asynchronous handler path and its
// Responder, and the pooled asynchronous client (keep-alive reuse, a server-closed idle
// connection, timeouts, size limits, TLS with certificate and name checks).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "core/time.h"
#include "http/client.h"
#include "http/runtime.h"
#include "http/server.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

namespace aaj::http {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Sends one POST and waits for the outcome (never on an I/O thread).
Result<ClientResponse> post(Client& c, const std::string& path, const std::string& body = "{}") {
  auto p = std::make_shared<std::promise<Result<ClientResponse>>>();
  auto f = p->get_future();
  c.post(path, body, "application/json",
         [p](Result<ClientResponse> r) { p->set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
    return Error{"test_hang", "no answer in 20 s"};
  return f.get();
}

std::string code_of(const Result<ClientResponse>& r) {
  return r ? "<ok>" : r.error().code;
}

std::unique_ptr<Server> plain_server(Handler h, AsyncHandler a = {}, ServerOptions o = {}) {
  o.tls = false;
  o.port = 0;
  auto s = Server::start(std::move(o), std::move(h), std::move(a));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? std::move(*s) : nullptr;
}

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::shared_ptr<Client> client_for(const std::shared_ptr<Runtime>& rt, const std::string& url,
                                   ClientOptions o = {}) {
  o.url = url;
  auto c = Client::create(rt, o);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().detail);
  return c.ok() ? *c : nullptr;
}

std::string local(const Server& s) {
  return "http://127.0.0.1:" + std::to_string(s.port());
}

// Accepts one connection, reads a request's first bytes and writes `answer`, then closes.
class RawServer {
 public:
  explicit RawServer(std::string answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 1);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)::recv(c, buf, sizeof buf, 0);
      for (size_t off = 0; off < answer.size();) {
        ssize_t n = ::send(c, answer.data() + off, answer.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
    });
  }
  ~RawServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(Runtime, PostsTimersCancellationAndThreads) {
  auto rt = Runtime::start({1, 1});
  std::promise<bool> on_io;
  std::string io_name;
  rt->post([&] {
    char n[16] = {};
    pthread_getname_np(pthread_self(), n, sizeof n);
    io_name = n;
    on_io.set_value(rt->on_io_thread());
  });
  EXPECT_TRUE(on_io.get_future().get());
  EXPECT_EQ(io_name, "aaj-io-0");  // named for top -H, perf and pipeline_bench
  EXPECT_FALSE(rt->on_io_thread());
  std::promise<bool> on_worker;
  rt->post_blocking([&] { on_worker.set_value(rt->on_io_thread()); });
  EXPECT_FALSE(on_worker.get_future().get());

  std::atomic<int> fired{0};
  auto t0 = std::chrono::steady_clock::now();
  std::promise<void> done;
  rt->after(milliseconds(50), [&] {
    ++fired;
    done.set_value();
  });
  TimerHandle cancelled = rt->after(milliseconds(20), [&] { fired += 100; });
  cancelled.cancel();
  done.get_future().wait();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(45));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(fired.load(), 1);  // the cancelled one never ran

  // A throwing task is contained: the runtime keeps serving.
  rt->post([] { throw std::runtime_error("boom"); });
  std::promise<void> after_throw;
  rt->post([&] { after_throw.set_value(); });
  EXPECT_EQ(after_throw.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  rt->stop();
  rt->stop();  // idempotent
}

TEST(Runtime, ZeroWorkerThreadsStillRunsBlockingWork) {
  // worker_threads = 0 is taken as one worker (runtime.h): post_blocking work is not dropped.
  auto rt = Runtime::start({1, 0});
  std::promise<bool> on_worker;
  rt->post_blocking([&] { on_worker.set_value(rt->on_io_thread()); });
  auto f = on_worker.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(f.get());
  rt->stop();
}

TEST(ServerAsync, AnswersFromAnotherThreadLaterAndLeavesOtherRequestsToTheBlockingHandler) {
  auto rt = Runtime::start({1, 1});
  auto server = plain_server([](const Request& r) { return text(200, "blocking " + r.path); },
                             [](Request& r, const Responder& respond) {
                               if (r.path != "/async") return false;
                               std::string body = std::move(r.body);
                               std::thread([respond, body] {
                                 std::this_thread::sleep_for(milliseconds(30));
                                 respond(text(201, "async " + body));
                                 respond(text(500, "ignored: the first answer stands"));
                               }).detach();
                               return true;
                             });
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server));
  for (int i = 0; i < 3; ++i) {  // one kept-alive connection, alternating paths
    auto a = post(*c, "/async", "x" + std::to_string(i));
    ASSERT_EQ(code_of(a), "<ok>");
    EXPECT_EQ(a->status, 201);
    EXPECT_EQ(a->body, "async x" + std::to_string(i));
    auto b = post(*c, "/other");
    ASSERT_EQ(code_of(b), "<ok>");
    EXPECT_EQ(b->body, "blocking /other");
  }
  EXPECT_EQ(c->idle_connections(), 1u);
}

TEST(ServerAsync, ADroppedResponderOrAThrowingHandlerIsAnswered500) {
  auto rt = Runtime::start({1, 1});
  auto server = plain_server([](const Request&) { return text(200, "ok"); },
                             [](Request& r, const Responder&) {
                               if (r.path == "/throw") throw std::runtime_error("handler bug");
                               return r.path == "/drop";  // taken, then forgotten
                             });
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server));
  auto dropped = post(*c, "/drop");
  ASSERT_EQ(code_of(dropped), "<ok>");
  EXPECT_EQ(dropped->status, 500);
  EXPECT_NE(dropped->body.find("internal_error"), std::string::npos);
  auto thrown = post(*c, "/throw");
  ASSERT_EQ(code_of(thrown), "<ok>");
  EXPECT_EQ(thrown->status, 500);
  auto fine = post(*c, "/fine");  // the connection still serves
  ASSERT_EQ(code_of(fine), "<ok>");
  EXPECT_EQ(fine->status, 200);
}

// The dropped Responder's 500 carries the server's error body, like every other server-level
// error (the application's body has the code and messages in kk/ru/en).
TEST(ServerAsync, ADroppedResponderAnswersWithTheServersErrorBody) {
  auto rt = Runtime::start({1, 1});
  ServerOptions o;
  o.error_body = [](const std::string& code) { return "{\"custom\":\"" + code + "\"}"; };
  auto server = plain_server([](const Request&) { return text(200, "ok"); },
                             [](Request&, const Responder&) { return true; }, o);
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server));
  auto dropped = post(*c, "/drop");
  ASSERT_EQ(code_of(dropped), "<ok>");
  EXPECT_EQ(dropped->status, 500);
  EXPECT_EQ(dropped->body, "{\"custom\":\"internal_error\"}");
}

TEST(ServerAsync, AnAnswerAfterTheServerIsGoneDoesNothing) {
  std::mutex mu;
  std::vector<Responder> kept;
  auto rt = Runtime::start({1, 1});
  auto server = plain_server([](const Request&) { return text(200, "ok"); },
                             [&](Request&, const Responder& respond) {
                               std::lock_guard<std::mutex> l(mu);
                               kept.push_back(respond);
                               return true;
                             });
  ASSERT_TRUE(server);
  ClientOptions o;
  o.timeout = milliseconds(300);
  auto c = client_for(rt, local(*server), o);
  EXPECT_EQ(code_of(post(*c, "/never")), "timeout");
  server.reset();  // stops and destroys the server with the request still pending
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(kept.size(), 1u);
  kept[0](text(200, "too late"));  // must not crash or touch freed memory
  kept.clear();
}

// Sends raw bytes to 127.0.0.1:port and returns everything read until the server closes or 2 s.
std::string raw_exchange(uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(ServerLimits, BodiesOverTheLimitAre413WhateverTheFraming) {
  std::atomic<int> handled{0};
  ServerOptions o;
  o.max_body_bytes = 1000;
  o.error_body = [](const std::string& code) { return "{\"code\":\"" + code + "\"}"; };
  auto server = plain_server(
      [&](const Request&) {
        ++handled;
        return text(200, "ok");
      },
      {}, o);
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  std::string big(2000, 'b');
  std::string with_length =
      raw_exchange(port, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n" + big);
  EXPECT_EQ(with_length.rfind("HTTP/1.1 413", 0), 0u) << with_length;
  EXPECT_NE(with_length.find("payload_too_large"), std::string::npos);
  std::string chunked = raw_exchange(
      port, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + big +
                "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 413", 0), 0u) << chunked;
  std::string fits = raw_exchange(
      port, "POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 10\r\n\r\n" +
                std::string(10, 'c'));
  EXPECT_EQ(fits.rfind("HTTP/1.1 200", 0), 0u) << fits;
  EXPECT_EQ(handled.load(), 1);  // the oversized ones never reached the handler
}

TEST(Client, ReusesKeptAliveConnections) {
  std::mutex mu;
  std::set<std::string> peers;
  auto rt = Runtime::start({2, 1});
  auto server = plain_server([&](const Request& r) {
    std::lock_guard<std::mutex> l(mu);
    peers.insert(r.remote);
    return text(200, r.body);
  });
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server) + "/base/");
  for (int i = 0; i < 20; ++i) {
    auto r = post(*c, "/echo", std::to_string(i));
    ASSERT_EQ(code_of(r), "<ok>");
    EXPECT_EQ(r->body, std::to_string(i));
  }
  // Connections are kept per I/O thread (a connection lives on one): at most two for all twenty.
  EXPECT_LE(peers.size(), 2u);
}

TEST(Client, GetSendsTheMethodAndNoBodyOnTheSameConnections) {
  std::mutex mu;
  std::vector<std::string> seen;
  std::set<std::string> peers;
  auto rt = Runtime::start({1, 1});
  auto server = plain_server([&](const Request& r) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back(r.method + " " + r.target + " [" + r.body + "] " + r.header("content-type"));
    peers.insert(r.remote);
    return text(200, r.method);
  });
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server) + "/base");
  auto get = [&](const std::string& path) {
    auto p = std::make_shared<std::promise<Result<ClientResponse>>>();
    c->get(path, [p](Result<ClientResponse> r) { p->set_value(std::move(r)); });
    return p->get_future().get();
  };
  auto g = get("/latest");
  ASSERT_EQ(code_of(g), "<ok>");
  EXPECT_EQ(g->body, "GET");
  auto p = post(*c, "/echo", "x");
  ASSERT_EQ(code_of(p), "<ok>");
  EXPECT_EQ(p->body, "POST");
  auto g2 = get("/latest?x=1");
  ASSERT_EQ(code_of(g2), "<ok>");
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "GET /base/latest [] ");
  EXPECT_EQ(seen[1], "POST /base/echo [x] application/json");
  EXPECT_EQ(seen[2], "GET /base/latest?x=1 [] ");
  EXPECT_EQ(peers.size(), 1u);  // one kept-alive connection for both methods
}

TEST(Client, AConnectionTheServerClosedWhileIdleIsReplacedTransparently) {
  std::mutex mu;
  std::set<std::string> peers;
  std::atomic<int> served{0};
  ServerOptions so;
  so.idle_timeout = std::chrono::seconds(1);
  auto rt = Runtime::start({1, 1});
  auto server = plain_server(
      [&](const Request& r) {
        ++served;
        std::lock_guard<std::mutex> l(mu);
        peers.insert(r.remote);
        return text(200, "ok");
      },
      {}, so);
  ASSERT_TRUE(server);
  auto c = client_for(rt, local(*server));
  ASSERT_EQ(code_of(post(*c, "/a")), "<ok>");
  std::this_thread::sleep_for(milliseconds(1600));  // the server drops the idle connection
  auto r = post(*c, "/b");
  ASSERT_EQ(code_of(r), "<ok>");
  EXPECT_EQ(served.load(), 2);  // sent again once, processed once
  EXPECT_EQ(peers.size(), 2u);
}

TEST(Client, ErrorsSayWhetherTheRequestWasSent) {
  auto rt = Runtime::start({1, 1});
  // Nothing listens: refused before anything was sent.
  auto dead = client_for(rt, "http://127.0.0.1:1");
  EXPECT_EQ(code_of(post(*dead, "/x")), "connect_failed");

  // Accepted and never answered: sent, then timed out.
  std::mutex mu;
  std::vector<Responder> unanswered;
  auto slow = plain_server([](const Request&) { return text(200, "ok"); },
                           [&](Request&, const Responder& respond) {
                             std::lock_guard<std::mutex> l(mu);
                             unanswered.push_back(respond);  // kept, never answered
                             return true;
                           });
  ASSERT_TRUE(slow);
  ClientOptions o;
  o.timeout = milliseconds(200);
  auto c = client_for(rt, local(*slow), o);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of(post(*c, "/x")), "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  // An answer over the limit.
  auto big = plain_server([](const Request&) { return text(200, std::string(2 << 20, 'x')); });
  ASSERT_TRUE(big);
  ClientOptions small;
  small.max_response_bytes = 1 << 20;
  auto too_big = post(*client_for(rt, local(*big), small), "/x");
  EXPECT_EQ(code_of(too_big), "too_large") << (too_big ? std::to_string(too_big->body.size()) : "");
  // Chunked and closed-delimited answers (from a raw socket): the limit holds for every framing.
  for (std::string head : {std::string("Transfer-Encoding: chunked\r\n\r\n200000\r\n"),
                           std::string("Connection: close\r\n\r\n")}) {
    RawServer raw("HTTP/1.1 200 OK\r\n" + head + std::string(2 << 20, 'y'));
    auto r = post(*client_for(rt, "http://127.0.0.1:" + std::to_string(raw.port()), small), "/x");
    EXPECT_EQ(code_of(r), "too_large") << head;
  }
  // Under the limit is fine.
  auto fits = plain_server([](const Request&) { return text(200, std::string(1000, 'z')); });
  ASSERT_TRUE(fits);
  auto ok = post(*client_for(rt, local(*fits), small), "/x");
  ASSERT_EQ(code_of(ok), "<ok>");
  EXPECT_EQ(ok->body.size(), 1000u);

  for (const char* bad : {"ftp://x", "http://", "https://[::1"}) {
    ClientOptions b;
    b.url = bad;
    EXPECT_FALSE(Client::create(rt, b).ok()) << bad;
  }
}

TEST(Client, RefusesABadPortInTheUrl) {
  auto rt = Runtime::start({1, 1});
  for (const char* bad : {"http://127.0.0.1:99999", "http://127.0.0.1:65536", "http://host:abc",
                          "http://host:8a/x", "http://host:-1", "http://host:", "http://host:0",
                          "https://[::1]:99999", "https://[::1]x", "http://:80", "http://[]:80"}) {
    ClientOptions b;
    b.url = bad;
    auto c = Client::create(rt, b);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code, "config") << bad;
  }
  // Well-formed: an explicit port 1..65535 (also after an IPv6 address), or none (the scheme's).
  for (const char* good : {"http://127.0.0.1:1", "http://127.0.0.1:65535/prefix", "http://h",
                           "https://h/p", "http://[::1]", "http://[::1]:8080"}) {
    ClientOptions g;
    g.url = good;
    EXPECT_TRUE(Client::create(rt, g).ok()) << good;
  }
  rt->stop();
}

class ClientTls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki::init_openssl();
    char tmpl[] = "/tmp/aaj-http-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto now = time::now();
    auto ca = pki::Authority::create("aaj test CA", now - std::chrono::hours(1),
                                     now + std::chrono::hours(24));
    ASSERT_TRUE(ca.ok());
    ca_ = std::make_unique<pki::Authority>(std::move(*ca));
    ASSERT_TRUE(pki::write_public_file(dir_ / "ca.pem", ca_->cert_pem()).ok());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A TLS server whose certificate names `ip` and `dns`.
  std::unique_ptr<Server> tls_server(const std::string& tag, std::vector<std::string> ips,
                                     std::vector<std::string> dns) {
    auto key = pki::KeyPair::ec_p256();
    EXPECT_TRUE(key.ok());
    auto now = time::now();
    pki::IssueSpec spec;
    spec.kind = pki::CertKind::TlsServer;
    spec.subject.common_name = "server " + tag;
    spec.not_before = now - std::chrono::hours(1);
    spec.not_after = now + std::chrono::hours(24);
    spec.ip_addresses = std::move(ips);
    spec.dns_names = std::move(dns);
    auto cert = ca_->issue(spec, *key);
    EXPECT_TRUE(cert.ok()) << (cert.ok() ? "" : cert.error().detail);
    auto pem = dir_ / (tag + ".pem"), keyf = dir_ / (tag + ".key");
    EXPECT_TRUE(pki::write_public_file(pem, cert->cert_pem).ok());
    EXPECT_TRUE(pki::write_secret_file(keyf, key->private_pem()).ok());
    ServerOptions o;
    o.port = 0;
    o.cert_chain_file = pem.string();
    o.private_key_file = keyf.string();
    auto s = Server::start(o, [](const Request& r) { return text(200, "secure " + r.body); });
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
    return s.ok() ? std::move(*s) : nullptr;
  }
  fs::path dir_;
  std::unique_ptr<pki::Authority> ca_;
};

TEST_F(ClientTls, TrustsTheConfiguredCaAndChecksTheName) {
  auto rt = Runtime::start({1, 1});
  auto good = tls_server("good", {"127.0.0.1"}, {});
  ASSERT_TRUE(good);
  std::string url = "https://127.0.0.1:" + std::to_string(good->port());
  ClientOptions trusted;
  trusted.ca_file = (dir_ / "ca.pem").string();
  auto r = post(*client_for(rt, url, trusted), "/x", "hi");
  ASSERT_EQ(code_of(r), "<ok>") << (r ? "" : r.error().detail);
  EXPECT_EQ(r->body, "secure hi");

  // The system's store does not know our CA: refused before sending.
  EXPECT_EQ(code_of(post(*client_for(rt, url), "/x")), "tls_failed");

  // A certificate for another name, from the trusted CA: refused.
  auto other = tls_server("other", {}, {"example.org"});
  ASSERT_TRUE(other);
  auto r2 =
      post(*client_for(rt, "https://127.0.0.1:" + std::to_string(other->port()), trusted), "/x");
  EXPECT_EQ(code_of(r2), "tls_failed");

  ClientOptions missing;
  missing.url = url;
  missing.ca_file = (dir_ / "absent.pem").string();
  EXPECT_FALSE(Client::create(rt, missing).ok());
}

}  // namespace
}  // namespace aaj::http
