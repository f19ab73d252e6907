#include "sources/resilient.h"

namespace aaj::sources {
namespace {

// True for error codes that mean the source is not working and so count against its breaker:
// "source_timeout", "source_unavailable", "source_error". Answers such as not_found (a success)
// or "invalid_subject" show a working source.
bool is_source_failure(const std::string& code) {
  return code == "source_timeout" || code == "source_unavailable" || code == "source_error";
}

}  // namespace

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

SourceGuard::SourceGuard(std::string name, const ConnectorConfig& cfg,
                         std::shared_ptr<http::Runtime> rt)
    : name_(std::move(name)), cfg_(cfg), rt_(std::move(rt)) {}

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

std::optional<Error> SourceGuard::refusal_locked(const std::string& resource,
                                                 Clock::time_point now) {
  // The breaker is judged at every admission, queued ones included: an open circuit must fail
  // fast even for requests that were waiting before it opened.
  if (state_ == State::open && now >= open_until_) state_ = State::half_open;
  if (state_ == State::closed || (state_ == State::half_open && !probe_in_flight_))
    return std::nullopt;
  std::string why = state_ == State::open
                        ? "circuit open until " + time::format_utc(open_until_wall_)
                        : std::string("circuit half-open, its probe request is in flight");
  std::string last =
      last_error_ ? " (last: " + last_error_->code + ": " + last_error_->detail + ")" : "";
  return Error{"source_unavailable", resource + ": source " + name_ + " " + why + last};
}

SourceGuard::Pass SourceGuard::admit_locked() {
  ++in_flight_;
  ++requests_;
  Pass p;
  if (state_ == State::half_open) {
    probe_in_flight_ = true;
    p.probe = true;
  }
  return p;
}

void SourceGuard::wake_locked(std::vector<std::pair<Admitted, Result<Pass>>>& calls) {
  auto now = Clock::now();
  while (!waiters_.empty()) {
    Waiter& w = waiters_.front();
    if (auto e = refusal_locked(w.resource, now)) {
      ++rejected_;
      calls.emplace_back(std::move(w.then), std::move(*e));
    } else if (cfg_.max_concurrency == 0 || in_flight_ < cfg_.max_concurrency) {
      calls.emplace_back(std::move(w.then), admit_locked());
    } else {
      break;
    }
    w.timeout.cancel();
    waiters_.pop_front();
  }
}

void SourceGuard::dispatch(std::vector<std::pair<Admitted, Result<Pass>>> calls) {
  for (auto& [then, r] : calls) then(std::move(r));
}

void SourceGuard::enter(const std::string& resource, Admitted then) {
  std::vector<std::pair<Admitted, Result<Pass>>> now_calls;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto e = refusal_locked(resource, Clock::now())) {
      ++rejected_;
      now_calls.emplace_back(std::move(then), std::move(*e));
    } else if (cfg_.max_concurrency == 0 || in_flight_ < cfg_.max_concurrency) {
      now_calls.emplace_back(std::move(then), admit_locked());
    } else {
      // Queued: a free slot or the circuit opening wakes it (leave()); the timer gives up.
      uint64_t id = ++next_waiter_;
      std::weak_ptr<SourceGuard> weak = weak_from_this();
      waiters_.push_back(Waiter{id, resource, std::move(then), {}});
      waiters_.back().timeout =
          rt_->after(std::chrono::milliseconds(cfg_.queue_timeout_ms), [weak, id] {
            auto self = weak.lock();
            if (!self) return;
            Admitted expired;
            std::string res;
            int in_flight = 0;
            {
              std::lock_guard<std::mutex> l2(self->mu_);
              for (auto it = self->waiters_.begin(); it != self->waiters_.end(); ++it)
                if (it->id == id) {
                  expired = std::move(it->then);
                  res = it->resource;
                  self->waiters_.erase(it);
                  ++self->rejected_;
                  in_flight = self->in_flight_;
                  break;
                }
            }
            if (expired)
              expired(Error{"source_busy",
                            res + ": source " + self->name_ + " has " + std::to_string(in_flight) +
                                " requests in flight; " + "no slot within " +
                                std::to_string(self->cfg_.queue_timeout_ms) + " ms"});
          });
    }
  }
  dispatch(std::move(now_calls));
}

