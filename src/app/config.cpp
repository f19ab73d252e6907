#include "app/config.h"

#include <toml++/toml.h>

#include "core/host_port.h"
#include "core/toml_reader.h"

namespace aaj::app {
namespace {

using net::split_host_port;
using toml_reader::Reader;
using toml_reader::resolve;

Status read_source(Reader& rd, const toml::table* t, const std::string& where,
                   sources::ConnectorConfig& c) {
  if (!t) return {};
  c.type = rd.get((*t)["connector"], where + ".connector", c.type);
  c.url = rd.get((*t)["url"], where + ".url", c.url);
  c.connect_timeout_ms =
      rd.get((*t)["connect_timeout_ms"], where + ".connect_timeout_ms", c.connect_timeout_ms);
  c.timeout_ms = rd.get((*t)["timeout_ms"], where + ".timeout_ms", c.timeout_ms);
  c.ca_file = rd.get((*t)["ca_file"], where + ".ca_file", c.ca_file);
  // A table that names its own url is its own source unless it names one (see connector.h).
  if ((*t)["url"] && !(*t)["name"]) c.name.clear();
  c.name = rd.get((*t)["name"], where + ".name", c.name);
  c.max_concurrency =
      rd.get((*t)["max_concurrency"], where + ".max_concurrency", c.max_concurrency);
  c.queue_timeout_ms =
      rd.get((*t)["queue_timeout_ms"], where + ".queue_timeout_ms", c.queue_timeout_ms);
  c.retries = rd.get((*t)["retries"], where + ".retries", c.retries);
  c.retry_backoff_ms =
      rd.get((*t)["retry_backoff_ms"], where + ".retry_backoff_ms", c.retry_backoff_ms);
  c.breaker_failures =
      rd.get((*t)["breaker_failures"], where + ".breaker_failures", c.breaker_failures);
  c.breaker_open_ms =
      rd.get((*t)["breaker_open_ms"], where + ".breaker_open_ms", c.breaker_open_ms);
  if (c.url.empty()) return Error{"config", where + ".url is required"};
  if (c.timeout_ms <= 0 || c.connect_timeout_ms <= 0)
    return Error{"config", where + ": timeouts must be positive"};
  return {};
}

}  // namespace

Result<Config> load_config(const std::filesystem::path& file) {
  auto parsed = toml_reader::parse_file(file);
  if (!parsed) return parsed.error();
  toml::table& t = *parsed;
  Config c;
  Reader rd;
  c.file = std::filesystem::absolute(file);
  auto base = c.file.parent_path();
  c.mode = rd.get(t["mode"], "mode", c.mode);
  if (c.mode != "development" && c.mode != "production")
    return Error{"config", "mode must be development or production"};

  c.listen = rd.get(t["server"]["listen"], "server.listen", c.listen);
  c.tls_cert = resolve(base, rd.get(t["server"]["tls_cert"], "server.tls_cert", std::string()));
  c.tls_key = resolve(base, rd.get(t["server"]["tls_key"], "server.tls_key", std::string()));
  c.io_threads = rd.get(t["server"]["io_threads"], "server.io_threads", c.io_threads);
  c.worker_threads =
      rd.get(t["server"]["worker_threads"], "server.worker_threads", c.worker_threads);
  c.max_body_bytes =
      rd.get(t["server"]["max_body_bytes"], "server.max_body_bytes", c.max_body_bytes);
  c.read_timeout_seconds = rd.get(t["server"]["read_timeout_seconds"],
                                  "server.read_timeout_seconds", c.read_timeout_seconds);
  c.idle_timeout_seconds = rd.get(t["server"]["idle_timeout_seconds"],
                                  "server.idle_timeout_seconds", c.idle_timeout_seconds);
  if (c.tls_cert.empty() || c.tls_key.empty())
    return Error{"config", "server.tls_cert and server.tls_key are required (HTTPS only)"};
  if (auto hp = split_host_port(c.listen); !hp) return hp.error();

  c.store.backend = rd.get(t["storage"]["backend"], "storage.backend", std::string("sqlite"));
  c.store.data_dir =
      resolve(base, rd.get(t["storage"]["data_dir"], "storage.data_dir", std::string("data")));
  c.store.dsn = rd.get(t["storage"]["dsn"], "storage.dsn", std::string());
  c.journal_dir =
      resolve(base, rd.get(t["journal"]["dir"], "journal.dir", std::string("data/journal")));
  if (auto v = rd.get(t["journal"]["system_cert"], "journal.system_cert", std::string());
      !v.empty())
    c.system_cert = resolve(base, v);
  if (auto v = rd.get(t["journal"]["system_key"], "journal.system_key", std::string()); !v.empty())
    c.system_key = resolve(base, v);
  c.log_id = rd.get(t["journal"]["log_id"], "journal.log_id", std::string("aaj"));
  c.segment_records =
      rd.get(t["journal"]["segment_records"], "journal.segment_records", c.segment_records);
  c.commit_delay_us =
      rd.get(t["journal"]["commit_delay_us"], "journal.commit_delay_us", c.commit_delay_us);
  if (c.commit_delay_us < 0 || c.commit_delay_us > 100000)
    return Error{"config", "journal.commit_delay_us must be 0..100000 (microseconds)"};

  for (const std::string& p : rd.strings(t["pki"]["trust"], "pki.trust"))
    c.trust.push_back(resolve(base, p));
  if (c.trust.empty()) return Error{"config", "pki.trust must list at least one CA certificate"};
  c.crl_dir = resolve(base, rd.get(t["pki"]["crl_dir"], "pki.crl_dir", std::string()));
  if (c.crl_dir.empty())
    return Error{"config", "pki.crl_dir is required (revocation is always checked)"};
  c.crl_reload_seconds =
      rd.get(t["pki"]["crl_reload_seconds"], "pki.crl_reload_seconds", c.crl_reload_seconds);

  c.policy_dir = resolve(base, rd.get(t["policy"]["dir"], "policy.dir", std::string()));

  c.challenge_ttl_seconds = rd.get(t["auth"]["challenge_ttl_seconds"], "auth.challenge_ttl_seconds",
                                   c.challenge_ttl_seconds);
  c.session_ttl_seconds =
      rd.get(t["auth"]["session_ttl_seconds"], "auth.session_ttl_seconds", c.session_ttl_seconds);
  c.max_open_challenges_per_client =
      rd.get(t["auth"]["max_open_challenges_per_client"], "auth.max_open_challenges_per_client",
             c.max_open_challenges_per_client);
  if (c.max_open_challenges_per_client <= 0)
    return Error{"config", "auth.max_open_challenges_per_client must be positive"};
  c.max_clock_skew_seconds = rd.get(t["requests"]["max_clock_skew_seconds"],
                                    "requests.max_clock_skew_seconds", c.max_clock_skew_seconds);
  if (c.max_clock_skew_seconds <= 0 || c.session_ttl_seconds <= 0 || c.challenge_ttl_seconds <= 0)
    return Error{"config", "auth/requests time limits must be positive"};

  c.session_idle_seconds = rd.get(t["auth"]["session_idle_seconds"], "auth.session_idle_seconds",
                                  c.session_idle_seconds);
  c.lockout_threshold =
      rd.get(t["auth"]["lockout_threshold"], "auth.lockout_threshold", c.lockout_threshold);
  c.lockout_window_seconds = rd.get(t["auth"]["lockout_window_seconds"],
                                    "auth.lockout_window_seconds", c.lockout_window_seconds);
  c.sms_enabled = rd.get(t["auth"]["sms_enabled"], "auth.sms_enabled", c.sms_enabled);
  c.inactive_days = rd.get(t["auth"]["inactive_days"], "auth.inactive_days", c.inactive_days);
  c.password_reminder_days = rd.get(t["auth"]["password_reminder_days"],
                                    "auth.password_reminder_days", c.password_reminder_days);
  if (c.inactive_days <= 0 || c.password_reminder_days <= 0)
    return Error{"config", "auth.inactive_days and auth.password_reminder_days must be positive"};
  c.sms_disabled_bodies = rd.strings(t["auth"]["sms_disabled_bodies"], "auth.sms_disabled_bodies");
  if (c.session_idle_seconds <= 0 || c.lockout_threshold <= 0 || c.lockout_window_seconds <= 0)
    return Error{"config", "auth limits must be positive"};

  c.application_deadline_seconds =
      rd.get(t["access"]["application_deadline_seconds"], "access.application_deadline_seconds",
             c.application_deadline_seconds);
  if (c.application_deadline_seconds <= 0)
    return Error{"config", "access.application_deadline_seconds must be positive"};

  c.export_remind_after_minutes =
      rd.get(t["exports"]["remind_after_minutes"], "exports.remind_after_minutes",
             c.export_remind_after_minutes);
  if (c.export_remind_after_minutes < 0)
    return Error{"config", "exports.remind_after_minutes must not be negative"};
  c.export_pdf_font = resolve(
      base, rd.get(t["exports"]["pdf_font"], "exports.pdf_font", c.export_pdf_font.string()));
  c.archive_max_queue = rd.get(t["archive"]["max_queue"], "archive.max_queue", c.archive_max_queue);
  if (c.archive_max_queue <= 0) return Error{"config", "archive.max_queue must be positive"};

  c.sms.driver = rd.get(t["sms"]["driver"], "sms.driver", c.sms.driver);
  c.sms.outbox_dir = resolve(
      base, rd.get(t["sms"]["outbox_dir"], "sms.outbox_dir", std::string("data/sms-outbox")));
  c.sms.url = rd.get(t["sms"]["url"], "sms.url", std::string());
  c.sms.username = rd.get(t["sms"]["username"], "sms.username", std::string());
  c.sms.password = rd.get(t["sms"]["password"], "sms.password", std::string());
  c.sms.bearer_token = rd.get(t["sms"]["bearer_token"], "sms.bearer_token", std::string());
  c.sms.timeout_ms = rd.get(t["sms"]["timeout_ms"], "sms.timeout_ms", c.sms.timeout_ms);
  c.sms.code_ttl_seconds =
      rd.get(t["sms"]["code_ttl_seconds"], "sms.code_ttl_seconds", c.sms.code_ttl_seconds);
  c.sms.max_attempts = rd.get(t["sms"]["max_attempts"], "sms.max_attempts", c.sms.max_attempts);
  c.sms.resend_interval_seconds =
      rd.get(t["sms"]["resend_interval_seconds"], "sms.resend_interval_seconds",
             c.sms.resend_interval_seconds);
  if (c.mode == "production" && c.sms.driver == "outbox")
    return Error{"config", "sms.driver \"outbox\" exposes codes in a folder: not in production"};
  if (c.system_cert.empty() != c.system_key.empty())
    return Error{"config", "journal.system_cert and journal.system_key go together"};
  if (c.mode == "production" && c.system_cert.empty())
    return Error{"config",
                 "journal.system_cert/system_key are required in production: answers "
                 "must carry the system's seal"};
  if (c.sms.code_ttl_seconds <= 0 || c.sms.max_attempts <= 0 || c.sms.resend_interval_seconds < 0)
    return Error{"config", "sms limits must be positive"};

  c.webauthn_rp_id = rd.get(t["webauthn"]["rp_id"], "webauthn.rp_id", c.webauthn_rp_id);
  c.webauthn_require_uv = rd.get(t["webauthn"]["require_user_verification"],
                                 "webauthn.require_user_verification", true);
  c.webauthn_origins = rd.strings(t["webauthn"]["origins"], "webauthn.origins");
  if (c.webauthn_origins.empty()) {
    auto hp = split_host_port(c.listen);
    c.webauthn_origins.push_back("https://" + c.webauthn_rp_id + ":" + std::to_string(hp->second));
  }

  c.simulator_listen =
      rd.get(t["sources"]["simulator_listen"], "sources.simulator_listen", c.simulator_listen);
  if (Status s =
          read_source(rd, t["sources"]["default"].as_table(), "sources.default", c.default_source);
      !s)
    return s.error();
  if (auto* src = t["sources"].as_table()) {
    for (auto& [k, v] : *src) {
      std::string key(k.str());
      if (key.size() == 3 && key[0] == 'R' && v.is_table()) {
        sources::ConnectorConfig o = c.default_source;
        if (Status s = read_source(rd, v.as_table(), "sources." + key, o); !s) return s.error();
        c.source_overrides[key] = o;
      }
    }
  }
  c.simulator_cases = resolve(
      base, rd.get(t["sources"]["simulator_cases"], "sources.simulator_cases", std::string()));

  c.verify_grounds = rd.get(t["grounds"]["verify"], "grounds.verify", c.verify_grounds);
  if (auto* reg = t["grounds"]["register"].as_table()) {
    c.case_register = c.default_source;
    if (Status s = read_source(rd, reg, "grounds.register", c.case_register); !s) return s.error();
  } else if (c.verify_grounds) {
    return Error{"config", "grounds.verify needs [grounds.register] with its url"};
  }
  c.verified_grounds = rd.strings(t["grounds"]["types"], "grounds.types");

  c.witness.url = rd.get(t["witness"]["url"], "witness.url", std::string());
  if (!c.witness.url.empty()) {
    c.witness.ca_file =
        resolve(base, rd.get(t["witness"]["ca_file"], "witness.ca_file", std::string()));
    for (const std::string& p : rd.strings(t["witness"]["trust"], "witness.trust"))
      c.witness.trust.push_back(resolve(base, p));
    if (c.witness.trust.empty()) c.witness.trust = c.trust;
    c.witness.bin = rd.get(t["witness"]["bin"], "witness.bin", std::string());
    c.witness.interval_seconds = rd.get(t["witness"]["interval_seconds"],
                                        "witness.interval_seconds", c.witness.interval_seconds);
    if (c.witness.url.rfind("https://", 0) != 0)
      return Error{"config", "witness.url must be https://"};
    if (c.witness.bin.empty())
      return Error{"config",
                   "witness.bin (the BIN of the witness's signing certificate) is "
                   "required with witness.url"};
    if (c.witness.interval_seconds <= 0)
      return Error{"config", "witness.interval_seconds must be positive"};
  }
  c.systems_listen = rd.get(t["systems"]["listen"], "systems.listen", std::string());
  if (!c.systems_listen.empty())
    if (auto hp = split_host_port(c.systems_listen); !hp) return hp.error();
  if (auto* arr = t["systems"]["clients"].as_array()) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto* tbl = (*arr)[i].as_table();
      std::string where = "systems.clients[" + std::to_string(i) + "]";
      if (!tbl) return Error{"config", where + " must be a table"};
      Config::SystemClient sc;
      sc.name = rd.get((*tbl)["name"], where + ".name", std::string());
      sc.bin = rd.get((*tbl)["bin"], where + ".bin", std::string());
      sc.require_mtls = rd.get((*tbl)["require_mtls"], where + ".require_mtls", true);
      if ((*tbl)["user_types"])
        sc.user_types = rd.strings((*tbl)["user_types"], where + ".user_types");
      if (sc.name.empty() || sc.bin.size() != 12)
        return Error{"config", where + " needs a name and the 12-digit bin"};
      c.systems.push_back(sc);
    }
  }

  if (Status s = rd.check(file.string()); !s) return s.error();
  return c;
}

}  // namespace aaj::app
