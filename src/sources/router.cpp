// SourceRouter: resources → sources (each a resilient-wrapped connector), health, fetch_many.
//
// fetch_many concurrency: a small fixed pool owned by the router, with the caller helping.
//  - Not a thread per query (std::async): threads would be unbounded under load, and each new
//    thread would start with no kept-alive connection (handles are per thread), so every
//    multi-resource search would pay fresh TCP (and TLS) handshakes.
//  - Not libcurl multi: it would tie concurrency to one transport and bypass the resilience
//    decorator, which works on any blocking Connector.
//  - The caller claims and runs queries itself too: it starts the first at once (no hand-off
//    cost), and if the pool is saturated (many searches at once, or pool threads held by slow
//    sources) it runs the unclaimed rest itself, so a search never waits for a pool thread and
//    the pool can never deadlock. Pool threads keep their curl handles, so connections are
//    reused. How long a slow source can hold a pool thread is bounded by its timeout and its
//    concurrency limit.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "sources/connector.h"
#include "sources/resilient.h"

namespace aaj::sources {
namespace {

class FetchPool {
 public:
  explicit FetchPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~FetchPool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  bool empty() const { return threads_.empty(); }
  void post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !q_.empty(); });
        if (stop_) return;  // queued tasks are already claimed by their callers (see Batch)
        f = std::move(q_.front());
        q_.pop_front();
      }
      f();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// One fetch_many call. Each query is run by whoever claims it first (caller or pool thread);
// the caller returns only when all are done, so a late pool task finds its query claimed and
// touches nothing but this (shared) batch.
struct Batch {
  explicit Batch(size_t n) : claimed(n), out(n), remaining(n) {}
  std::vector<std::atomic<bool>> claimed;
  std::vector<std::optional<Result<Answer>>> out;
  std::mutex mu;
  std::condition_variable done;
  size_t remaining;

  bool claim(size_t i) { return !claimed[i].exchange(true, std::memory_order_acq_rel); }
  void finish(size_t i, Result<Answer> r) {
    std::lock_guard<std::mutex> l(mu);
    out[i].emplace(std::move(r));
    if (--remaining == 0) done.notify_all();
  }
};

struct Source {
  std::shared_ptr<SourceGuard> guard;
  std::vector<std::string> resources;
  bool is_default = false;
  // One wrapped connector per distinct transport config (type, timeouts).
  std::vector<std::pair<ConnectorConfig, std::shared_ptr<Connector>>> transports;
};

auto transport_key(const ConnectorConfig& c) {
  return std::tie(c.type, c.url, c.connect_timeout_ms, c.timeout_ms);
}
auto resilience_key(const ConnectorConfig& c) {
  return std::tie(c.url, c.max_concurrency, c.queue_timeout_ms, c.retries, c.retry_backoff_ms,
                  c.breaker_failures, c.breaker_open_ms);
}

}  // namespace

struct SourceRouter::Impl {
  std::map<std::string, Source> sources;  // by name
  std::shared_ptr<Connector> fallback;
  std::map<std::string, std::shared_ptr<Connector>, std::less<>> by_resource;
  std::unique_ptr<FetchPool> pool;

  Result<std::shared_ptr<Connector>> add(const std::string& resource, const ConnectorConfig& cfg) {
    const std::string where = resource.empty() ? "sources.default" : "sources." + resource;
    if (Status s = validate_resilience(cfg, where); !s) return s.error();
    const std::string name = cfg.name.empty() ? cfg.url : cfg.name;
    auto [it, fresh] = sources.try_emplace(name);
    Source& src = it->second;
    if (fresh) {
      src.guard = std::make_shared<SourceGuard>(name, cfg);
    } else if (resilience_key(src.guard->config()) != resilience_key(cfg)) {
      // One breaker and one limit cannot have two settings: make the sharing explicit.
      return Error{"config", where + " names source '" + name +
                                 "' but differs from its other resources in url or in "
                                 "resilience settings; give it its own name"};
    }
    if (resource.empty())
      src.is_default = true;
    else
      src.resources.push_back(resource);
    for (const auto& [c, conn] : src.transports)
      if (transport_key(c) == transport_key(cfg)) return conn;
    auto plain = make_connector(cfg);
    if (!plain) return plain.error();
    auto wrapped = make_resilient(*plain, src.guard);
    src.transports.emplace_back(cfg, wrapped);
    return wrapped;
  }

  const std::shared_ptr<Connector>& route(const std::string& resource) const {
    auto it = by_resource.find(resource);
    return it != by_resource.end() ? it->second : fallback;
  }
};

SourceRouter::SourceRouter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SourceRouter::~SourceRouter() = default;

Result<std::shared_ptr<SourceRouter>> SourceRouter::create(
    const ConnectorConfig& fallback, const std::map<std::string, ConnectorConfig>& overrides,
    RouterOptions options) {
  if (options.fetch_threads < 0 || options.fetch_threads > 256)
    return Error{"config", "fetch_threads must be 0..256"};
  auto impl = std::make_unique<Impl>();
  auto f = impl->add("", fallback);
  if (!f) return f.error();
  impl->fallback = *f;
  for (const auto& [res, cfg] : overrides) {
    auto c = impl->add(res, cfg);
    if (!c) return c.error();
    impl->by_resource[res] = *c;
  }
  impl->pool = std::make_unique<FetchPool>(options.fetch_threads);
  return std::shared_ptr<SourceRouter>(new SourceRouter(std::move(impl)));
}

Result<Answer> SourceRouter::fetch(const Query& q) const {
  return impl_->route(q.resource)->fetch(q);
}

std::vector<Result<Answer>> SourceRouter::fetch_many(const std::vector<Query>& qs) const {
  std::vector<Result<Answer>> results;
  results.reserve(qs.size());
  if (qs.size() <= 1 || impl_->pool->empty()) {
    for (const auto& q : qs) results.push_back(fetch(q));
    return results;
  }
  auto batch = std::make_shared<Batch>(qs.size());
  const Impl* impl = impl_.get();
  auto run = [impl, &qs](Batch& b, size_t i) {
    Result<Answer> r = Error{"source_error", qs[i].resource + ": connector failed"};
    try {
      r = impl->route(qs[i].resource)->fetch(qs[i]);
    } catch (const std::exception& e) {
      r = Error{"source_error", qs[i].resource + ": " + e.what()};
    }
    b.finish(i, std::move(r));
  };
  // Query 0 is the caller's; the rest are offered to the pool.
  batch->claim(0);
  for (size_t i = 1; i < qs.size(); ++i)
    impl_->pool->post([batch, i, run] {
      if (batch->claim(i)) run(*batch, i);
    });
  run(*batch, 0);
  for (size_t i = 1; i < qs.size(); ++i)
    if (batch->claim(i)) run(*batch, i);  // the pool has not got to it: do it here
  {
    std::unique_lock<std::mutex> l(batch->mu);
    batch->done.wait(l, [&] { return batch->remaining == 0; });
  }
  for (auto& r : batch->out) results.push_back(std::move(*r));
  return results;
}

nlohmann::json SourceRouter::health() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, src] : impl_->sources) {
    nlohmann::json h = src.guard->health();
    h["resources"] = src.resources;
    h["default"] = src.is_default;
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace aaj::sources
