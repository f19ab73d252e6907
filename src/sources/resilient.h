// Internal to src/sources: resilience around any connector — a per-source concurrency limiter,
// circuit breaker and counters (SourceGuard), and the decorator that applies them plus bounded
// retry (make_resilient). SourceRouter builds these for every connector (the case register too
// is a SourceRouter); users outside src/sources go through SourceRouter.
#pragma once
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "http/runtime.h"
#include "sources/connector.h"

namespace aaj::sources {

// Checks the resilience fields of cfg. Error "config" naming `where` and the field.
Status validate_resilience(const ConnectorConfig& cfg, const std::string& where);

// The shared state of one source: limiter, breaker and counters. Shared by every connector
// wrapped for that source. Thread-safe: one mutex, held for a few instructions per call and
// never while a callback runs.
class SourceGuard : public std::enable_shared_from_this<SourceGuard> {
 public:
  using Clock = std::chrono::steady_clock;

  // Uses cfg's resilience fields; cfg must pass validate_resilience. Queue timeouts run on rt.
  SourceGuard(std::string name, const ConnectorConfig& cfg, std::shared_ptr<http::Runtime> rt);

  const ConnectorConfig& config() const { return cfg_; }
  // The runtime its queue timeouts run on (and the decorator's retry timers).
  const std::shared_ptr<http::Runtime>& runtime() const { return rt_; }

  // A granted admission. Pass it back to leave() exactly once.
  struct Pass {
    bool probe = false;  // this request is the half-open probe
  };
  using Admitted = std::function<void(Result<Pass>)>;
  // Admits one request: fails with "source_unavailable" while the circuit is open (or half-open
  // with its probe in flight), else takes a concurrency slot, or queues for one up to
  // queue_timeout_ms and then fails with "source_busy". A waiter is failed with
  // "source_unavailable" as soon as the circuit opens. `then` runs exactly once: on the calling
  // thread when decided at once, else on an I/O thread of the runtime. `resource` prefixes the
  // error detail. The guard must be owned by a shared_ptr.
  void enter(const std::string& resource, Admitted then);
  // Releases the slot and records the outcome: the final error code ("" = the source answered).
  // `completed` false (the connector threw) releases a probe without judging the source.
  void leave(const Pass& pass, bool completed, const Error* error);
  // Counts one retry attempt (for health and tests).
  void note_retry();

  // This source's entry of SourceRouter::health() (without "resources"/"default").
  nlohmann::json health() const;

 private:
  enum class State { closed, open, half_open };
  static const char* state_name(State s);
  void open_locked(Clock::time_point now);

  struct Waiter {
    uint64_t id;
    std::string resource;
    Admitted then;
    http::TimerHandle timeout;  // cancelled when the waiter is admitted or refused first
  };
  // Under mu_: the breaker's verdict for a new admission, or the error to fail it with.
  std::optional<Error> refusal_locked(const std::string& resource, Clock::time_point now);
  // Under mu_: takes a slot (and the probe, when half-open).
  Pass admit_locked();
  // Runs outside the lock: hands freed slots to waiters and fails waiters the breaker refuses.
  void dispatch(std::vector<std::pair<Admitted, Result<Pass>>> calls);
  // Under mu_: the waiters to call now that a slot is free or the circuit opened.
  void wake_locked(std::vector<std::pair<Admitted, Result<Pass>>>& calls);

  const std::string name_;
  const ConnectorConfig cfg_;
  const std::shared_ptr<http::Runtime> rt_;

  mutable std::mutex mu_;
  std::deque<Waiter> waiters_;
  uint64_t next_waiter_ = 0;
  State state_ = State::closed;
  bool probe_in_flight_ = false;
  Clock::time_point open_until_{};
  time::Instant open_until_wall_{};
  int in_flight_ = 0;
  int consecutive_failures_ = 0;
  uint64_t requests_ = 0, retries_ = 0, failures_ = 0, rejected_ = 0;
  std::optional<Error> last_error_;
  std::optional<time::Instant> last_error_at_, last_success_at_;
};

// Wraps `inner` (a plain transport) with guard's limiter and breaker, and retries
// "source_unavailable" up to guard->config().retries times after retry_backoff_ms (a timer on
// guard->runtime(), no thread held), keeping its concurrency slot meanwhile. The result is a
// Connector like any other; thread-safe if inner is.
std::shared_ptr<Connector> make_resilient(std::shared_ptr<Connector> inner,
                                          std::shared_ptr<SourceGuard> guard);

}  // namespace aaj::sources
