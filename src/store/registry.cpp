#include <map>
#include <mutex>

#include "store/store.h"

namespace aaj::store {

void register_sqlite_backend();

namespace {
std::map<std::string, StoreFactory>& backends() {
  static std::map<std::string, StoreFactory> m;
  return m;
}
std::once_flag g_builtins;
}  // namespace

void register_backend(const std::string& name, StoreFactory factory) {
  backends()[name] = std::move(factory);
}

Result<std::unique_ptr<Store>> open_store(const StoreConfig& cfg) {
  // Built-in backends register on first use so a static library never drops them.
  std::call_once(g_builtins, [] { register_sqlite_backend(); });
  auto it = backends().find(cfg.backend);
  if (it == backends().end()) return Error{"unknown_backend", "no storage backend " + cfg.backend};
  return it->second(cfg);
}

}  // namespace aaj::store
