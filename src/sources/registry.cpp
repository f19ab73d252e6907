#include <mutex>

#include "core/json_limits.h"
#include "sources/blocking.h"
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

nlohmann::json Answer::parsed() const {
  if (!found || data.empty()) return nullptr;
  return nlohmann::json::parse(data, nullptr, false);
}

void register_connector(const std::string& type, ConnectorFactory f) {
  factories()[type] = std::move(f);
}

Result<std::shared_ptr<Connector>> make_connector(const ConnectorConfig& cfg,
                                                  const std::shared_ptr<http::Runtime>& rt) {
  register_builtins();
  auto it = factories().find(cfg.type);
  if (it == factories().end()) return Error{"unknown_connector", "no connector type " + cfg.type};
  return it->second(cfg, rt);
}

Result<Answer> fetch_blocking(Connector& c, Query q, const http::Runtime& rt) {
  auto r = detail::wait_for<Result<Answer>>(
      rt, [&](FetchDone done) { c.fetch(std::move(q), std::move(done)); });
  if (!r) return detail::blocking_on_io_thread();
  return std::move(*r);
}

}  // namespace aaj::sources
