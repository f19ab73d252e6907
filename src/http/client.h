// Asynchronous HTTP/1.1 client to one origin (http:// or https://), on a Runtime's I/O threads,
// with kept-alive connections reused across requests. Used by the data-source connectors, where a
// request must never occupy a thread while the source thinks.
//
// What a caller can rely on after an error (the connectors' retry rules depend on it):
//   "connect_failed"   the request was NOT sent: resolve, connect or refused.
//   "connect_timeout"  the request was NOT sent: no connection within connect_timeout.
//   "tls_failed"       the request was NOT sent: the TLS handshake or certificate check failed.
//   "timeout"          sent (at least partly); no complete answer within `timeout`.
//   "io_error"         sent (at least partly); the connection broke before the whole answer.
//   "bad_response"     an answer arrived but is not valid HTTP/1.1.
//   "too_large"        the answer exceeds max_response_bytes.
// A kept-alive connection that the server closed while idle is detected and the request is sent
// once more on a new connection, but only when not a byte of answer had arrived (as libcurl does).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/runtime.h"

namespace aaj::http {

struct ClientOptions {
  std::string url;  // "http://host:port[/prefix]" or "https://host:port[/prefix]"
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{5000};  // the whole exchange, connection included
  // Idle connections older than this are closed, not reused (servers drop idle connections,
  // and reusing one at that moment fails). Below the usual 60 s of servers, aaj's included.
  std::chrono::seconds max_idle{30};
  size_t max_idle_connections = 64;
  size_t max_response_bytes = 16u << 20;
  // https only: PEM file of the certificates to trust; "" = the system's default store. The
  // server's name is always checked against its certificate.
  std::string ca_file;
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

class Client {
 public:
  using Done = std::function<void(Result<ClientResponse>)>;

  // Errors: "config" (bad url or ca_file).
  static Result<std::shared_ptr<Client>> create(std::shared_ptr<Runtime> rt, ClientOptions opts);
  virtual ~Client() = default;

  // POSTs `body` to url + path. done runs exactly once, on an I/O thread (never inside post()).
  // done must not block. Thread-safe.
  virtual void post(std::string path, std::string body, std::string content_type, Done done) = 0;

  // GETs url + path (no body). Same contract as post(); a GET is resent on a new connection
  // under the same rule as a POST (a kept-alive connection closed before any answer byte).
  virtual void get(std::string path, Done done) = 0;

  // Kept-alive connections currently idle in the pool (for tests). Thread-safe.
  virtual size_t idle_connections() const = 0;
};

}  // namespace aaj::http
