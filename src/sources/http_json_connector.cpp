// "http-json": POST <url>/query {"resource","key","request_id"} →
//   200 {"result":"ok","data":{…}} | 404 {"result":"not_found"} | 400 {"result":"bad_key"} |
//   503 {"result":"down"}.
// Asynchronous over http::Client: kept-alive connections shared by all threads, and a slow
// source occupies a connection, never a thread. A kept-alive connection the source closed while
// idle is retried once by the client (only when no answer byte arrived); any retry beyond that
// is the resilience decorator's, bounded by ConnectorConfig::retries and only for
// "source_unavailable".
//
// The answer is checked strictly (core/json_scan) but not parsed into a tree: its "data" member
// is passed on as the source's own bytes.
#include "core/json_scan.h"
#include "http/client.h"
#include "sources/connector.h"

namespace aaj::sources {
namespace {

// What one exchange means, in the connector's error codes (connector.h).
Result<Answer> interpret(const std::string& resource, Result<http::ClientResponse> r) {
  if (!r) {
    const Error& e = r.error();
    // Not sent at all: the promise behind "source_unavailable" holds (retry-safe).
    if (e.code == "connect_failed" || e.code == "connect_timeout")
      return Error{"source_unavailable", resource + ": " + e.detail};
    if (e.code == "timeout") return Error{"source_timeout", resource + ": " + e.detail};
    return Error{"source_error", resource + ": " + e.detail};
  }
  const int status = r->status;
  auto members = json_scan::object_members(r->body);
  if (!members)
    return Error{"source_error", resource + ": answer is not JSON (HTTP " + std::to_string(status) +
                                     "): " + members.error().detail};
  // The source is outside our trust: every member used is type-checked.
  auto text = [&](const char* name) -> std::string {
    const json_scan::Member* m = json_scan::find(*members, name);
    if (!m || m->value.empty() || m->value.front() != '"') return "";
    auto v = json_scan::string_value(m->value);
    return v ? *v : "";
  };
  std::string result = text("result");
  if (status == 200 && result == "ok") {
    const json_scan::Member* data = json_scan::find(*members, "data");
    if (data && !data->value.empty() && data->value.front() == '{')
      return Answer{true, std::string(data->value)};
  }
  if (status == 404 && result == "not_found") return Answer{false, ""};
  if (status == 400 && result == "bad_key")
    return Error{"invalid_subject", resource + ": " + text("message")};
  if (status == 503) return Error{"source_unavailable", resource + ": source is down"};
  return Error{"source_error", resource + ": HTTP " + std::to_string(status) + " result " + result};
}

class HttpJsonConnector final : public Connector {
 public:
  explicit HttpJsonConnector(std::shared_ptr<http::Client> client) : client_(std::move(client)) {}

  void fetch(Query q, FetchDone done) override {
    std::string body =
        nlohmann::json{{"resource", q.resource}, {"key", q.key}, {"request_id", q.request_id}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    client_->post("/query", std::move(body), "application/json",
                  [resource = std::move(q.resource), done = std::move(done)](
                      Result<http::ClientResponse> r) { done(interpret(resource, std::move(r))); });
  }

 private:
  std::shared_ptr<http::Client> client_;
};

}  // namespace

void register_http_json_connector() {
  register_connector(
      "http-json",
      [](const ConnectorConfig& c,
         const std::shared_ptr<http::Runtime>& rt) -> Result<std::shared_ptr<Connector>> {
        // The url (scheme, host, port) is checked by the client: error "config".
        http::ClientOptions o;
        o.url = c.url;
        o.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms);
        o.timeout = std::chrono::milliseconds(c.timeout_ms);
        o.ca_file = c.ca_file;
        // Enough idle connections for every request the limiter lets through at once.
        o.max_idle_connections = static_cast<size_t>(std::max(16, c.max_concurrency));
        auto client = http::Client::create(rt, o);
        if (!client) return client.error();
        return std::shared_ptr<Connector>(std::make_shared<HttpJsonConnector>(*client));
      });
}

}  // namespace aaj::sources
