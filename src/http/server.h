// HTTP/1.1 server (TLS 1.2+ or plain for loopback-only helpers such as the source simulator).
// Boost.Beast lives only in src/http: the rest of aaj sees these plain types.
//
// Threading: the runtime's I/O threads (runtime.h) run the network I/O as C++20 coroutines. Each
// parsed request is first offered to the AsyncHandler, if any, on the I/O thread: it may take the
// request and answer it later from any thread through a Responder (the data requests do this:
// they never block, they wait for sources and the log by callback). Requests it does not take go
// to the blocking Handler on a worker thread, so a slow handler never stalls the I/O of others.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/runtime.h"

namespace aaj::http {

struct Request {
  std::string method;  // "GET", "POST", …
  std::string target;  // as sent, e.g. "/api/v1/requests?x=1"
  std::string path;    // target without the query
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string remote;  // peer address "ip:port"
  // The TLS client's certificate (DER) and the further certificates it sent, when the listener
  // asks for client certificates (ServerOptions::require_client_certificate). The server does
  // not judge them: the application verifies chain, revocation and usage (fail closed there).
  std::string client_cert_der;
  std::vector<std::string> client_chain_der;

  // Value of the first header with this lower-case name, or "".
  std::string header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Runs on a worker thread; may block. Exceptions are caught and answered 500.
using Handler = std::function<Response(const Request&)>;

// Answers one request taken by an AsyncHandler. Copyable and thread-safe: call it once, from any
// thread; later calls are ignored. If every copy is destroyed without a call (a programming
// error), the request is answered 500 internal_error rather than left hanging. After the server
// has stopped, calls do nothing.
class Responder {
 public:
  struct Slot;  // internal to the server
  Responder() = default;
  explicit Responder(std::shared_ptr<Slot> slot);
  void operator()(Response r) const;

 private:
  struct Guard;
  std::shared_ptr<Guard> guard_;
};

// Runs on an I/O thread and must not block. Returns false to leave the request to the blocking
// Handler (req untouched), or true to take it: it may then move from req, and must answer
// through `respond`, now or later. An exception escaping it is answered 500 internal_error.
using AsyncHandler = std::function<bool(Request& req, const Responder& respond)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port (see Server::port())
  bool tls = true;
  std::string cert_chain_file;   // PEM, server certificate first
  std::string private_key_file;  // PEM
  // The threads to run on; null = a runtime of its own with io_threads and worker_threads.
  std::shared_ptr<Runtime> runtime;
  int io_threads = 2;
  int worker_threads = 32;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 8 << 10;
  std::chrono::seconds read_timeout{30};  // a request must arrive whole within this
  std::chrono::seconds idle_timeout{60};  // keep-alive connections idle longer are closed
  size_t max_connections = 4096;          // beyond this new connections are closed at once
  // Mutual TLS: the handshake fails without a client certificate, and the certificate reaches
  // the handler in Request::client_cert_der. Any certificate is accepted at the TLS layer, so
  // the refusal is made by the application with a clear error code and is logged.
  bool require_client_certificate = false;
  // Produces the JSON body of a server-level error (bad HTTP, body too large, overload):
  // (code) -> body. Defaults to {"error":{"code":…}}.
  std::function<std::string(const std::string& code)> error_body;
};

class Server {
 public:
  // Binds, listens and starts serving. `async` (optional) is offered every request first.
  // Errors: "bind_failed", "tls_config".
  static Result<std::unique_ptr<Server>> start(ServerOptions opts, Handler handler,
                                               AsyncHandler async = {});
  virtual ~Server() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting (the listener is closed when it returns). With a runtime of its own it also
  // stops and joins the threads; open connections are closed when the Server is destroyed (with a
  // shared runtime: when the runtime is). Idempotent; thread-safe.
  virtual void stop() = 0;
};

}  // namespace aaj::http
