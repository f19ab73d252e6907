#include "witness/config.h"

#include <toml++/toml.h>

#include <set>

#include "core/toml_reader.h"
#include "pki/openssl_util.h"

namespace aaj::witness {
namespace {

namespace fs = std::filesystem;
using toml_reader::resolve;

}  // namespace

Result<ServiceConfig> load_config(const fs::path& file) {
  auto parsed = toml_reader::parse_file(file);
  if (!parsed) return parsed.error();
  const toml::table& t = *parsed;
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
  toml_reader::Reader rd;
  auto str = [&](const char* key) { return rd.get(t[key], key, std::string()); };
  Config& w = c.witness;
  w.name = str("name");
  c.listen = str("listen");
  c.tls_cert = resolve(base, str("tls_cert"));
  c.tls_key = resolve(base, str("tls_key"));
  w.log_id = str("log_id");
  w.operator_bin = str("operator_bin");
  w.crl_dir = resolve(base, str("crl_dir"));
  const int64_t reload =
      rd.get(t["crl_reload_seconds"], "crl_reload_seconds", int64_t{w.crl_reload_seconds});
  w.key_store = resolve(base, str("key_store"));
  c.key_store_password_file = resolve(base, str("key_store_password_file"));
  w.state_dir = resolve(base, str("state_dir"));
  for (const std::string& p : rd.strings(t["trust"], "trust")) w.trust.push_back(resolve(base, p));
  if (Status s = rd.check(file.string()); !s) return s.error();
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
