#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange (asio #944)

#include "http/client.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/host_port.h"
#include "http/asio_runtime.h"

namespace aaj::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

// One connection, plain or TLS, bound to one I/O thread's io_context: each exchange on it runs
// as a coroutine there, so the stream is never touched by two threads at once.
struct Conn {
  Conn(asio::io_context& ioc, size_t ctx, ssl::context* tls) : ex(ioc.get_executor()), io(ctx) {
    buffer.reserve(detail::kReadBufferBytes);  // an answer in one read (asio_runtime.h)
    if (tls)
      secure.emplace(ex, *tls);
    else
      plain.emplace(ex);
  }
  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  asio::any_io_executor ex;
  size_t io;  // the index of its io_context (which idle pool it returns to)
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
  Clock::time_point idle_since{};
};

struct Job {
  std::string target;
  std::string body;
  std::string content_type;
  Client::Done done;
  Clock::time_point deadline;
  bhttp::verb method = bhttp::verb::post;
};

bool is_closed_by_peer(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::end_of_stream ||
         ec == ssl::error::stream_truncated;
}

class ClientImpl final : public Client, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(std::shared_ptr<Runtime> rt, ClientOptions opts)
      : rt_(std::move(rt)),
        opts_(std::move(opts)),
        art_(detail::asio_of(*rt_)),
        idle_(art_.io_count()) {}

  Status init() {
    const std::string& u = opts_.url;
    std::string rest;
    bool https = false;
    if (u.rfind("http://", 0) == 0) {
      rest = u.substr(7);
    } else if (u.rfind("https://", 0) == 0) {
      rest = u.substr(8);
      https = true;
    } else {
      return Error{"config", "url must be http:// or https://: " + u};
    }
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    prefix_ = slash == std::string::npos ? "" : rest.substr(slash);
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
    bool has_port = false;
    if (!hostport.empty() && hostport.front() == '[') {  // [v6] or [v6]:port
      auto close = hostport.find(']');
      if (close == std::string::npos) return Error{"config", "bad host in url: " + u};
      host_ = hostport.substr(1, close - 1);
      has_port = close + 1 < hostport.size();
    } else {
      has_port = hostport.find(':') != std::string::npos;
      host_ = hostport;
    }
    if (has_port) {
      auto hp = net::split_host_port(hostport);
      if (!hp || hp->second == 0)
        return Error{"config", "bad port in url (a number 1..65535 after the host): " + u};
      host_ = hp->first;
      port_ = std::to_string(hp->second);
    } else {
      port_ = https ? "443" : "80";
    }
    if (host_.empty()) return Error{"config", "no host in url: " + u};
    host_header_ = hostport;
    if (https) {
      tls_.emplace(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
      boost::system::error_code ec;
      if (opts_.ca_file.empty())
        tls_->set_default_verify_paths(ec);
      else
        tls_->load_verify_file(opts_.ca_file, ec);
      if (ec) return Error{"config", "trusted certificates " + opts_.ca_file + ": " + ec.message()};
      tls_->set_verify_mode(ssl::verify_peer);
    }
    return {};
  }

  void post(std::string path, std::string body, std::string content_type, Done done) override {
    Job job{prefix_ + path, std::move(body), std::move(content_type), std::move(done),
            Clock::now() + opts_.timeout};
    start(std::move(job), /*resend=*/false);
  }

  void get(std::string path, Done done) override {
    Job job;
    job.target = prefix_ + path;
    job.done = std::move(done);
    job.deadline = Clock::now() + opts_.timeout;
    job.method = bhttp::verb::get;
    start(std::move(job), /*resend=*/false);
  }

  size_t idle_connections() const override {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (const auto& pool : idle_) n += pool.size();
    return n;
  }

 private:
  // Takes the most recently used idle connection (or makes a new one) and runs the exchange on
  // that connection's I/O thread. `resend`: the request is being sent again because a reused
  // connection turned out closed; it then always goes on a new connection.
  void start(Job job, bool resend) {
    // On the caller's I/O thread when it is one (the usual case: a request continuing), so the
    // exchange stays on that thread; otherwise on the next one in turn.
    const size_t io = art_.pick();
    std::unique_ptr<Conn> c = resend ? nullptr : take_idle(io);
    bool reused = c != nullptr;
    if (!c) c = std::make_unique<Conn>(art_.io(io), io, tls_ ? &*tls_ : nullptr);
    auto ex = c->ex;
    asio::co_spawn(ex, exchange(shared_from_this(), std::move(c), reused, std::move(job)),
                   [](std::exception_ptr) {});
  }

  std::unique_ptr<Conn> take_idle(size_t io) {
    std::lock_guard<std::mutex> l(mu_);
    auto now = Clock::now();
    auto& pool = idle_[io];
    while (!pool.empty()) {
      std::unique_ptr<Conn> c = std::move(pool.back());
      pool.pop_back();
      if (now - c->idle_since < opts_.max_idle) return c;
      // Too old to trust: dropped, closed on its own thread.
      auto* raw = c.release();
      asio::post(raw->ex, [raw] { delete raw; });
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<Conn> c) {
    c->idle_since = Clock::now();
    std::lock_guard<std::mutex> l(mu_);
    auto& pool = idle_[c->io];
    if (pool.size() < opts_.max_idle_connections) pool.push_back(std::move(c));
  }

  template <class Stream>
  static awaitable<boost::system::error_code> write_request(Stream& s, const Job& job,
                                                            const std::string& host) {
    bhttp::request<bhttp::string_body> req{job.method, job.target, 11};
    req.set(bhttp::field::host, host);
    if (job.method != bhttp::verb::get) req.set(bhttp::field::content_type, job.content_type);
    req.set(bhttp::field::user_agent, "aaj");
    req.keep_alive(true);
    req.body() = job.body;
    req.prepare_payload();
    boost::system::error_code ec;
    co_await bhttp::async_write(s, req, asio::redirect_error(use_awaitable, ec));
    co_return ec;
  }

  // The header first, then the body: Beast 1.74 does not enforce body_limit when one eager
  // parse (what async_read does) covers the end of the header and body bytes, so a response
  // whose Content-Length exceeds the limit would be read whole.
  template <class Stream>
  static awaitable<boost::system::error_code> read_response(
      Stream& s, beast::flat_buffer& buf, bhttp::response_parser<bhttp::string_body>& p) {
    boost::system::error_code ec;
    co_await bhttp::async_read_header(s, buf, p, asio::redirect_error(use_awaitable, ec));
    if (!ec && !p.is_done())
      co_await bhttp::async_read(s, buf, p, asio::redirect_error(use_awaitable, ec));
    co_return ec;
  }

  awaitable<Status> connect(Conn& c, Clock::time_point deadline) {
    boost::system::error_code ec;
    tcp::resolver::results_type endpoints;
    {
      // getaddrinfo has no timeout of its own: a timer cancels the lookup at the deadline.
      auto resolver = std::make_shared<tcp::resolver>(c.ex);
      asio::steady_timer limit(c.ex, deadline);
      limit.async_wait([resolver](boost::system::error_code e) {
        if (!e) resolver->cancel();
      });
      endpoints =
          co_await resolver->async_resolve(host_, port_, asio::redirect_error(use_awaitable, ec));
      limit.cancel();
      if (ec == asio::error::operation_aborted)
        co_return Error{"connect_timeout", "resolving " + host_ + " took too long"};
      if (ec) co_return Error{"connect_failed", "resolving " + host_ + ": " + ec.message()};
    }
    c.tcp().expires_at(deadline);
    co_await c.tcp().async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
    if (ec == beast::error::timeout)
      co_return Error{"connect_timeout", "no connection to " + host_header_ + " within " +
                                             std::to_string(opts_.connect_timeout.count()) + " ms"};
    if (ec) co_return Error{"connect_failed", host_header_ + ": " + ec.message()};
    boost::system::error_code opt_ec;
    c.tcp().socket().set_option(tcp::no_delay(true), opt_ec);
    if (c.secure) {
      if (!SSL_set_tlsext_host_name(c.secure->native_handle(), host_.c_str()))
        co_return Error{"tls_failed", "cannot set the server name"};
      c.secure->set_verify_callback(ssl::host_name_verification(host_));
      co_await c.secure->async_handshake(ssl::stream_base::client,
                                         asio::redirect_error(use_awaitable, ec));
      if (ec == beast::error::timeout)
        co_return Error{"connect_timeout", "TLS handshake with " + host_header_ + " timed out"};
      if (ec) co_return Error{"tls_failed", host_header_ + ": " + ec.message()};
    }
    c.connected = true;
    co_return Status{};
  }

  static void finish(Job& job, Result<ClientResponse> r) {
    auto done = std::move(job.done);
    job.done = nullptr;
    try {
      done(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("{}",
                    nlohmann::json{{"event", "client_callback_exception"}, {"what", e.what()}}.dump(
                        -1, ' ', false, nlohmann::json::error_handler_t::replace));
    } catch (...) {
    }
  }

  // One attempt, on c's I/O thread. The connection goes back to the pool before done runs, so a
  // caller that asks again at once reuses it.
  //
  // Only a reused connection may ask for the request to be resent, and a resend never reuses
  // one (start), so a request is sent at most twice.
  static awaitable<void> exchange(std::shared_ptr<ClientImpl> self, std::unique_ptr<Conn> c,
                                  bool reused, Job job) {
    std::optional<Result<ClientResponse>> r;
    try {
      r = co_await self->exchange_once(*c, /*may_retry=*/reused, job);
    } catch (const std::exception& e) {
      c->connected = false;
      r = Error{"io_error", e.what()};
    }
    if (!r) {  // a kept-alive connection the server had closed: once more, on a new one
      c.reset();
      self->start(std::move(job), /*resend=*/true);
      co_return;
    }
    if (c->connected) self->give_back(std::move(c));
    finish(job, std::move(*r));
  }

  Error timed_out() const {
    return Error{"timeout", "no answer from " + host_header_ + " within " +
                                std::to_string(opts_.timeout.count()) + " ms"};
  }

  // The outcome, or nullopt when the request should be sent again on a new connection (allowed
  // only when `may_retry`: the connection was reused and the server closed it before answering).
  awaitable<std::optional<Result<ClientResponse>>> exchange_once(Conn& c, bool may_retry,
                                                                 const Job& job) {
    using Out = std::optional<Result<ClientResponse>>;
    if (!c.connected) {
      auto deadline = std::min(job.deadline, Clock::now() + opts_.connect_timeout);
      Status s = co_await connect(c, deadline);
      if (!s) co_return Out(s.error());
    }
    c.tcp().expires_at(job.deadline);
    // Not a conditional expression: g++ 12 miscompiles co_await inside ?: (it ran the branch
    // that was not chosen).
    boost::system::error_code ec;
    if (c.secure)
      ec = co_await write_request(*c.secure, job, host_header_);
    else
      ec = co_await write_request(*c.plain, job, host_header_);
    if (ec) {
      c.connected = false;
      if (ec == beast::error::timeout) co_return Out(timed_out());
      if (may_retry) co_return std::nullopt;
      co_return Out(Error{"io_error", host_header_ + ": " + ec.message()});
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(opts_.max_response_bytes);

    parser.header_limit(64 * 1024);
    if (c.secure)
      ec = co_await read_response(*c.secure, c.buffer, parser);
    else
      ec = co_await read_response(*c.plain, c.buffer, parser);
    if (ec) {
      c.connected = false;
      if (may_retry && !parser.got_some() && is_closed_by_peer(ec)) co_return std::nullopt;
      if (ec == beast::error::timeout) co_return Out(timed_out());
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
          ec == bhttp::error::buffer_overflow)
        co_return Out(Error{"too_large", host_header_ + ": answer larger than allowed"});
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
          !is_closed_by_peer(ec))
        co_return Out(Error{"bad_response", host_header_ + ": " + ec.message()});
      co_return Out(Error{"io_error", host_header_ + ": " + ec.message()});
    }
    auto res = parser.release();
    if (!res.keep_alive()) c.connected = false;
    co_return Out(ClientResponse{static_cast<int>(res.result_int()), std::move(res.body())});
  }

 private:
  std::shared_ptr<Runtime> rt_;
  ClientOptions opts_;
  detail::AsioRuntime& art_;
  std::optional<ssl::context> tls_;  // set for an https url
  std::string host_, port_, prefix_, host_header_;
  mutable std::mutex mu_;
  std::vector<std::vector<std::unique_ptr<Conn>>> idle_;  // per io_context
};

}  // namespace

Result<std::shared_ptr<Client>> Client::create(std::shared_ptr<Runtime> rt, ClientOptions opts) {
  if (!rt) return Error{"config", "no runtime"};
  auto c = std::make_shared<ClientImpl>(std::move(rt), std::move(opts));
  if (Status s = c->init(); !s) return s.error();
  return std::shared_ptr<Client>(std::move(c));
}

}  // namespace aaj::http
