#include "app/gateway_impl.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "app/replay_guard.h"
#include "auth/challenges.h"
#include "core/grounds.h"
#include "core/ids.h"
#include "core/json_limits.h"
#include "core/messages.h"
#include "core/time.h"
#include "journal/journal.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/openssl_util.h"
#include "pki/trust.h"
#include "policy/policy.h"
#include "sources/connector.h"
#include "store/store.h"

namespace aaj::app {
namespace detail {

// HTTP status of each error code the API can answer with.
int status_of(const std::string& code) {
  static const std::map<std::string, int, std::less<>> m = {
      {"sms_unavailable", 503},     {"sms_throttled", 429},      {"sms_code_invalid", 401},
      {"sms_code_expired", 401},    {"sms_code_missing", 401},   {"webauthn_failed", 401},
      {"already_entered", 409},     {"agreement_mismatch", 400}, {"malformed_request", 400},
      {"malformed_cms", 400},       {"invalid_document", 400},   {"unknown_resource", 400},
      {"unknown_ground", 400},      {"invalid_ground", 400},     {"invalid_subject", 400},
      {"payload_too_large", 413},   {"unauthenticated", 401},    {"challenge_unknown", 401},
      {"not_found", 404},           {"method_not_allowed", 405}, {"source_error", 502},
      {"source_unavailable", 502},  {"source_timeout", 504},     {"revocation_unavailable", 503},
      {"journal_unavailable", 503}, {"overloaded", 503},         {"store_unavailable", 503},
      {"internal_error", 500},      {"already_decided", 409},    {"application_unknown", 404},
      {"csrf_refused", 403},
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

http::Response error_response(const std::string& code, const std::string& request_id,
                              const std::string& detail) {
  json e = {{"code", code}, {"message", messages::localized(code)}};
  if (!detail.empty()) e["detail"] = detail;
  json j = {{"error", e}};
  if (!request_id.empty()) j["request_id"] = request_id;
  return json_response(status_of(code), j);
}

std::string uuid_v4() {
  std::string b = auth::random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = pki::to_hex(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
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

// Validates the subject key against the keys the resource can be searched by.
Status check_subject(const json& subject, const policy::ResourceInfo& res) {
  if (!subject.is_object() || subject.size() != 1)
    return Error{"invalid_subject", "subject must be an object with exactly one key"};
  const auto& [key, value] = *subject.items().begin();
  bool known = false;
  for (const auto& k : res.keys) known = known || k == key;
  if (!known) return Error{"invalid_subject", res.id + " cannot be searched by " + key};
  if (!value.is_string()) return Error{"invalid_subject", "subject." + key + " must be a string"};
  const auto v = value.get<std::string>();
  if (key == "iin" && !ids::parse_iin(v))
    return Error{"invalid_subject",
                 "subject.iin is not a valid IIN (12 digits, date, check digit)"};
  if (key == "bin" && !ids::is_valid_bin(v))
    return Error{"invalid_subject", "subject.bin is not a valid BIN"};
  if (v.empty() || v.size() > 128)
    return Error{"invalid_subject", "subject." + key + " must be 1-128 characters"};
  return {};
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
  auto j = journal::Journal::open(cfg_.journal_dir);
  if (!j) return j.error();
  journal_ = std::move(*j);
  auto trust = pki::TrustStore::load(cfg_.trust);
  if (!trust) return trust.error();
  auto crls = pki::CrlStore::open(cfg_.crl_dir, *trust);
  if (!crls) return crls.error();
  crls_ = *crls;
  trust_ = *trust;
  crls_->set_reload_listener([](const json& report) {
    spdlog::info("{}", json{{"event", "crl_reload"}, {"report", report}}.dump());
  });
  crls_->start_watching(std::chrono::seconds(cfg_.crl_reload_seconds));
  verifier_ = std::make_unique<pki::CmsVerifier>(*trust, crls_);
  auto pol = cfg_.policy_dir.empty() ? policy::Engine::load_embedded()
                                     : policy::Engine::load_dir(cfg_.policy_dir);
  if (!pol) return pol.error();
  policy_ = *pol;
  auto router = sources::SourceRouter::create(cfg_.default_source, cfg_.source_overrides);
  if (!router) return router.error();
  router_ = *router;
  if (Status s = init_entry(); !s) return s;
  return refill_replay_guard();
}

http::Response GatewayImpl::handle(const http::Request& req) {
  auto t0 = std::chrono::steady_clock::now();
  http::Response r = route(req);
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  spdlog::info("{}", json{{"event", "http"},
                          {"method", req.method},
                          {"path", req.path},
                          {"status", r.status},
                          {"us", us},
                          {"remote", req.remote}}
                         .dump(-1, ' ', false, json::error_handler_t::replace));
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
  json j = {{"status", problems.empty() ? "ok" : "degraded"},
            {"time", time::format_astana(now)},
            {"journal", {{"last_seq", journal_->last_seq()}}},
            {"crl", report}};
  if (!problems.empty()) j["problems"] = problems;
  return json_response(problems.empty() ? 200 : 503, j);
}

// Whatever goes wrong inside, the outcome is logged before it is answered.
http::Response GatewayImpl::data_request(const http::Request& req) {
  Trace tr;
  tr.request_id = uuid_v4();
  tr.remote = req.remote;
  try {
    return process_request(req, tr);
  } catch (const std::exception& e) {
    return finish(tr, {"internal_error", e.what()});
  }
}

http::Response GatewayImpl::process_request(const http::Request& req, Trace& tr) {
  auto now = time::now();

  auto caller = authenticate(req, now, true);  // both factors done
  if (!caller) return finish(tr, caller.error());
  const store::User& u = caller->user;
  tr.user = {{"iin", u.iin}, {"user_type", u.user_type}, {"body_bin", u.body_bin}};
  // Separation of duties: staff accounts without a user type do not request data.
  if (u.user_type.empty()) return finish(tr, {"not_a_requesting_user", ""});
  auto agreed = agreement_signed(u.iin);  // no request before the signed agreement (R-AUTH-3)
  if (!agreed) return finish(tr, agreed.error());
  if (!*agreed) return finish(tr, {"agreement_required", "sign the agreement on terms of use"});

  json body = parse_json(req.body);
  if (!body.is_object() || !body.contains("cms") || !body["cms"].is_string())
    return finish(tr, {"malformed_request", "expected {\"cms\": base64 DER CMS}"});
  auto der = pki::base64_decode(body["cms"].get<std::string>());
  if (!der) return finish(tr, {"malformed_cms", "cms is not base64"});
  tr.cms_sha256 = pki::sha256_hex(*der);
  tr.cms_base64 = pki::base64_encode(*der);

  pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
  if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
  if (!v.valid) return finish(tr, {cms_code(v.reason), v.detail});
  if (Status s = signer_acts_for(v.signer, u); !s) return finish(tr, s.error());

  if (json_limits::too_deep(v.content))
    return finish(tr, {"invalid_document",
                       "the document nests deeper than " + std::to_string(json_limits::kMaxDepth)});
  json doc = json::parse(v.content, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return finish(tr, {"invalid_document", "the signed content is not a JSON object"});
  // The document goes into the event log: refuse now what the log cannot hold (floats).
  if (Status b = journal::check_body(doc); !b)
    return finish(tr, {"invalid_document", b.error().detail});
  tr.document = doc;
  for (const char* f : {"resource", "purpose", "nonce", "signed_at"})
    if (!doc.contains(f) || !doc[f].is_string())
      return finish(tr, {"invalid_document", std::string(f) + " is required (a string)"});
  for (const char* f : {"ground", "subject"})
    if (!doc.contains(f) || !doc[f].is_object())
      return finish(tr, {"invalid_document", std::string(f) + " is required (an object)"});
  const std::string resource = doc["resource"].get<std::string>();
  const std::string purpose = doc["purpose"].get<std::string>();
  const std::string nonce = doc["nonce"].get<std::string>();
  if (purpose.size() < 3 || purpose.size() > 2000)
    return finish(tr, {"invalid_document", "purpose must state the purpose (3-2000 bytes)"});
  if (nonce.size() < 8 || nonce.size() > 128)
    return finish(tr, {"invalid_document", "nonce must be 8-128 characters"});
  if (Status s = check_signed_at(doc["signed_at"].get<std::string>(), now, skew()); !s)
    return finish(tr, s.error());
  if (!replay_.remember(u.iin, nonce, now))
    return finish(tr, {"replayed_request", "nonce already used"});

  const policy::ResourceInfo* res = policy_->catalog().find(resource);
  if (!res) return finish(tr, {"unknown_resource", resource});
  if (Status s = grounds::validate(doc["ground"], time::astana_year(now)); !s)
    return finish(tr, s.error());
  if (Status s = check_subject(doc["subject"], *res); !s) return finish(tr, s.error());

  const std::string ground = doc["ground"]["type"].get<std::string>();
  policy::Decision d = policy_->decide(u.user_type, ground, resource, time::astana_day(now));
  tr.policy = {{"version", d.version},
               {"rule", d.rule},
               {"access", policy::to_string(d.access)},
               {"verified", d.verified}};
  if (!d.allow) return finish(tr, {std::string(d.code), ""});

  auto a = router_->fetch({resource, doc["subject"], tr.request_id});
  if (!a) return finish(tr, a.error());
  bool truncated = d.access == policy::Access::Truncated;
  json data =
      a->found ? (truncated ? policy::apply_truncation(a->data, *res) : a->data) : json(nullptr);
  tr.answer_sha256 = pki::sha256_hex(data.dump());
  json answer = {
      {"request_id", tr.request_id},
      {"resource", resource},
      {"found", a->found},
      {"truncated", truncated},
      {"data", std::move(data)},
      {"policy",
       {{"version", d.version}, {"rule", d.rule}, {"access", policy::to_string(d.access)}}}};
  return deliver(tr, std::move(answer));
}

json GatewayImpl::record_of(const Trace& tr, const std::string& outcome, const std::string& code,
                            int status) {
  json r = {{"request_id", tr.request_id},
            {"outcome", outcome},
            {"http_status", status},
            {"remote", tr.remote}};
  if (!code.empty()) r["code"] = code;
  if (!tr.user.is_null()) r["user"] = tr.user;
  if (!tr.signer.is_null()) r["signer"] = tr.signer;
  if (!tr.cms_sha256.empty()) r["cms_sha256"] = tr.cms_sha256;
  // The signed request is evidence only from a signed-in user; anonymous junk is not archived.
  if (!tr.cms_base64.empty() && !tr.user.is_null()) r["cms"] = tr.cms_base64;
  if (!tr.document.is_null()) r["document"] = tr.document;
  if (!tr.policy.is_null()) r["policy"] = tr.policy;
  if (!tr.answer_sha256.empty()) r["answer_sha256"] = tr.answer_sha256;
  return r;
}

// A refusal or failure: logged, then answered.
http::Response GatewayImpl::finish(const Trace& tr, const Error& e) {
  int status = status_of(e.code);
  std::string outcome = status >= 500 ? "failed" : "refused";
  json rec = record_of(tr, outcome, e.code, status);
  if (!e.detail.empty()) rec["detail"] = e.detail;
  if (auto w = journal_->append("data_request", std::move(rec)); !w)
    return error_response("journal_unavailable", tr.request_id, "");
  return error_response(e.code, tr.request_id, e.detail);
}

// An answer: logged durably, then released.
http::Response GatewayImpl::deliver(const Trace& tr, json answer) {
  json rec = record_of(tr, answer["found"].get<bool>() ? "answered" : "not_found", "", 200);
  auto w = journal_->append("data_request", std::move(rec));
  if (!w) return error_response("journal_unavailable", tr.request_id, "");
  answer["logged_at"] = w->at_astana;
  answer["log_seq"] = w->seq;
  return json_response(200, answer);
}

// Every accepted document is in the log, so nonces of the last window survive a restart.
Status GatewayImpl::refill_replay_guard() {
  auto horizon = time::now() - 2 * replay_.window();
  return journal::scan(cfg_.journal_dir, [&](const journal::Record& r) {
    if (r.type == "data_request" && r.at >= horizon && r.body.contains("document") &&
        r.body.contains("user")) {
      const auto& doc = r.body["document"];
      if (doc.contains("nonce") && doc["nonce"].is_string())
        replay_.restore(r.body["user"].value("iin", ""), doc["nonce"].get<std::string>(), r.at);
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
  return json{{"error", {{"code", code}, {"message", messages::localized(code)}}}}.dump();
}

Result<std::unique_ptr<Gateway>> Gateway::create(const Config& cfg) {
  auto g = std::make_unique<GatewayImpl>(cfg);
  if (Status s = g->init(); !s) return s.error();
  return std::unique_ptr<Gateway>(std::move(g));
}

}  // namespace aaj::app
