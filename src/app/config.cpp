#include "app/config.h"

#include <toml++/toml.h>

namespace aaj::app {
namespace {

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return {};
  std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

Status read_source(const toml::table* t, const std::string& where, sources::ConnectorConfig& c) {
  if (!t) return {};
  c.type = (*t)["connector"].value_or(c.type);
  c.url = (*t)["url"].value_or(c.url);
  c.connect_timeout_ms = (*t)["connect_timeout_ms"].value_or(c.connect_timeout_ms);
  c.timeout_ms = (*t)["timeout_ms"].value_or(c.timeout_ms);
  if (c.url.empty()) return Error{"config", where + ".url is required"};
  if (c.timeout_ms <= 0 || c.connect_timeout_ms <= 0)
    return Error{"config", where + ": timeouts must be positive"};
  return {};
}

}  // namespace

Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size())
    return Error{"config", "expected HOST:PORT, got '" + s + "'"};
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return Error{"config", "bad port in '" + s + "'"};
    port = port * 10 + (c - '0');
    if (port > 65535) return Error{"config", "bad port in '" + s + "'"};
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<Config> load_config(const std::filesystem::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Error{"config", file.string() + ": " + std::string(e.description())};
  }
  Config c;
  c.file = std::filesystem::absolute(file);
  auto base = c.file.parent_path();
  c.mode = t["mode"].value_or(c.mode);
  if (c.mode != "development" && c.mode != "production")
    return Error{"config", "mode must be development or production"};

  c.listen = t["server"]["listen"].value_or(c.listen);
  c.tls_cert = resolve(base, t["server"]["tls_cert"].value_or(std::string()));
  c.tls_key = resolve(base, t["server"]["tls_key"].value_or(std::string()));
  c.io_threads = t["server"]["io_threads"].value_or(c.io_threads);
  c.worker_threads = t["server"]["worker_threads"].value_or(c.worker_threads);
  c.max_body_bytes = t["server"]["max_body_bytes"].value_or(static_cast<int64_t>(c.max_body_bytes));
  c.read_timeout_seconds = t["server"]["read_timeout_seconds"].value_or(c.read_timeout_seconds);
  c.idle_timeout_seconds = t["server"]["idle_timeout_seconds"].value_or(c.idle_timeout_seconds);
  if (c.tls_cert.empty() || c.tls_key.empty())
    return Error{"config", "server.tls_cert and server.tls_key are required (HTTPS only)"};
  if (auto hp = split_host_port(c.listen); !hp) return hp.error();

  c.store.backend = t["storage"]["backend"].value_or(std::string("sqlite"));
  c.store.data_dir = resolve(base, t["storage"]["data_dir"].value_or(std::string("data")));
  c.store.dsn = t["storage"]["dsn"].value_or(std::string());
  c.journal_dir = resolve(base, t["journal"]["dir"].value_or(std::string("data/journal")));

  if (auto* arr = t["pki"]["trust"].as_array()) {
    for (auto& v : *arr)
      if (auto s = v.value<std::string>()) c.trust.push_back(resolve(base, *s));
  }
  if (c.trust.empty()) return Error{"config", "pki.trust must list at least one CA certificate"};
  c.crl_dir = resolve(base, t["pki"]["crl_dir"].value_or(std::string()));
  if (c.crl_dir.empty())
    return Error{"config", "pki.crl_dir is required (revocation is always checked)"};
  c.crl_reload_seconds = t["pki"]["crl_reload_seconds"].value_or(c.crl_reload_seconds);

  c.policy_dir = resolve(base, t["policy"]["dir"].value_or(std::string()));

  c.challenge_ttl_seconds = t["auth"]["challenge_ttl_seconds"].value_or(c.challenge_ttl_seconds);
  c.session_ttl_seconds = t["auth"]["session_ttl_seconds"].value_or(c.session_ttl_seconds);
  c.max_open_challenges_per_client =
      t["auth"]["max_open_challenges_per_client"].value_or(c.max_open_challenges_per_client);
  if (c.max_open_challenges_per_client <= 0)
    return Error{"config", "auth.max_open_challenges_per_client must be positive"};
  c.max_clock_skew_seconds =
      t["requests"]["max_clock_skew_seconds"].value_or(c.max_clock_skew_seconds);
  if (c.max_clock_skew_seconds <= 0 || c.session_ttl_seconds <= 0 || c.challenge_ttl_seconds <= 0)
    return Error{"config", "auth/requests time limits must be positive"};

  c.session_idle_seconds = t["auth"]["session_idle_seconds"].value_or(c.session_idle_seconds);
  c.lockout_threshold = t["auth"]["lockout_threshold"].value_or(c.lockout_threshold);
  c.lockout_window_seconds = t["auth"]["lockout_window_seconds"].value_or(c.lockout_window_seconds);
  c.sms_enabled = t["auth"]["sms_enabled"].value_or(c.sms_enabled);
  c.inactive_days = t["auth"]["inactive_days"].value_or(c.inactive_days);
  c.password_reminder_days = t["auth"]["password_reminder_days"].value_or(c.password_reminder_days);
  if (c.inactive_days <= 0 || c.password_reminder_days <= 0)
    return Error{"config", "auth.inactive_days and auth.password_reminder_days must be positive"};
  if (auto* arr = t["auth"]["sms_disabled_bodies"].as_array())
    for (auto& v : *arr)
      if (auto s = v.value<std::string>()) c.sms_disabled_bodies.push_back(*s);
  if (c.session_idle_seconds <= 0 || c.lockout_threshold <= 0 || c.lockout_window_seconds <= 0)
    return Error{"config", "auth limits must be positive"};

  c.application_deadline_seconds =
      t["access"]["application_deadline_seconds"].value_or(c.application_deadline_seconds);
  if (c.application_deadline_seconds <= 0)
    return Error{"config", "access.application_deadline_seconds must be positive"};

  c.sms.driver = t["sms"]["driver"].value_or(c.sms.driver);
  c.sms.outbox_dir = resolve(base, t["sms"]["outbox_dir"].value_or(std::string("data/sms-outbox")));
  c.sms.url = t["sms"]["url"].value_or(std::string());
  c.sms.username = t["sms"]["username"].value_or(std::string());
  c.sms.password = t["sms"]["password"].value_or(std::string());
  c.sms.bearer_token = t["sms"]["bearer_token"].value_or(std::string());
  c.sms.timeout_ms = t["sms"]["timeout_ms"].value_or(c.sms.timeout_ms);
  c.sms.code_ttl_seconds = t["sms"]["code_ttl_seconds"].value_or(c.sms.code_ttl_seconds);
  c.sms.max_attempts = t["sms"]["max_attempts"].value_or(c.sms.max_attempts);
  c.sms.resend_interval_seconds =
      t["sms"]["resend_interval_seconds"].value_or(c.sms.resend_interval_seconds);
  if (c.mode == "production" && c.sms.driver == "outbox")
    return Error{"config", "sms.driver \"outbox\" exposes codes in a folder: not in production"};
  if (c.sms.code_ttl_seconds <= 0 || c.sms.max_attempts <= 0 || c.sms.resend_interval_seconds < 0)
    return Error{"config", "sms limits must be positive"};

  c.webauthn_rp_id = t["webauthn"]["rp_id"].value_or(c.webauthn_rp_id);
  c.webauthn_require_uv = t["webauthn"]["require_user_verification"].value_or(true);
  if (auto* arr = t["webauthn"]["origins"].as_array())
    for (auto& v : *arr)
      if (auto s = v.value<std::string>()) c.webauthn_origins.push_back(*s);
  if (c.webauthn_origins.empty()) {
    auto hp = split_host_port(c.listen);
    c.webauthn_origins.push_back("https://" + c.webauthn_rp_id + ":" + std::to_string(hp->second));
  }

  c.simulator_listen = t["sources"]["simulator_listen"].value_or(c.simulator_listen);
  if (Status s =
          read_source(t["sources"]["default"].as_table(), "sources.default", c.default_source);
      !s)
    return s.error();
  if (auto* src = t["sources"].as_table()) {
    for (auto& [k, v] : *src) {
      std::string key(k.str());
      if (key.size() == 3 && key[0] == 'R' && v.is_table()) {
        sources::ConnectorConfig o = c.default_source;
        if (Status s = read_source(v.as_table(), "sources." + key, o); !s) return s.error();
        c.source_overrides[key] = o;
      }
    }
  }
  return c;
}

}  // namespace aaj::app
