#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange (asio #944)

#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/asio_runtime.h"

namespace aaj::http {

std::string Request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

std::string default_error_body(const std::string& code) {
  return "{\"error\":{\"code\":\"" + code + "\"}}";
}

}  // namespace

// Where an AsyncHandler's answer goes: the waiting session's wake-up timer. `gone` is set when the
// session stops waiting (answered, not taken, or its coroutine destroyed with the runtime), after
// which nothing touches the timer or the executor.
struct Responder::Slot {
  std::mutex mu;
  bool gone = false;
  bool answered = false;
  Response response;
  asio::steady_timer* wake = nullptr;
  asio::any_io_executor executor;
  // The server's error body (ServerOptions::error_body), for the answer of a dropped Responder:
  // shared, since a Responder may outlive the server.
  std::shared_ptr<const std::function<std::string(const std::string&)>> error_body;

  static void answer(const std::shared_ptr<Slot>& s, Response r) {
    std::lock_guard<std::mutex> l(s->mu);
    if (s->gone || s->answered) return;
    s->answered = true;
    s->response = std::move(r);
    // Wakes the session on its own I/O thread (the timer is not thread-safe). Posted under the
    // lock: the session cannot be gone meanwhile.
    asio::post(s->executor, [s] {
      std::lock_guard<std::mutex> l2(s->mu);
      if (!s->gone && s->wake) s->wake->cancel();
    });
  }
};

// Answers 500 if the last copy of a Responder goes away without an answer.
struct Responder::Guard {
  explicit Guard(std::shared_ptr<Slot> s) : slot(std::move(s)) {}
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  std::shared_ptr<Slot> slot;
  ~Guard() {
    if (!slot) return;
    bool unanswered;
    {
      std::lock_guard<std::mutex> l(slot->mu);
      unanswered = !slot->gone && !slot->answered;
    }
    if (unanswered) {
      spdlog::error("{}", "{\"event\":\"responder_dropped\"}");
      Response r;
      r.status = 500;
      r.body = slot->error_body ? (*slot->error_body)("internal_error")
                                : default_error_body("internal_error");
      Slot::answer(slot, std::move(r));
    }
  }
};

Responder::Responder(std::shared_ptr<Slot> slot)
    : guard_(std::make_shared<Guard>(std::move(slot))) {}

void Responder::operator()(Response r) const {
  if (guard_ && guard_->slot) Slot::answer(guard_->slot, std::move(r));
}

namespace {

// The state every session of one server shares. Coroutines hold it by shared_ptr, so it outlives
// the Server object while a shared runtime still runs (or destroys) them.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(ServerOptions opts, Handler handler, AsyncHandler async, detail::AsioRuntime& rt)
      : opts_(std::move(opts)),
        handler_(std::move(handler)),
        async_(std::move(async)),
        ssl_(asio::ssl::context::tls_server),
        rt_(rt),
        pool_(rt.workers()),
        acceptor_(rt.io(0)) {
    if (!opts_.error_body) opts_.error_body = default_error_body;
    error_body_ =
        std::make_shared<const std::function<std::string(const std::string&)>>(opts_.error_body);
  }

