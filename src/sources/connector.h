// Connectors to the data sources (the state databases). A connector is an extension chosen by
// configuration and registered by name ("http-json" now; the e-government gateway's SOAP/XML
// style can be added as another connector without touching the pipeline).
//
// Layering (Envoy style): a connector is a plain transport (one exchange, its own timeouts).
// Resilience — concurrency limit, circuit breaker, bounded retry — is a decorator
// (resilient.h) that SourceRouter puts around every connector it builds, so any connector type
// gets it without code of its own. The pieces a decorator needs from a transport are the error
// codes below, in particular the promise behind "source_unavailable".
//
// Configuration keys (TOML; under [sources.default] and [sources.Rxx], an Rxx table starting
// from a copy of the default — see app/config.cpp). Per source:
//   connector            = "http-json"  type (ConnectorConfig::type)
//   url                  = "http://…"   base URL (required)
//   name                 = ""           source identity; "" = the url. Resources whose configs
//                                       have the same name are ONE source: one breaker, one
//                                       concurrency limit, one /healthz entry. An Rxx table that
//                                       sets url but not name should reset name to "" (else it
//                                       would inherit the default's name; SourceRouter::create
//                                       refuses one name with two urls).
//   connect_timeout_ms   = 1000
//   timeout_ms           = 5000         whole exchange, per attempt
//   max_concurrency      = 16           requests in flight to the source; 0 = no limit
//   queue_timeout_ms     = 200          wait for a free slot, then "source_busy"
//   retries              = 1            extra attempts, only when the query surely did not
//                                       reach the source ("source_unavailable"); 0..5
//   retry_backoff_ms     = 50           pause before each retry
//   breaker_failures     = 5            consecutive failures that open the circuit; 0 = no
//                                       breaker
//   breaker_open_ms      = 10000        how long it stays open before one probe is let through
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"

namespace aaj::sources {

struct Query {
  std::string resource;  // "R01"…"R52"
  nlohmann::json key;    // e.g. {"iin": "…"}
  std::string request_id;
};

struct Answer {
  bool found = false;
  nlohmann::json data;  // null when not found
};

struct ConnectorConfig {
  std::string type = "http-json";
  std::string url;   // base URL of the source (or of the simulator)
  std::string name;  // source identity for breaker/limiter/health sharing; "" = url
  int connect_timeout_ms = 1000;
  int timeout_ms = 5000;  // whole exchange, per attempt

  // Resilience (applied by SourceRouter's decorator, the same for every connector type). All
  // configs sharing a name must agree on these.
  //
  // Requests in flight to this source at once; 0 = unlimited. Bounds the server workers a slow
  // source can hold, so the others keep serving the other sources.
  int max_concurrency = 16;
  // Beyond max_concurrency a request waits this long for a slot, then fails with "source_busy".
  int queue_timeout_ms = 200;
  // Extra attempts after "source_unavailable" only (connect refused/failed, or the source said
  // 503 before processing). Never after a timeout or another error: the query may have been
  // processed, and the source logs every query, so a duplicate is not free. 0..5.
  int retries = 1;
  int retry_backoff_ms = 50;  // pause before each retry (lets a restarting source come up)
  // Consecutive failures (source_timeout, source_unavailable, source_error) that open the
  // circuit; not_found and invalid_subject are answers, not failures. 0 = no breaker.
  int breaker_failures = 5;
  // While open, requests fail at once with "source_unavailable"; after this the circuit is
  // half-open and ONE probe goes through: success closes it, failure re-opens it.
  int breaker_open_ms = 10000;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Asks the source. Blocks for at most the configured timeout(s). Thread-safe.
  // Errors:
  //   "source_timeout"     no (complete) answer in time; the source may have processed it.
  //   "source_unavailable" the source surely did NOT process the query: no connection could be
  //                        made, or it answered "down" (503) before processing. Decorators may
  //                        retry exactly this code, so a connector must not use it otherwise.
  //   "source_error"       bad or unexpected answer (may have been processed).
  //   "invalid_subject"    the source refused the key (it works; not a failure).
  // Decorators add: "source_busy" (concurrency limit), and "source_unavailable" with a detail
  // saying the circuit is open.
  virtual Result<Answer> fetch(const Query& q) = 0;
};

using ConnectorFactory = std::function<Result<std::shared_ptr<Connector>>(const ConnectorConfig&)>;

// Registers a connector type. Call at startup only.
void register_connector(const std::string& type, ConnectorFactory f);
// Builds a plain (unwrapped) connector of cfg.type. Error "unknown_connector" or the factory's
// error.
Result<std::shared_ptr<Connector>> make_connector(const ConnectorConfig& cfg);

struct RouterOptions {
  // Threads of the router's fetch_many pool. Fixed at creation: the number of threads never
  // grows with load (callers help when it is saturated, see fetch_many).
  int fetch_threads = 8;
};

// Which source serves which resource: a default plus per-resource overrides, each behind the
// resilience decorator of its source (see ConnectorConfig::name for what one source is).
class SourceRouter {
 public:
  // Builds one source (breaker, limiter, counters) per distinct name and one wrapped connector
  // per distinct transport config. Errors: make_connector's; "config" for invalid resilience
  // values or for configs that share a name but differ in url or resilience settings.
  static Result<std::shared_ptr<SourceRouter>> create(
      const ConnectorConfig& fallback, const std::map<std::string, ConnectorConfig>& overrides,
      RouterOptions options = {});
  ~SourceRouter();  // joins the fetch_many pool; no fetch may be running
  SourceRouter(const SourceRouter&) = delete;
  SourceRouter& operator=(const SourceRouter&) = delete;

  // Asks the source of q.resource on the calling thread. Errors: Connector's plus "source_busy"
  // and a fast "source_unavailable" while the circuit is open. Thread-safe.
  Result<Answer> fetch(const Query& q) const;

  // Asks the sources of all queries concurrently and returns when every one is done (each
  // bounded by its own source's timeouts and queue wait); results in the order of qs. One
  // query runs on the calling thread with no hand-off. Thread-safe; blocks the caller.
  std::vector<Result<Answer>> fetch_many(const std::vector<Query>& qs) const;

  // Health of every source, ordered by name: a JSON array of
  //   {"name","url","resources":[…],"default":bool,"state":"closed"|"open"|"half_open",
  //    "in_flight","waiting","max_concurrency","consecutive_failures","requests","retries",
  //    "failures","rejected","last_error":{"code","detail"}|null,"last_error_at",
  //    "last_success_at","open_until"}
  // Times are UTC ISO 8601 ("…Z") or null. Thread-safe; takes each source's lock briefly.
  nlohmann::json health() const;

 private:
  struct Impl;
  explicit SourceRouter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aaj::sources
