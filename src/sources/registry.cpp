#include <mutex>

#include "sources/connector.h"

namespace aaj::sources {

void register_http_json_connector();

namespace {
std::map<std::string, ConnectorFactory>& factories() {
  static std::map<std::string, ConnectorFactory> m;
  return m;
}
void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] { register_http_json_connector(); });
}
}  // namespace

void register_connector(const std::string& type, ConnectorFactory f) {
  factories()[type] = std::move(f);
}

Result<std::shared_ptr<Connector>> make_connector(const ConnectorConfig& cfg) {
  register_builtins();
  auto it = factories().find(cfg.type);
  if (it == factories().end()) return Error{"unknown_connector", "no connector type " + cfg.type};
  return it->second(cfg);
}

Result<std::shared_ptr<SourceRouter>> SourceRouter::create(
    const ConnectorConfig& fallback, const std::map<std::string, ConnectorConfig>& overrides) {
  auto r = std::make_shared<SourceRouter>();
  auto f = make_connector(fallback);
  if (!f) return f.error();
  r->fallback_ = *f;
  for (const auto& [res, cfg] : overrides) {
    auto c = make_connector(cfg);
    if (!c) return c.error();
    r->by_resource_[res] = *c;
  }
  return r;
}

Result<Answer> SourceRouter::fetch(const Query& q) const {
  auto it = by_resource_.find(q.resource);
  return (it != by_resource_.end() ? it->second : fallback_)->fetch(q);
}

}  // namespace aaj::sources
