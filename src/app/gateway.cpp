#include "app/gateway_impl.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "app/replay_guard.h"
#include "auth/challenges.h"
#include "core/grounds.h"
#include "core/ids.h"
#include "core/json_limits.h"
#include "core/json_scan.h"
#include "core/messages.h"
#include "core/time.h"
#include "journal/journal.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/openssl_util.h"
#include "pki/system_key.h"
#include "pki/trust.h"
#include "policy/policy.h"
#include "sources/connector.h"
#include "store/store.h"

namespace aaj::app {
namespace detail {

// HTTP status of each error code the API can answer with.
int status_of(const std::string& code) {
  static const std::map<std::string, int, std::less<>> m = {
      {"sms_unavailable", 503},
      {"sms_throttled", 429},
      {"sms_code_invalid", 401},
      {"sms_code_expired", 401},
      {"sms_code_missing", 401},
      {"webauthn_failed", 401},
      {"already_entered", 409},
      {"agreement_mismatch", 400},
      {"malformed_request", 400},
      {"malformed_cms", 400},
      {"invalid_document", 400},
      {"unknown_resource", 400},
      {"unknown_ground", 400},
      {"invalid_ground", 400},
      {"invalid_subject", 400},
      {"payload_too_large", 413},
      {"unauthenticated", 401},
      {"challenge_unknown", 401},
      {"not_found", 404},
      {"method_not_allowed", 405},
      {"source_error", 502},
      {"source_unavailable", 502},
      {"source_timeout", 504},
      {"revocation_unavailable", 503},
      {"journal_unavailable", 503},
      {"overloaded", 503},
      {"store_unavailable", 503},
      {"internal_error", 500},
      {"already_decided", 409},
      {"application_unknown", 404},
      {"csrf_refused", 403},
      {"source_busy", 503},
      {"ground_register_unavailable", 503},
      {"client_certificate_required", 401},
      {"unknown_system", 403},
      {"on_behalf_unknown", 403},
      {"journal_corrupt", 500},
      {"resolution_unknown", 404},
      {"resolution_exists", 409},
      {"body_unknown", 400},
      {"archive_unavailable", 503},
      {"export_unavailable", 503},
      {"answer_unknown", 404},
      {"export_unknown", 404},
      {"material_unknown", 404},
      {"answer_destroyed", 410},
      {"evidence_unavailable", 503},
  };
  auto it = m.find(code);
  return it == m.end() ? 403 : it->second;  // everything else is a refusal
}

http::Response json_response(int status, const json& j) {
  http::Response r;
  r.status = status;
  r.body = j.dump();
  return r;
}

json error_json(const std::string& code, const std::string& request_id, const std::string& detail) {
  json e = {{"code", code}, {"message", messages::localized(code)}};
  if (!detail.empty()) e["detail"] = detail;
  json j = {{"error", e}};
  if (!request_id.empty()) j["request_id"] = request_id;
  return j;
}

http::Response error_response(const std::string& code, const std::string& request_id,
                              const std::string& detail) {
  return json_response(status_of(code), error_json(code, request_id, detail));
}

std::string access_log_line(std::string_view method, std::string_view path, int status,
                            int64_t micros, std::string_view remote) {
  std::string line = R"({"event":"http","method":)";
  auto text = [&line](std::string_view v) {
    const size_t at = line.size();
    if (!json_scan::append_string(line, v)) {
      line.resize(at);
      line += json(std::string(v)).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  };
  text(method);
  line += R"(,"path":)";
  text(path);
  line += R"(,"remote":)";
  text(remote);
  line += R"(,"status":)";
  line += std::to_string(status);
  line += R"(,"us":)";
  line += std::to_string(micros);
  line += '}';
  return line;
}

std::string uuid_v7() {
  // Ids are unique, not secret (74 random bits). They lead with the Unix time in milliseconds
  // (RFC 9562 version 7) so that the keys made together sit together: the answer archive's
  // primary key on request_id then grows at its end instead of touching a random page of the
  // index per answer (measured: about a page less written to the WAL per answer). The random
  // bytes come from the CSPRNG 4 KiB at a time (a RAND_bytes call per id cost more than the rest
  // of making it).
  thread_local std::string pool;
  thread_local size_t used = 0;
  if (used + 10 > pool.size()) {
    pool = auth::random_bytes(4096);
    used = 0;
  }
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  std::memcpy(b + 6, pool.data() + used, 10);
  used += 10;
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++o;  // the dashes
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 15];
  }
  return out;
}

// The CMS verifier's reasons that describe an unreadable container, not a refusal.
std::string cms_code(const std::string& reason) {
  if (reason == "not_signed_data" || reason == "no_content" || reason == "multiple_signers" ||
      reason == "malformed_cms")
    return "malformed_cms";
  return reason;
}

json signer_json(const pki::CertInfo& c) {
  json j = {{"iin", c.iin},
            {"common_name", c.common_name},
            {"serial", c.serial_hex},
            {"cert_sha256", c.sha256_hex},
            {"issuer", c.issuer}};
  if (!c.bin.empty()) j["bin"] = c.bin;
  return j;
}

// "ip:port" → "ip" (IPv6 addresses keep their colons).
std::string client_address(const std::string& remote) {
  auto p = remote.rfind(':');
  return p == std::string::npos ? remote : remote.substr(0, p);
}

bool has_explicit_offset(const std::string& s) {
  if (s.size() < 20) return false;
  if (s.back() == 'Z' || s.back() == 'z') return true;
  auto p = s.find_last_of("+-");
  return p != std::string::npos && p > 18;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a broken escape.
std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Status parse_query(std::string_view query,
                   const std::function<Status(const std::string&, const std::string&)>& each) {
  auto bad = [](const std::string& detail) { return Error{"malformed_request", detail}; };
  std::set<std::string> seen;
  size_t at = 0;
  while (at <= query.size() && !query.empty()) {
    size_t amp = query.find('&', at);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(at, amp - at);
    at = amp + 1;
    if (pair.empty()) {
      if (amp == query.size()) break;
      continue;
    }
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return bad("parameter without a value");
    auto key = url_decode(pair.substr(0, eq));
    auto value = url_decode(pair.substr(eq + 1));
    if (!key || !value) return bad("broken %-escape in the query");
    if (!seen.insert(*key).second) return bad("parameter " + *key + " given twice");
    if (Status s = each(*key, *value); !s) return s;
  }
  return {};
}

std::string string_field(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Status signer_acts_for(const pki::CertInfo& signer, const store::User& user) {
  if (signer.iin != user.iin) return Error{"signer_mismatch", "signed by IIN " + signer.iin};
  if (signer.information_system) return Error{"information_system_certificate", ""};
  if (!signer.bin.empty() && signer.bin != user.body_bin)
    return Error{"organisation_mismatch", "certificate BIN " + signer.bin};
  return {};
}

Status check_signed_at(const std::string& text, time::Instant now, std::chrono::seconds skew) {
  auto at = time::parse_iso8601(text);
  if (!at || !has_explicit_offset(text))
    return Error{"invalid_document", "signed_at must be ISO 8601 with an offset"};
  if (*at < now - skew || *at > now + skew)
    return Error{"stale_request", "signed_at is " + time::format_astana(*at) + ", not now"};
  return {};
}

Status GatewayImpl::init() {
  if (Status s = time::load_astana_zone(); !s) return s;
  auto st = store::open_store(cfg_.store);
  if (!st) return st.error();
  store_ = std::move(*st);
  auto trust = pki::TrustStore::load(cfg_.trust);
  if (!trust) return trust.error();
  auto crls = pki::CrlStore::open(cfg_.crl_dir, *trust);
  if (!crls) return crls.error();
  crls_ = *crls;
  trust_ = *trust;
  crls_->set_reload_listener([](const json& report) {
    // File names and issuers come from outside: not necessarily UTF-8, and a throwing dump
    // here would end the watcher's thread.
    spdlog::info("{}", json{{"event", "crl_reload"}, {"report", report}}.dump(
                           -1, ' ', false, json::error_handler_t::replace));
  });
  crls_->start_watching(std::chrono::seconds(cfg_.crl_reload_seconds));
  verifier_ = std::make_unique<pki::CmsVerifier>(*trust, crls_);
  // The event log: this server owns its Merkle tree and, with the system key, seals every group
  // commit (docs/journal-format.md).
  journal::Options jo;
  jo.tree = true;
  jo.log_id = cfg_.log_id;
  jo.segment_records = cfg_.segment_records;
  jo.commit_delay = std::chrono::microseconds(cfg_.commit_delay_us);
  if (!cfg_.system_cert.empty()) {
    auto key = pki::SystemKey::load(cfg_.system_cert, cfg_.system_key);
    if (!key) return Error{"config", "journal.system_key: " + key.error().detail};
    // Fail at start, not at the first request: the key must make seals this installation's
    // own verifier accepts (a signing certificate, trusted, valid). Revocation is left to the
    // verifiers of the seals: a stale CRL must not keep the server from starting (it starts
    // degraded and refuses requests until a fresh CRL arrives).
    const std::string probe = "aaj system key check " + time::format_utc(time::now());
    auto sig = (*key)->sign_base64(probe);
    if (!sig) return Error{"config", "the system key cannot sign: " + sig.error().detail};
    pki::VerifyResult v =
        verifier_->verify_detached(*sig, probe, {time::now(), pki::Usage::Signing, false});
    if (!v.valid)
      return Error{"config",
                   "the system key's seals would not verify: " + v.reason + " " + v.detail};
    system_key_ = *key;
    jo.sign = [key = *key](std::string_view canonical) { return key->sign_base64(canonical); };
  }
  auto j = journal::Journal::open(cfg_.journal_dir, jo);
  if (!j) return j.error();
  journal_ = std::move(*j);
  if (!cfg_.witness.url.empty()) {
    if (!system_key_)
      return Error{"config", "a witness co-signs signed heads: set journal.system_cert/system_key"};
    auto w = WitnessLink::start(cfg_.witness, rt_, journal_.get(), cfg_.journal_dir);
    if (!w) return w.error();
    witness_ = *w;
  }
  auto pol = cfg_.policy_dir.empty() ? policy::Engine::load_embedded()
                                     : policy::Engine::load_dir(cfg_.policy_dir);
  if (!pol) return pol.error();
  policy_ = *pol;
  if (Status s = init_log_access(); !s) return s;
  auto router = sources::SourceRouter::create(cfg_.default_source, cfg_.source_overrides, {rt_});
  if (!router) return router.error();
  router_ = *router;
  if (cfg_.verify_grounds) {
    // The register is a source like the others: same connector, limiter and breaker.
    auto reg = sources::SourceRouter::create(cfg_.case_register, {}, {rt_});
    if (!reg) return reg.error();
    case_register_ = *reg;
  }
  if (Status s = init_entry(); !s) return s;
  if (Status s = init_materials(); !s) return s;
  if (Status s = refill_replay_guard(); !s) return s;
  log_traffic_every(std::chrono::seconds(10));
  return {};
}

void GatewayImpl::log_traffic_every(std::chrono::seconds every) {
  rt_->after(every, [this, every] {
    json summary = traffic_.take(static_cast<double>(every.count()));
    if (!summary.is_null())
      spdlog::info("{}", summary.dump(-1, ' ', false, json::error_handler_t::replace));
    log_traffic_every(every);
  });
}

http::Response GatewayImpl::handle(const http::Request& req) {
  auto t0 = std::chrono::steady_clock::now();
  http::Response r = route(req);
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  spdlog::info("{}", access_log_line(req.method, req.path, r.status, us, req.remote));
  return r;
}

http::Response GatewayImpl::route(const http::Request& req) {
  struct Route {
    const char* method;
    const char* path;
    http::Response (GatewayImpl::*fn)(const http::Request&);
  };
  static const Route routes[] = {
      {"GET", "/healthz", &GatewayImpl::health},
      {"POST", "/api/v1/auth/challenge", &GatewayImpl::challenge},
      {"POST", "/api/v1/auth/eds", &GatewayImpl::enter_with_eds},
      {"POST", "/api/v1/auth/logout", &GatewayImpl::logout},
      {"GET", "/api/v1/me", &GatewayImpl::me},
      {"POST", "/api/v1/requests", &GatewayImpl::data_request},
      {"POST", "/api/v1/system/requests", &GatewayImpl::system_request},
      {"POST", "/api/v1/auth/sms/send", &GatewayImpl::sms_send},
      {"POST", "/api/v1/auth/sms/verify", &GatewayImpl::sms_verify},
      {"GET", "/api/v1/agreement", &GatewayImpl::agreement_text},
      {"POST", "/api/v1/agreement", &GatewayImpl::agreement_sign},
      {"GET", "/api/v1/sessions", &GatewayImpl::sessions},
      {"POST", "/api/v1/sessions/end", &GatewayImpl::end_session},
      {"POST", "/api/v1/applications", &GatewayImpl::submit_application},
      {"POST", "/api/v1/applications/status", &GatewayImpl::application_status},
      {"GET", "/api/v1/operator/applications", &GatewayImpl::operator_queue},
      {"POST", "/api/v1/operator/applications/register", &GatewayImpl::operator_register},
      {"POST", "/api/v1/operator/applications/refuse", &GatewayImpl::operator_refuse},
      {"POST", "/api/v1/operator/users/edit", &GatewayImpl::operator_edit},
      {"POST", "/api/v1/operator/users/block", &GatewayImpl::operator_block},
      {"POST", "/api/v1/operator/users/unblock", &GatewayImpl::operator_unblock},
      {"POST", "/api/v1/controller/users/block", &GatewayImpl::controller_block},
      {"GET", "/api/v1/log", &GatewayImpl::log_read},
      {"POST", "/api/v1/prosecutor/resolutions", &GatewayImpl::resolution_register},
      {"GET", "/api/v1/prosecutor/resolutions", &GatewayImpl::resolution_list},
      {"POST", "/api/v1/materials/destroy", &GatewayImpl::destroy_material},
      {"GET", "/api/v1/controller/exports", &GatewayImpl::controller_exports},
      {"POST", "/api/v1/exports", &GatewayImpl::create_export},
      {"GET", "/api/v1/exports", &GatewayImpl::list_exports},
      {"POST", "/api/v1/exports/destroyed", &GatewayImpl::confirm_export},
      {"GET", "/api/v1/answers", &GatewayImpl::read_answer},
      {"GET", "/api/v1/evidence", &GatewayImpl::evidence_package},
      {"POST", "/api/v1/webauthn/register/options", &GatewayImpl::webauthn_register_options},
      {"POST", "/api/v1/webauthn/register", &GatewayImpl::webauthn_register},
      {"POST", "/api/v1/auth/webauthn/options", &GatewayImpl::webauthn_options},
      {"POST", "/api/v1/auth/webauthn/verify", &GatewayImpl::webauthn_verify},
  };
  bool path_known = false;
  for (const auto& r : routes) {
    if (req.path != r.path) continue;
    path_known = true;
    if (req.method == r.method) return (this->*r.fn)(req);
  }
  return error_response(path_known ? "method_not_allowed" : "not_found", "", "");
}

// 200 "ok" when requests can be served; 503 "degraded" naming what would make every request
// fail closed (today: a trust anchor without a fresh CRL).
http::Response GatewayImpl::health(const http::Request&) {
  auto now = time::now();
  json report = crls_->last_report();
  json problems = json::array();
  for (const auto& anchor : trust_->anchor_info()) {
    bool fresh = false;
    for (const auto& h : report.value("held", json::array())) {
      auto next = time::parse_iso8601(h.value("next_update", ""));
      if (h.value("issuer", "") == anchor.subject && next && *next > now) fresh = true;
    }
    if (!fresh) problems.push_back("no fresh CRL for " + anchor.subject);
  }
  // A source that is down fails only its own resources; a case register that is down fails
  // every request when grounds are verified.
  json register_health = case_register_ ? case_register_->health() : json(nullptr);
  if (register_health.is_array())
    for (const auto& h : register_health)
      if (h.value("state", "") == "open") problems.push_back("case register unavailable");
  json j = {{"status", problems.empty() ? "ok" : "degraded"},
            {"time", time::format_astana(now)},
            {"journal",
             {{"last_seq", journal_->last_seq()},
              {"appended", journal_->stats().records},
              {"batches", journal_->stats().batches}}},
            {"crl", report},
            {"sources", router_->health()}};
  if (!register_health.is_null()) j["case_register"] = register_health;
  if (witness_) {
    j["witness"] = witness_->health();
    if (witness_->refused())
      problems.push_back(
          "the witness refused the log's head: its history differs from what the "
          "witness co-signed");
  }
  j["status"] = problems.empty() ? "ok" : "degraded";
  if (!problems.empty()) j["problems"] = problems;
  return json_response(problems.empty() ? 200 : 503, j);
}

// Every accepted document is in the log, so nonces of the last window survive a restart.
Status GatewayImpl::refill_replay_guard() {
  auto horizon = time::now() - 2 * replay_.window();
  return journal::scan(cfg_.journal_dir, [&](const journal::Record& r) {
    if (r.type == "data_request" && r.at >= horizon && r.body.contains("document") &&
        r.body.contains("user")) {
      const auto& doc = r.body["document"];
      if (doc.contains("nonce") && doc["nonce"].is_string())
        replay_.restore(replay_key_of(r.body), doc["nonce"].get<std::string>(), r.at);
    }
    return true;
  });
}

json parse_json(std::string_view text) {
  return json_limits::too_deep(text) ? json(nullptr) : json::parse(text, nullptr, false);
}

Result<SignedDocument> GatewayImpl::signed_document(const json& cms, time::Instant now) {
  if (!cms.is_string()) return Error{"malformed_request", "expected \"cms\": base64 DER CMS"};
  auto der = pki::base64_decode(cms.get<std::string>());
  if (!der) return Error{"malformed_cms", "cms is not base64"};
  SignedDocument d{*der, verifier_->verify(*der, {now, pki::Usage::Signing, true}), nullptr};
  if (!d.verified.valid) return Error{cms_code(d.verified.reason), d.verified.detail};
  d.content = parse_json(d.verified.content);
  return d;
}

}  // namespace detail

using detail::GatewayImpl;
using nlohmann::json;

std::string error_body(const std::string& code) {
  return detail::error_json(code, "", "").dump();
}

Result<std::unique_ptr<Gateway>> Gateway::create(const Config& cfg,
                                                 std::shared_ptr<http::Runtime> rt) {
  if (!rt) return Error{"config", "no runtime"};
  auto g = std::make_unique<GatewayImpl>(cfg, std::move(rt));
  if (Status s = g->init(); !s) return s.error();
  return std::unique_ptr<Gateway>(std::move(g));
}

}  // namespace aaj::app