  Status init() {
    // Each connection is a descriptor; sources, SQLite and the log need some too. Raise the soft
    // limit to the hard one and keep max_connections below it with a reserve.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
      }
      const size_t reserve = 256;
      size_t usable = rl.rlim_cur > 2 * reserve ? static_cast<size_t>(rl.rlim_cur) - reserve
                                                : static_cast<size_t>(rl.rlim_cur) / 2;
      opts_.max_connections = std::min(opts_.max_connections, usable);
    }
    if (opts_.tls) {
      boost::system::error_code ec;
      ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      SSL_CTX_set_min_proto_version(ssl_.native_handle(), TLS1_2_VERSION);
      ssl_.use_certificate_chain_file(opts_.cert_chain_file, ec);
      if (ec)
        return Error{"tls_config", "certificate " + opts_.cert_chain_file + ": " + ec.message()};
      ssl_.use_private_key_file(opts_.private_key_file, asio::ssl::context::pem, ec);
      if (ec) return Error{"tls_config", "key " + opts_.private_key_file + ": " + ec.message()};
      if (opts_.require_client_certificate) {
        SSL_CTX_set_verify(ssl_.native_handle(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           [](int, X509_STORE_CTX*) { return 1; });
        static const unsigned char kContext[] = "aaj-mtls";
        SSL_CTX_set_session_id_context(ssl_.native_handle(), kContext, sizeof(kContext) - 1);
      }
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opts_.host, ec);
    if (ec) return Error{"bind_failed", "bad address " + opts_.host};
    tcp::endpoint ep(addr, opts_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Error{"bind_failed",
                   opts_.host + ":" + std::to_string(opts_.port) + ": " + ec.message()};
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached);
    return {};
  }

  uint16_t port() const { return port_; }

  // Closes the listener on its I/O thread and waits for it (at most 2 s: a runtime stopped
  // already runs nothing), so that no connection is accepted after this returns. Idempotent.
  void stop_accepting() {
    bool expected = false;
    if (!stopped_.compare_exchange_strong(expected, true)) return;
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    asio::post(acceptor_.get_executor(), [self = shared_from_this(), closed] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
      closed->set_value();
    });
    done.wait_for(std::chrono::seconds(2));
  }

 private:
  awaitable<void> accept_loop(std::shared_ptr<ServerCore> self) {
    for (;;) {
      boost::system::error_code ec;
      // Each connection lives on one I/O thread's io_context, in turn: its coroutine, socket
      // and timers then need no strand.
      tcp::socket sock = co_await acceptor_.async_accept(rt_.io(rt_.next()),
                                                         asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // Out of descriptors (EMFILE/ENFILE) or another transient error: pause instead of
        // spinning on a listener that stays readable until connections close.
        asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (connections_.load() >= opts_.max_connections) {
        sock.close(ec);
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      auto ex = sock.get_executor();
      if (opts_.tls) {
        asio::co_spawn(ex, serve_tls(self, beast::tcp_stream(std::move(sock))), asio::detached);
      } else {
        asio::co_spawn(ex, serve_plain(self, beast::tcp_stream(std::move(sock))), asio::detached);
      }
    }
  }

  struct ConnectionCount {
    std::atomic<size_t>& n;
    explicit ConnectionCount(std::atomic<size_t>& c) : n(c) { ++n; }
    ~ConnectionCount() { --n; }
  };

  awaitable<void> serve_plain(std::shared_ptr<ServerCore> self, beast::tcp_stream stream) {
    ConnectionCount count(connections_);
    std::string remote = peer(stream.socket());
    co_await session(stream, remote, nullptr);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  awaitable<void> serve_tls(std::shared_ptr<ServerCore> self, beast::tcp_stream tcp_stream) {
    ConnectionCount count(connections_);
    std::string remote = peer(tcp_stream.socket());
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), ssl_);
    beast::get_lowest_layer(stream).expires_after(opts_.read_timeout);
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    PeerCertificates peer_certs;
    if (opts_.require_client_certificate) peer_certs = peer_certificates(stream.native_handle());
    co_await session(stream, remote, &peer_certs);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  struct PeerCertificates {
    std::string leaf;
    std::vector<std::string> chain;
  };

  static std::string der_of(X509* c) {
    int n = i2d_X509(c, nullptr);
    if (n <= 0) return {};
    std::string out(static_cast<size_t>(n), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    i2d_X509(c, &p);
    return out;
  }

  // Read once per connection: a keep-alive connection keeps the identity it shook hands with.
  static PeerCertificates peer_certificates(SSL* ssl) {
    PeerCertificates out;
    if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
      out.leaf = der_of(leaf);
      X509_free(leaf);
    }
    // On the server side the peer chain excludes the leaf.
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl))
      for (int i = 0; i < sk_X509_num(chain); ++i)
        out.chain.push_back(der_of(sk_X509_value(chain, i)));
    return out;
  }

  static std::string peer(tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? "" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  template <class Stream>
  awaitable<void> session(Stream& stream, const std::string& remote,
                          const PeerCertificates* peer_certs) {
    beast::flat_buffer buffer;
    buffer.reserve(detail::kReadBufferBytes);  // a request in one read (asio_runtime.h)
    bool first = true;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(opts_.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
      beast::get_lowest_layer(stream).expires_after(first ? opts_.read_timeout
                                                          : opts_.idle_timeout);
      first = false;
      boost::system::error_code ec;
      co_await bhttp::async_read_header(stream, buffer, parser,
                                        asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        // The whole request must arrive within read_timeout once its headers have begun.
        beast::get_lowest_layer(stream).expires_after(opts_.read_timeout);
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      }
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::eof || ec == asio::error::connection_reset ||
          ec == asio::ssl::error::stream_truncated) {
        co_return;
      }
      if (ec) {
        Response r;
        if (ec == bhttp::error::body_limit) {
          r.status = 413;
          r.body = opts_.error_body("payload_too_large");
        } else if (ec == bhttp::error::header_limit) {
          r.status = 431;
          r.body = opts_.error_body("malformed_request");
        } else {
          r.status = 400;
          r.body = opts_.error_body("malformed_request");
        }
        co_await write(stream, r, false, 11);
        co_return;
      }
      auto req = parser.release();
      Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      auto q = r.target.find('?');
      r.path = r.target.substr(0, q);
      if (q != std::string::npos) r.query = r.target.substr(q + 1);
      for (const auto& f : req) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        r.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      r.body = std::move(req.body());
      r.remote = remote;
      if (peer_certs) {
        r.client_cert_der = peer_certs->leaf;
        r.client_chain_der = peer_certs->chain;
      }
      bool keep_alive = req.keep_alive();
      unsigned version = req.version();

      Response resp;
      bool taken = false;
      if (async_) {
        // The handler may answer from any thread; the answer wakes this coroutine on its own
        // I/O thread.
        auto slot = std::make_shared<Responder::Slot>();
        asio::steady_timer wake(co_await asio::this_coro::executor,
                                asio::steady_timer::time_point::max());
        slot->wake = &wake;
        slot->executor = co_await asio::this_coro::executor;
        slot->error_body = error_body_;
        struct Leave {  // runs also when the runtime destroys this coroutine while it waits
          Responder::Slot& s;
          ~Leave() {
            std::lock_guard<std::mutex> l(s.mu);
            s.gone = true;
          }
        } leave{*slot};
        {
          Responder responder(slot);
          taken = call_async(r, responder);
          if (!taken) {
            std::lock_guard<std::mutex> l(slot->mu);
            slot->gone = true;  // copies kept by mistake cannot answer a request not taken
          }
        }  // a taken request is now kept alive by the handler's copies alone
        if (taken) {
          for (;;) {
            {
              std::lock_guard<std::mutex> l(slot->mu);
              if (slot->answered) {
                resp = std::move(slot->response);
                slot->gone = true;
                break;
              }
            }
            boost::system::error_code wait_ec;
            co_await wake.async_wait(asio::redirect_error(use_awaitable, wait_ec));
          }
        }
      }
      if (!taken) {
        // Blocking work goes to the worker pool; the coroutine resumes on this connection's I/O
        // thread.
        resp = co_await asio::co_spawn(
            pool_.get_executor(),
            [this, &r]() -> awaitable<Response> { co_return call_handler(r); }, use_awaitable);
      }
      for (const auto& [k, v] : resp.headers)
        if (beast::iequals(k, "connection") && beast::iequals(v, "close")) keep_alive = false;
      bool ok = co_await write(stream, resp, keep_alive, version);
      if (!ok || !keep_alive || stopped_.load()) co_return;
    }
  }

  // Offers the request to the AsyncHandler; an exception is answered 500 (taken).
  bool call_async(Request& r, const Responder& respond) {
    try {
      return async_(r, respond);
    } catch (...) {
      log_handler_exception(r.path, std::current_exception());
    }
    respond(internal_error());
    return true;
  }

  Response call_handler(const Request& r) {
    try {
      return handler_(r);
    } catch (...) {
      log_handler_exception(r.path, std::current_exception());
    }
    return internal_error();
  }

  static void log_handler_exception(const std::string& path, std::exception_ptr e) {
    nlohmann::json line{{"event", "handler_exception"}, {"path", path}};
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      line["what"] = x.what();
    } catch (...) {
    }
    spdlog::error("{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  Response internal_error() const {
    Response resp;
    resp.status = 500;
    resp.body = opts_.error_body("internal_error");
    return resp;
  }

  template <class Stream>
  // Takes r's body (moved into the message, not copied).
  awaitable<bool> write(Stream& stream, Response& r, bool keep_alive, unsigned version) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "aaj");
    res.set(bhttp::field::content_type, r.content_type);
    res.set(bhttp::field::cache_control, "no-store");
    if (opts_.tls) res.set("Strict-Transport-Security", "max-age=31536000");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res.set(k, v);
    // After the handler's headers: a handler's "Connection: close" has already cleared
    // keep_alive (see session()), which Beast would otherwise drop from an HTTP/1.1 answer.
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(opts_.read_timeout);
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  ServerOptions opts_;
  std::shared_ptr<const std::function<std::string(const std::string&)>> error_body_;
  Handler handler_;
  AsyncHandler async_;
  asio::ssl::context ssl_;
  detail::AsioRuntime& rt_;
  asio::thread_pool& pool_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> connections_{0};
  uint16_t port_ = 0;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(std::shared_ptr<Runtime> rt, bool own_runtime, std::shared_ptr<ServerCore> core)
      : rt_(std::move(rt)), own_runtime_(own_runtime), core_(std::move(core)) {}
  ~ServerImpl() override {
    stop();
    core_.reset();
  }
  uint16_t port() const override { return core_->port(); }
  void stop() override {
    core_->stop_accepting();
    if (own_runtime_) rt_->stop();
  }

 private:
  std::shared_ptr<Runtime> rt_;  // declared first: destroyed last
  bool own_runtime_;
  std::shared_ptr<ServerCore> core_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions opts, Handler handler,
                                              AsyncHandler async) {
  bool own = !opts.runtime;
  std::shared_ptr<Runtime> rt =
      own ? Runtime::start({opts.io_threads, opts.worker_threads}) : opts.runtime;
  auto core = std::make_shared<ServerCore>(std::move(opts), std::move(handler), std::move(async),
                                           detail::asio_of(*rt));
  Status st = core->init();
  if (!st) {
    if (own) rt->stop();
    return st.error();
  }
  return std::unique_ptr<Server>(std::make_unique<ServerImpl>(std::move(rt), own, std::move(core)));
}

}  // namespace aaj::http
