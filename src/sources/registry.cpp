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

}  // namespace aaj::sources