void SourceGuard::leave(const Pass& pass, bool completed, const Error* error) {
  std::vector<std::pair<Admitted, Result<Pass>>> calls;
  {
    std::lock_guard<std::mutex> l(mu_);
    --in_flight_;
    if (!completed) {
      if (pass.probe) probe_in_flight_ = false;  // let another request probe
    } else if (error && is_source_failure(error->code)) {
      auto now = Clock::now();
      ++failures_;
      ++consecutive_failures_;
      last_error_ = *error;
      last_error_at_ = time::now();
      if (pass.probe)
        open_locked(now);
      else if (state_ == State::closed && cfg_.breaker_failures > 0 &&
               consecutive_failures_ >= cfg_.breaker_failures)
        open_locked(now);
    } else {
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
    wake_locked(calls);
  }
  if (calls.empty()) return;
  // Woken waiters start their requests on an I/O thread, not inside this caller's callback.
  auto shared = std::make_shared<decltype(calls)>(std::move(calls));
  rt_->post([shared] {
    for (auto& [then, r] : *shared) then(std::move(r));
  });
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
          {"waiting", waiters_.size()},
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

class ResilientConnector final : public Connector,
                                 public std::enable_shared_from_this<ResilientConnector> {
 public:
  ResilientConnector(std::shared_ptr<Connector> inner, std::shared_ptr<SourceGuard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)) {}

  void fetch(Query q, FetchDone done) override {
    std::string resource = q.resource;
    guard_->enter(resource, [self = shared_from_this(), q = std::move(q),
                             done = std::move(done)](Result<SourceGuard::Pass> pass) mutable {
      if (!pass) {
        done(pass.error());
        return;
      }
      self->attempt(std::move(q), *pass, 0, std::move(done));
    });
  }

 private:
  // One attempt with the slot held; the retry keeps the slot (its timer holds no thread).
  void attempt(Query q, SourceGuard::Pass pass, int tries, FetchDone done) {
    Query sent = q;
    const std::string resource = q.resource;
    auto self = shared_from_this();
    try {
      inner_->fetch(std::move(sent),
                    [self, q = std::move(q), pass, tries, done](Result<Answer> r) mutable {
                      const ConnectorConfig& cfg = self->guard_->config();
                      // Only "source_unavailable" promises the query was not processed
                      // (connector.h).
                      if (!r && r.error().code == "source_unavailable" && tries < cfg.retries) {
                        self->guard_->note_retry();
                        self->guard_->runtime()->after(
                            std::chrono::milliseconds(cfg.retry_backoff_ms),
                            [self, q = std::move(q), pass, tries, done]() mutable {
                              self->attempt(std::move(q), pass, tries + 1, std::move(done));
                            });
                        return;
                      }
                      self->guard_->leave(pass, true, r ? nullptr : &r.error());
                      done(std::move(r));
                    });
    } catch (const std::exception& e) {
      // The transport threw before taking the query: release the slot (and a probe) without
      // judging the source.
      guard_->leave(pass, false, nullptr);
      done(Error{"source_error", resource + ": " + e.what()});
    }
  }

  std::shared_ptr<Connector> inner_;
  std::shared_ptr<SourceGuard> guard_;  // also holds the runtime for retry timers
};

}  // namespace

std::shared_ptr<Connector> make_resilient(std::shared_ptr<Connector> inner,
                                          std::shared_ptr<SourceGuard> guard) {
  return std::make_shared<ResilientConnector>(std::move(inner), std::move(guard));
}

}  // namespace aaj::sources
