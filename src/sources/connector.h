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
//   ca_file              = ""           https: PEM certificates to trust ("" = the system's)
//   max_concurrency      = 64           requests in flight to the source; 0 = no limit
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
#include "http/runtime.h"

namespace aaj::sources {

struct Query {
  std::string resource;  // "R01"…"R52"
  nlohmann::json key;    // e.g. {"iin": "…"}
  std::string request_id;
};

struct Answer {
  bool found = false;
  // The record as the source sent it: the JSON text of an object, already checked to be strict
  // JSON (UTF-8, no duplicate members, nesting within json_limits). Kept as text so that an
  // answer passed on whole is neither re-parsed nor re-serialized. "" when not found.
  std::string data;
  // data parsed (null when not found). Parses on every call.
  nlohmann::json parsed() const;
};

// Called exactly once with a connector's outcome. See Connector::fetch for where it runs.
using FetchDone = std::function<void(Result<Answer>)>;

struct ConnectorConfig {
  std::string type = "http-json";
  std::string url;   // base URL of the source (or of the simulator)
  std::string name;  // source identity for breaker/limiter/health sharing; "" = url
  int connect_timeout_ms = 1000;
  int timeout_ms = 5000;  // whole exchange, per attempt
  std::string ca_file;    // https sources: PEM certificates to trust; "" = the system's

  // Resilience (applied by SourceRouter's decorator, the same for every connector type). All
  // configs sharing a name must agree on these.
  //
  // Requests in flight to this source at once; 0 = unlimited. Protects the source (and our
  // memory) from a burst; a slow source holds no thread, only these slots.
  int max_concurrency = 64;
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
  // Asks the source; never blocks. done(result) runs exactly once: on one of the runtime's I/O
  // threads, or on the calling thread before fetch returns when the outcome is known at once
  // (e.g. an open circuit) — so a caller must not hold a lock that done takes. done must not
  // block. Thread-safe.
  // Errors:
  //   "source_timeout"     no (complete) answer in time; the source may have processed it.
  //   "source_unavailable" the source surely did NOT process the query: no connection could be
  //                        made, or it answered "down" (503) before processing. Decorators may
  //                        retry exactly this code, so a connector must not use it otherwise.
  //   "source_error"       bad or unexpected answer (may have been processed).
  //   "invalid_subject"    the source refused the key (it works; not a failure).
  // Decorators add: "source_busy" (concurrency limit), and "source_unavailable" with a detail
  // saying the circuit is open.
  virtual void fetch(Query q, FetchDone done) = 0;
};

// Asks `c` and waits for the outcome. Blocks the calling thread, which must not be an I/O thread
// of the connector's runtime (error "internal_error" rather than a deadlock).
Result<Answer> fetch_blocking(Connector& c, Query q, const http::Runtime& rt);

// What a connector factory gets besides its config: the runtime whose I/O threads it uses.
using ConnectorFactory = std::function<Result<std::shared_ptr<Connector>>(
    const ConnectorConfig&, const std::shared_ptr<http::Runtime>&)>;

// Registers a connector type. Call at startup only.
void register_connector(const std::string& type, ConnectorFactory f);
// Builds a plain (unwrapped) connector of cfg.type on rt. Error "unknown_connector" or the
// factory's error.
Result<std::shared_ptr<Connector>> make_connector(const ConnectorConfig& cfg,
                                                  const std::shared_ptr<http::Runtime>& rt);

struct RouterOptions {
  // The threads the connectors run on (the server's, so an answer resumes its request without a
  // hand-off). null = a runtime of the router's own with one I/O thread (tools and tests).
  std::shared_ptr<http::Runtime> runtime;
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
  // No fetch may be running. Stops the runtime if it is the router's own.
  ~SourceRouter();
  SourceRouter(const SourceRouter&) = delete;
  SourceRouter& operator=(const SourceRouter&) = delete;

  // Asks the source of q.resource (see Connector::fetch for done). Errors: Connector's plus
  // "source_busy" and a fast "source_unavailable" while the circuit is open. Thread-safe.
  void fetch(Query q, FetchDone done) const;

  // Asks the sources of all queries concurrently; done(results, in the order of qs) runs once
  // every one is done, each bounded by its own source's timeouts and queue wait. Same threading
  // as fetch. Thread-safe.
  void fetch_many(std::vector<Query> qs,
                  std::function<void(std::vector<Result<Answer>>)> done) const;

  // Blocking forms for tools and tests: wait on the calling thread, which must not be one of the
  // runtime's I/O threads ("internal_error"). Thread-safe.
  Result<Answer> fetch(const Query& q) const;
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
