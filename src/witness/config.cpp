#include "witness/config.h"

#include <toml++/toml.h>

#include <set>

#include "pki/openssl_util.h"

namespace aaj::witness {
namespace {

namespace fs = std::filesystem;

fs::path resolve(const fs::path& base, const std::string& p) {
  if (p.empty()) return {};
  fs::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

// Typed reads: a key present with the wrong type is an error, never silently the default.
struct Reader {
  const toml::table& t;
  std::vector<std::string> wrong;
  template <class T>
  T get(const std::string& key, T fallback) {
    auto node = t[key];
    if (!node) return fallback;
    if (auto v = node.template value<T>()) return *v;
    wrong.push_back(key);
    return fallback;
  }
};

}  // namespace

Result<ServiceConfig> load_config(const fs::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Error{"config", file.string() + ": " + std::string(e.description())};
  }
  static const std::set<std::string> known = {"name",
                                              "listen",
                                              "tls_cert",
                                              "tls_key",
                                              "log_id",
                                              "operator_bin",
                                              "trust",
                                              "crl_dir",
                                              "crl_reload_seconds",
                                              "key_store",
                                              "key_store_password_file",
                                              "state_dir"};
  for (const auto& [k, v] : t)
    if (!known.count(std::string(k.str())))
      return Error{"config", file.string() + ": unknown key \"" + std::string(k.str()) + "\""};

  ServiceConfig c;
  c.file = fs::absolute(file);
  const fs::path base = c.file.parent_path();
  Reader rd{t, {}};
  Config& w = c.witness;
  w.name = rd.get("name", std::string());
  c.listen = rd.get("listen", std::string());
  c.tls_cert = resolve(base, rd.get("tls_cert", std::string()));
  c.tls_key = resolve(base, rd.get("tls_key", std::string()));
  w.log_id = rd.get("log_id", std::string());
  w.operator_bin = rd.get("operator_bin", std::string());
  w.crl_dir = resolve(base, rd.get("crl_dir", std::string()));
  const int64_t reload = rd.get("crl_reload_seconds", int64_t{w.crl_reload_seconds});
  w.key_store = resolve(base, rd.get("key_store", std::string()));
  c.key_store_password_file = resolve(base, rd.get("key_store_password_file", std::string()));
  w.state_dir = resolve(base, rd.get("state_dir", std::string()));
  if (auto node = t["trust"]) {
    const toml::array* arr = node.as_array();
    if (!arr) {
      rd.wrong.push_back("trust");
    } else {
      for (size_t i = 0; i < arr->size(); ++i) {
        auto s = (*arr)[i].value<std::string>();
        if (!s)
          rd.wrong.push_back("trust[" + std::to_string(i) + "]");
        else
          w.trust.push_back(resolve(base, *s));
      }
    }
  }
  if (!rd.wrong.empty()) {
    std::string keys;
    for (const auto& k : rd.wrong) keys += (keys.empty() ? "" : ", ") + k;
    return Error{"config", file.string() + ": wrong type for " + keys};
  }
  for (const auto& [key, missing] : {std::pair<const char*, bool>{"name", w.name.empty()},
                                     {"listen", c.listen.empty()},
                                     {"tls_cert", c.tls_cert.empty()},
                                     {"tls_key", c.tls_key.empty()},
                                     {"log_id", w.log_id.empty()},
                                     {"operator_bin", w.operator_bin.empty()},
                                     {"trust", w.trust.empty()},
                                     {"key_store", w.key_store.empty()},
                                     {"key_store_password_file", c.key_store_password_file.empty()},
                                     {"state_dir", w.state_dir.empty()}})
    if (missing) return Error{"config", file.string() + ": " + key + " is required"};
  if (reload <= 0 || reload > 86400)
    return Error{"config", file.string() + ": crl_reload_seconds must be 1..86400"};
  w.crl_reload_seconds = static_cast<int>(reload);

  auto password = pki::read_file(c.key_store_password_file);
  if (!password) return password.error();
  std::string& pw = *password;
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  w.key_store_password = std::move(pw);
  return c;
}

}  // namespace aaj::witness
