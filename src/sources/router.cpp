// SourceRouter: resources → sources (each a resilient-wrapped connector), health, fetch_many.
//
// Everything is asynchronous on the runtime's I/O threads: fetch_many asks every source at once
// and gathers the answers as they come, so a multi-resource search holds no thread while the
// sources think, and a slow source delays only its own result (bounded by its timeout).
#include <mutex>
#include <optional>
#include <set>
#include <tuple>

#include "sources/blocking.h"
#include "sources/connector.h"
#include "sources/resilient.h"

namespace aaj::sources {
namespace {

struct Source {
  std::shared_ptr<SourceGuard> guard;
  std::vector<std::string> resources;
  bool is_default = false;
  // One wrapped connector per distinct transport config (type, timeouts).
  std::vector<std::pair<ConnectorConfig, std::shared_ptr<Connector>>> transports;
};

auto transport_key(const ConnectorConfig& c) {
  return std::tie(c.type, c.url, c.connect_timeout_ms, c.timeout_ms, c.ca_file);
}
auto resilience_key(const ConnectorConfig& c) {
  return std::tie(c.url, c.max_concurrency, c.queue_timeout_ms, c.retries, c.retry_backoff_ms,
                  c.breaker_failures, c.breaker_open_ms);
}

// One fetch_many call: results land in their slots; the last one to land calls done.
struct Gather {
  explicit Gather(size_t n, std::function<void(std::vector<Result<Answer>>)> d)
      : out(n), left(n), done(std::move(d)) {}
  std::mutex mu;
  std::vector<std::optional<Result<Answer>>> out;
  size_t left;
  std::function<void(std::vector<Result<Answer>>)> done;

  void land(size_t i, Result<Answer> r) {
    {
      std::lock_guard<std::mutex> l(mu);
      out[i].emplace(std::move(r));
      if (--left != 0) return;
    }
    std::vector<Result<Answer>> all;
    all.reserve(out.size());
    for (auto& r : out) all.push_back(std::move(*r));
    done(std::move(all));
  }
};

}  // namespace

struct SourceRouter::Impl {
  std::shared_ptr<http::Runtime> rt;
  bool own_runtime = false;
  std::map<std::string, Source> sources;  // by name
  std::shared_ptr<Connector> fallback;
  std::map<std::string, std::shared_ptr<Connector>, std::less<>> by_resource;

  Result<std::shared_ptr<Connector>> add(const std::string& resource, const ConnectorConfig& cfg) {
    const std::string where = resource.empty() ? "sources.default" : "sources." + resource;
    if (Status s = validate_resilience(cfg, where); !s) return s.error();
    const std::string name = cfg.name.empty() ? cfg.url : cfg.name;
    auto [it, fresh] = sources.try_emplace(name);
    Source& src = it->second;
    if (fresh) {
      src.guard = std::make_shared<SourceGuard>(name, cfg, rt);
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
    auto plain = make_connector(cfg, rt);
    if (!plain) return Error{plain.error().code, where + ": " + plain.error().detail};
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

SourceRouter::~SourceRouter() {
  if (impl_->own_runtime) impl_->rt->stop();
}

Result<std::shared_ptr<SourceRouter>> SourceRouter::create(
    const ConnectorConfig& fallback, const std::map<std::string, ConnectorConfig>& overrides,
    RouterOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->own_runtime = !options.runtime;
  impl->rt = options.runtime ? options.runtime : http::Runtime::start({1, 1});
  auto failed = [&](Error e) -> Result<std::shared_ptr<SourceRouter>> {
    if (impl->own_runtime) impl->rt->stop();
    return e;
  };
  auto f = impl->add("", fallback);
  if (!f) return failed(f.error());
  impl->fallback = *f;
  for (const auto& [res, cfg] : overrides) {
    auto c = impl->add(res, cfg);
    if (!c) return failed(c.error());
    impl->by_resource[res] = *c;
  }
  return std::shared_ptr<SourceRouter>(new SourceRouter(std::move(impl)));
}

void SourceRouter::fetch(Query q, FetchDone done) const {
  const auto& c = impl_->route(q.resource);
  c->fetch(std::move(q), std::move(done));
}

void SourceRouter::fetch_many(std::vector<Query> qs,
                              std::function<void(std::vector<Result<Answer>>)> done) const {
  if (qs.empty()) {
    done({});
    return;
  }
  auto g = std::make_shared<Gather>(qs.size(), std::move(done));
  for (size_t i = 0; i < qs.size(); ++i) {
    const auto& c = impl_->route(qs[i].resource);
    std::string resource = qs[i].resource;
    try {
      c->fetch(std::move(qs[i]), [g, i](Result<Answer> r) { g->land(i, std::move(r)); });
    } catch (const std::exception& e) {
      g->land(i, Error{"source_error", resource + ": " + e.what()});
    }
  }
}

Result<Answer> SourceRouter::fetch(const Query& q) const {
  return fetch_blocking(*impl_->route(q.resource), q, *impl_->rt);
}

std::vector<Result<Answer>> SourceRouter::fetch_many(const std::vector<Query>& qs) const {
  using All = std::vector<Result<Answer>>;
  auto r = detail::wait_for<All>(*impl_->rt, [&](std::function<void(All)> done) {
    fetch_many(std::vector<Query>(qs), std::move(done));
  });
  if (!r) return All(qs.size(), Result<Answer>(detail::blocking_on_io_thread()));
  return std::move(*r);
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
