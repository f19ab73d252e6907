// "http-json": POST <url>/query {"resource","key","request_id"} →
//   200 {"result":"ok","data":{…}} | 404 {"result":"not_found"} | 400 {"result":"bad_key"} |
//   503 {"result":"down"}.
// One libcurl easy handle per (thread, connector): keep-alive connections are reused without
// locking, and a slow source only occupies the worker that asked it. The handle lives as long as
// the thread (server workers, the router's fetch_many pool), so its connection cache persists
// across requests.
//
// Dead connections: libcurl itself re-sends at most once when a reused connection turns out to
// be closed before any answer byte; after a timeout or transfer error it closes that connection.
// Connections idle longer than kMaxIdleSeconds are not reused (servers close idle keep-alive
// connections, and reusing one at that moment fails). Any retry beyond that is the resilience
// decorator's, bounded by ConnectorConfig::retries and only for "source_unavailable".
//
// Plain transport: no retry, limiter or breaker here (see resilient.h).
#include <curl/curl.h>

#include <mutex>
#include <unordered_map>

#include "sources/connector.h"

namespace aaj::sources {
namespace {

// Below the usual server keep-alive idle timeouts (aaj's own server: 60 s).
constexpr long kMaxIdleSeconds = 30;

size_t collect(char* p, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (16u << 20)) return 0;  // refuse absurd answers (16 MiB)
  s->append(p, size * n);
  return size * n;
}

struct ThreadHandles {
  std::unordered_map<const void*, CURL*> handles;
  ~ThreadHandles() {
    for (auto& [k, h] : handles) curl_easy_cleanup(h);
  }
};

class HttpJsonConnector final : public Connector {
 public:
  explicit HttpJsonConnector(ConnectorConfig cfg) : cfg_(std::move(cfg)) {
    while (!cfg_.url.empty() && cfg_.url.back() == '/') cfg_.url.pop_back();
    endpoint_ = cfg_.url + "/query";
  }

  Result<Answer> fetch(const Query& q) override {
    CURL* h = handle();
    if (!h) return Error{"source_error", "curl init failed"};
    std::string body =
        nlohmann::json{{"resource", q.resource}, {"key", q.key}, {"request_id", q.request_id}}
            .dump();
    std::string out;
    struct curl_slist* hdrs = nullptr;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, endpoint_.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, kMaxIdleSeconds);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      // Timed out before a single request byte was sent = while connecting: the source surely
      // did not get the query, which is what "source_unavailable" promises (retry-safe).
      long sent = 0;
      curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
      if (sent == 0)
        return Error{"source_unavailable", q.resource + ": could not connect within " +
                                               std::to_string(cfg_.connect_timeout_ms) + " ms"};
      return Error{"source_timeout",
                   q.resource + ": no answer within " + std::to_string(cfg_.timeout_ms) + " ms"};
    }
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
      return Error{"source_unavailable", q.resource + ": " + curl_easy_strerror(rc)};
    if (rc != CURLE_OK) return Error{"source_error", q.resource + ": " + curl_easy_strerror(rc)};
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Error{"source_error",
                   q.resource + ": answer is not JSON (HTTP " + std::to_string(status) + ")"};
    // The source is outside our trust: every field is type-checked before use.
    auto text = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string result = text("result");
    if (status == 200 && result == "ok" && j.contains("data") && j["data"].is_object())
      return Answer{true, j["data"]};
    if (status == 404 && result == "not_found") return Answer{false, nullptr};
    if (status == 400 && result == "bad_key")
      return Error{"invalid_subject", q.resource + ": " + text("message")};
    if (status == 503) return Error{"source_unavailable", q.resource + ": source is down"};
    return Error{"source_error",
                 q.resource + ": HTTP " + std::to_string(status) + " result " + result};
  }

 private:
  CURL* handle() {
    thread_local ThreadHandles th;
    auto& h = th.handles[this];
    if (!h) h = curl_easy_init();
    return h;
  }

  ConnectorConfig cfg_;
  std::string endpoint_;
};

}  // namespace

void register_http_json_connector() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  register_connector("http-json",
                     [](const ConnectorConfig& c) -> Result<std::shared_ptr<Connector>> {
                       if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0)
                         return Error{"config", "source url must be http:// or https://: " + c.url};
                       return std::shared_ptr<Connector>(std::make_shared<HttpJsonConnector>(c));
                     });
}

}  // namespace aaj::sources
