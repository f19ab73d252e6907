#include "sources/resilient.h"

#include <thread>

namespace aaj::sources {

bool is_source_failure(const std::string& code) {
  return code == "source_timeout" || code == "source_unavailable" || code == "source_error";
}

Status validate_resilience(const ConnectorConfig& c, const std::string& where) {
  auto bad = [&](const char* field, const char* rule) {
    return Error{"config", where + "." + field + " must be " + rule};
  };
  if (c.max_concurrency < 0) return bad("max_concurrency", ">= 0 (0 = no limit)");
  if (c.queue_timeout_ms < 0) return bad("queue_timeout_ms", ">= 0");
  if (c.retries < 0 || c.retries > 5) return bad("retries", "0..5");
  if (c.retry_backoff_ms < 0) return bad("retry_backoff_ms", ">= 0");
  if (c.breaker_failures < 0) return bad("breaker_failures", ">= 0 (0 = no breaker)");
  if (c.breaker_failures > 0 && c.breaker_open_ms <= 0) return bad("breaker_open_ms", "> 0");
  return {};
}

SourceGuard::SourceGuard(std::string name, const ConnectorConfig& cfg)
    : name_(std::move(name)), cfg_(cfg) {}

const char* SourceGuard::state_name(State s) {
  switch (s) {
    case State::closed:
      return "closed";
    case State::open:
      return "open";
    case State::half_open:
      return "half_open";
  }
  return "closed";
}

void SourceGuard::open_locked(Clock::time_point now) {
  state_ = State::open;
  probe_in_flight_ = false;
  open_until_ = now + std::chrono::milliseconds(cfg_.breaker_open_ms);
  open_until_wall_ = time::now() + std::chrono::milliseconds(cfg_.breaker_open_ms);
}

Result<SourceGuard::Pass> SourceGuard::enter(const std::string& resource) {
  std::unique_lock<std::mutex> l(mu_);
  const auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.queue_timeout_ms);
  bool counted_wait = false;
  for (;;) {
    // The breaker is judged first and again after every wait: an open circuit must fail fast
    // even for requests that were queued before it opened.
    auto now = Clock::now();
    if (state_ == State::open && now >= open_until_) state_ = State::half_open;
    if (state_ != State::closed && (state_ == State::open || probe_in_flight_)) {
      if (counted_wait) {
        --waiting_;
        slot_free_.notify_one();  // the wake-up this waiter may have consumed
      }
      ++rejected_;
      std::string why = state_ == State::open
                            ? "circuit open until " + time::format_utc(open_until_wall_)
                            : std::string("circuit half-open, its probe request is in flight");
      std::string last = last_error_
                             ? " (last: " + last_error_->code + ": " + last_error_->detail + ")"
                             : std::string();
      return Error{"source_unavailable", resource + ": source " + name_ + " " + why + last};
    }
    if (cfg_.max_concurrency == 0 || in_flight_ < cfg_.max_concurrency) break;
    if (!counted_wait) {
      counted_wait = true;
      ++waiting_;
    }
    if (slot_free_.wait_until(l, deadline) == std::cv_status::timeout &&
        in_flight_ >= cfg_.max_concurrency) {
      --waiting_;
      ++rejected_;
      return Error{"source_busy", resource + ": source " + name_ + " has " +
                                      std::to_string(in_flight_) + " requests in flight; no " +
                                      "slot within " + std::to_string(cfg_.queue_timeout_ms) +
                                      " ms"};
    }
  }
  if (counted_wait) --waiting_;
  ++in_flight_;
  ++requests_;
  Pass p;
  if (state_ == State::half_open) {
    probe_in_flight_ = true;
    p.probe = true;
  }
  return p;
}

void SourceGuard::leave(const Pass& pass, bool completed, const Error* error) {
  std::lock_guard<std::mutex> l(mu_);
  --in_flight_;
  slot_free_.notify_one();
  if (!completed) {
    if (pass.probe) probe_in_flight_ = false;  // let another request probe
    return;
  }
  auto now = Clock::now();
  if (error && is_source_failure(error->code)) {
    ++failures_;
    ++consecutive_failures_;
    last_error_ = *error;
    last_error_at_ = time::now();
    if (pass.probe)
      open_locked(now);
    else if (state_ == State::closed && cfg_.breaker_failures > 0 &&
             consecutive_failures_ >= cfg_.breaker_failures)
      open_locked(now);
    return;
  }
  last_success_at_ = time::now();
  if (pass.probe) {
    state_ = State::closed;
    probe_in_flight_ = false;
    consecutive_failures_ = 0;
  } else if (state_ == State::closed) {
    consecutive_failures_ = 0;
  }
  // A late success of a request admitted before the circuit opened does not close it: only
  // the probe decides.
}

void SourceGuard::note_retry() {
  std::lock_guard<std::mutex> l(mu_);
  ++retries_;
}

nlohmann::json SourceGuard::health() const {
  auto ts = [](const std::optional<time::Instant>& t) {
    return t ? nlohmann::json(time::format_utc(*t)) : nlohmann::json(nullptr);
  };
  std::lock_guard<std::mutex> l(mu_);
  // An open circuit whose time is up is reported half-open: the next request will probe.
  State s = state_ == State::open && Clock::now() >= open_until_ ? State::half_open : state_;
  return {{"name", name_},
          {"url", cfg_.url},
          {"state", state_name(s)},
          {"in_flight", in_flight_},
          {"waiting", waiting_},
          {"max_concurrency", cfg_.max_concurrency},
          {"consecutive_failures", consecutive_failures_},
          {"requests", requests_},
          {"retries", retries_},
          {"failures", failures_},
          {"rejected", rejected_},
          {"last_error", last_error_ ? nlohmann::json{{"code", last_error_->code},
                                                      {"detail", last_error_->detail}}
                                     : nlohmann::json(nullptr)},
          {"last_error_at", ts(last_error_at_)},
          {"last_success_at", ts(last_success_at_)},
          {"open_until", s == State::open ? nlohmann::json(time::format_utc(open_until_wall_))
                                          : nlohmann::json(nullptr)}};
}

namespace {

class ResilientConnector final : public Connector {
 public:
  ResilientConnector(std::shared_ptr<Connector> inner, std::shared_ptr<SourceGuard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)) {}

  Result<Answer> fetch(const Query& q) override {
    auto pass = guard_->enter(q.resource);
    if (!pass) return pass.error();
    // Releases the slot (and a probe) even if the transport throws.
    struct Leave {
      SourceGuard& g;
      SourceGuard::Pass p;
      bool done = false;
      ~Leave() {
        if (!done) g.leave(p, false, nullptr);
      }
    } leave{*guard_, *pass};

    const ConnectorConfig& cfg = guard_->config();
    Result<Answer> r = inner_->fetch(q);
    // Only "source_unavailable" promises the query was not processed (connector.h).
    for (int i = 0; i < cfg.retries && !r && r.error().code == "source_unavailable"; ++i) {
      if (cfg.retry_backoff_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(cfg.retry_backoff_ms));
      guard_->note_retry();
      r = inner_->fetch(q);
    }
    leave.done = true;
    guard_->leave(*pass, true, r ? nullptr : &r.error());
    return r;
  }

 private:
  std::shared_ptr<Connector> inner_;
  std::shared_ptr<SourceGuard> guard_;
};

}  // namespace

std::shared_ptr<Connector> make_resilient(std::shared_ptr<Connector> inner,
                                          std::shared_ptr<SourceGuard> guard) {
  return std::make_shared<ResilientConnector>(std::move(inner), std::move(guard));
}

}  // namespace aaj::sources
