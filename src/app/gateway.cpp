#include "app/gateway.h"

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

using nlohmann::json;

namespace {

// HTTP status of each error code the API can answer with.
int status_of(const std::string& code) {
  static const std::map<std::string, int, std::less<>> m = {
      {"malformed_request", 400},      {"malformed_cms", 400},       {"invalid_document", 400},
      {"unknown_resource", 400},       {"unknown_ground", 400},      {"invalid_ground", 400},
      {"invalid_subject", 400},        {"payload_too_large", 413},   {"unauthenticated", 401},
      {"challenge_unknown", 401},      {"not_found", 404},           {"method_not_allowed", 405},
      {"source_error", 502},           {"source_unavailable", 502},  {"source_timeout", 504},
      {"revocation_unavailable", 503}, {"journal_unavailable", 503}, {"overloaded", 503},
      {"store_unavailable", 503},      {"internal_error", 500},
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
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[static_cast<unsigned char>(b[i]) >> 4]);
    out.push_back(hex[static_cast<unsigned char>(b[i]) & 15]);
  }
  return out;
}

bool has_float(const json& j) {
  if (j.is_number_float()) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (has_float(v)) return true;
  return false;
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

// What one data request accumulated on its way; becomes its event-log record.
struct Trace {
  std::string request_id;
  std::string remote;
  json user;
  json signer;
  std::string cms_sha256;
  std::string cms_base64;  // the signed request itself, kept as evidence
  json document;
  json policy;
  std::string answer_sha256;
};

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

class GatewayImpl final : public Gateway {
 public:
  explicit GatewayImpl(const Config& cfg)
      : cfg_(cfg),
        challenges_(std::chrono::seconds(cfg.challenge_ttl_seconds), 100000,
                    static_cast<size_t>(cfg.max_open_challenges_per_client)),
        replay_(std::chrono::seconds(cfg.max_clock_skew_seconds)) {}

  Status init() {
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
    return refill_replay_guard();
  }

  http::Response handle(const http::Request& req) override {
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

 private:
  http::Response route(const http::Request& req) {
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
    };
    bool path_known = false;
    for (const auto& r : routes) {
      if (req.path != r.path) continue;
      path_known = true;
      if (req.method == r.method) return (this->*r.fn)(req);
    }
    return error_response(path_known ? "method_not_allowed" : "not_found", "", "");
  }

  // ---- health -------------------------------------------------------------------------------

  // 200 "ok" when requests can be served; 503 "degraded" naming what would make every request
  // fail closed (today: a trust anchor without a fresh CRL).
  http::Response health(const http::Request&) {
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

  // ---- entry ---------------------------------------------------------------------------------

  http::Response challenge(const http::Request& req) {
    auto c = challenges_.create(time::now(), client_address(req.remote));
    if (!c) return error_response("overloaded", "", "too many outstanding challenges");
    return json_response(200, {{"challenge_id", c->id},
                               {"nonce", pki::base64_encode(c->nonce)},
                               {"expires_at", time::format_astana(c->expires_at)}});
  }

  http::Response enter_with_eds(const http::Request& req) {
    json rec = {{"remote", req.remote}};
    try {
      return process_entry(req, rec);
    } catch (const std::exception& e) {
      rec["outcome"] = "failed";
      rec["code"] = "internal_error";
      rec["detail"] = e.what();
      if (auto w = journal_->append("entry_eds", rec); !w)
        return error_response("journal_unavailable", "", "");
      return error_response("internal_error", "", "");
    }
  }

  http::Response process_entry(const http::Request& req, json& rec) {
    auto now = time::now();
    auto refuse = [&](const std::string& code, const std::string& detail) {
      rec["outcome"] = "refused";
      rec["code"] = code;
      if (!detail.empty()) rec["detail"] = detail;
      if (auto w = journal_->append("entry_eds", rec); !w)
        return error_response("journal_unavailable", "", "");
      return error_response(code, "", detail);
    };
    json body =
        json_limits::too_deep(req.body) ? json(nullptr) : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("challenge_id") ||
        !body["challenge_id"].is_string() || !body.contains("cms") || !body["cms"].is_string())
      return refuse("malformed_request", "expected {\"challenge_id\", \"cms\"}");
    auto c = challenges_.take(body["challenge_id"].get<std::string>(), now);
    if (!c) return refuse("challenge_unknown", "");
    auto der = pki::base64_decode(body["cms"].get<std::string>());
    if (!der) return refuse("malformed_cms", "cms is not base64");
    rec["cms_sha256"] = pki::sha256_hex(*der);
    // NCALayer signs login challenges detached (encapsulate:false); an attached CMS is accepted
    // when its content is exactly the nonce.
    pki::VerifyResult v =
        verifier_->verify_detached(*der, c->nonce, {now, pki::Usage::Authentication, true});
    if (!v.signer.sha256_hex.empty()) rec["signer"] = signer_json(v.signer);
    if (!v.valid) return refuse(cms_code(v.reason), v.detail);
    if (v.signer.information_system) return refuse("information_system_certificate", "");
    auto user = store_->find_user(v.signer.iin);
    if (!user) return refuse("store_unavailable", user.error().detail);
    if (!*user) return refuse("user_unknown", "");
    const store::User& u = **user;
    rec["user"] = {{"iin", u.iin}, {"user_type", u.user_type}, {"body_bin", u.body_bin}};
    if (u.status != "active") return refuse("user_blocked", "");
    if (!v.signer.bin.empty() && v.signer.bin != u.body_bin)
      return refuse("organisation_mismatch", "");
    std::string token = auth::random_hex(32);
    store::Session s{pki::sha256_hex(token), u.iin, now,
                     now + std::chrono::seconds(cfg_.session_ttl_seconds), false};
    if (Status st = store_->add_session(s); !st) return refuse("store_unavailable", "");
    rec["outcome"] = "entered";
    rec["session"] = s.token_hash.substr(0, 16);  // enough to correlate, useless as a token
    auto w = journal_->append("entry_eds", rec);
    if (!w) {
      (void)store_->revoke_session(s.token_hash);
      return error_response("journal_unavailable", "", "");
    }
    return json_response(200, {{"token", token},
                               {"next", json::array()},  // second factor: next issue (R-AUTH-1)
                               {"expires_at", time::format_astana(s.expires_at)},
                               {"user",
                                {{"iin", u.iin},
                                 {"full_name", u.full_name},
                                 {"user_type", u.user_type},
                                 {"body_bin", u.body_bin}}}});
  }

  // The signed-in user behind the bearer token. Errors: unauthenticated, store_unavailable.
  Result<store::User> authenticate(const http::Request& req, time::Instant now) {
    std::string h = req.header("authorization");
    if (h.size() < 8 || h.compare(0, 7, "Bearer ") != 0)
      return Error{"unauthenticated", "missing bearer token"};
    auto s = store_->find_session(pki::sha256_hex(h.substr(7)));
    if (!s) return s.error();
    if (!*s || (*s)->revoked || (*s)->expires_at < now)
      return Error{"unauthenticated", "session unknown, ended or expired"};
    auto u = store_->find_user((*s)->iin);
    if (!u) return u.error();
    if (!*u) return Error{"unauthenticated", "session of an unknown user"};
    return **u;
  }

  // Ends the session behind the bearer token; logged. 401 for an unknown or ended session.
  http::Response logout(const http::Request& req) {
    auto now = time::now();
    auto u = authenticate(req, now);
    if (!u) return error_response(u.error().code, "", u.error().detail);
    std::string hash = pki::sha256_hex(req.header("authorization").substr(7));
    if (Status s = store_->revoke_session(hash); !s)
      return error_response("store_unavailable", "", s.error().detail);
    if (auto w = journal_->append(
            "logout", {{"iin", u->iin}, {"session", hash.substr(0, 16)}, {"remote", req.remote}});
        !w)
      return error_response("journal_unavailable", "", "");
    return json_response(200, {{"status", "ended"}});
  }

  http::Response me(const http::Request& req) {
    auto u = authenticate(req, time::now());
    if (!u) return error_response(u.error().code, "", "");
    return json_response(200, {{"iin", u->iin},
                               {"full_name", u->full_name},
                               {"user_type", u->user_type},
                               {"body_bin", u->body_bin},
                               {"status", u->status}});
  }

  // ---- the request pipeline -----------------------------------------------------------------

  // Whatever goes wrong inside, the outcome is logged before it is answered.
  http::Response data_request(const http::Request& req) {
    Trace tr;
    tr.request_id = uuid_v4();
    tr.remote = req.remote;
    try {
      return process_request(req, tr);
    } catch (const std::exception& e) {
      return finish(tr, {"internal_error", e.what()});
    }
  }

  http::Response process_request(const http::Request& req, Trace& tr) {
    auto now = time::now();

    auto user = authenticate(req, now);
    if (!user) return finish(tr, user.error());
    const store::User& u = *user;
    tr.user = {{"iin", u.iin}, {"user_type", u.user_type}, {"body_bin", u.body_bin}};

    json body =
        json_limits::too_deep(req.body) ? json(nullptr) : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("cms") ||
        !body["cms"].is_string())
      return finish(tr, {"malformed_request", "expected {\"cms\": base64 DER CMS}"});
    auto der = pki::base64_decode(body["cms"].get<std::string>());
    if (!der) return finish(tr, {"malformed_cms", "cms is not base64"});
    tr.cms_sha256 = pki::sha256_hex(*der);
    tr.cms_base64 = pki::base64_encode(*der);

    pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
    if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
    if (!v.valid) return finish(tr, {cms_code(v.reason), v.detail});
    if (v.signer.iin != u.iin)
      return finish(tr, {"signer_mismatch", "signed by IIN " + v.signer.iin});
    if (v.signer.information_system) return finish(tr, {"information_system_certificate", ""});
    if (!v.signer.bin.empty() && v.signer.bin != u.body_bin)
      return finish(tr, {"organisation_mismatch", "certificate BIN " + v.signer.bin});

    if (json_limits::too_deep(v.content))
      return finish(tr, {"invalid_document", "the document nests deeper than " +
                                                 std::to_string(json_limits::kMaxDepth)});
    json doc = json::parse(v.content, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return finish(tr, {"invalid_document", "the signed content is not a JSON object"});
    if (has_float(doc))
      return finish(tr, {"invalid_document", "numbers in the document must be integers"});
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
    const std::string signed_at_text = doc["signed_at"].get<std::string>();
    if (purpose.size() < 3 || purpose.size() > 2000)
      return finish(tr, {"invalid_document", "purpose must state the purpose (3-2000 bytes)"});
    if (nonce.size() < 8 || nonce.size() > 128)
      return finish(tr, {"invalid_document", "nonce must be 8-128 characters"});
    auto signed_at = time::parse_iso8601(signed_at_text);
    if (!signed_at || !has_explicit_offset(signed_at_text))
      return finish(tr, {"invalid_document", "signed_at must be ISO 8601 with an offset"});

    auto skew = std::chrono::seconds(cfg_.max_clock_skew_seconds);
    if (*signed_at < now - skew || *signed_at > now + skew)
      return finish(tr, {"stale_request", "signed_at is " + time::format_astana(*signed_at)});
    if (!replay_.remember(u.iin, nonce, now))
      return finish(tr, {"replayed_request", "nonce already used"});
    if (u.status != "active") return finish(tr, {"user_blocked", ""});

    const policy::ResourceInfo* res = policy_->catalog().find(resource);
    if (!res) return finish(tr, {"unknown_resource", resource});
    time::Instant t = now;
    int year = 0;
    {
      int y;
      unsigned m, d;
      time::civil_from_days(time::astana_day(t), y, m, d);
      year = y;
    }
    if (Status s = grounds::validate(doc["ground"], year); !s) return finish(tr, s.error());
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

  json record_of(const Trace& tr, const std::string& outcome, const std::string& code, int status) {
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
  http::Response finish(const Trace& tr, const Error& e) {
    int status = status_of(e.code);
    std::string outcome = status >= 500 ? "failed" : "refused";
    json rec = record_of(tr, outcome, e.code, status);
    if (!e.detail.empty()) rec["detail"] = e.detail;
    if (auto w = journal_->append("data_request", std::move(rec)); !w)
      return error_response("journal_unavailable", tr.request_id, "");
    return error_response(e.code, tr.request_id, e.detail);
  }

  // An answer: logged durably, then released.
  http::Response deliver(const Trace& tr, json answer) {
    json rec = record_of(tr, answer["found"].get<bool>() ? "answered" : "not_found", "", 200);
    auto w = journal_->append("data_request", std::move(rec));
    if (!w) return error_response("journal_unavailable", tr.request_id, "");
    answer["logged_at"] = w->at_astana;
    answer["log_seq"] = w->seq;
    return json_response(200, answer);
  }

  // Every accepted document is in the log, so nonces of the last window survive a restart.
  Status refill_replay_guard() {
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

  Config cfg_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<journal::Journal> journal_;
  std::shared_ptr<const pki::TrustStore> trust_;
  std::shared_ptr<pki::CrlStore> crls_;
  std::unique_ptr<pki::CmsVerifier> verifier_;
  std::shared_ptr<const policy::Engine> policy_;
  std::shared_ptr<sources::SourceRouter> router_;
  auth::ChallengeTable challenges_;
  ReplayGuard replay_;
};

}  // namespace

std::string error_body(const std::string& code) {
  return json{{"error", {{"code", code}, {"message", messages::localized(code)}}}}.dump();
}

Result<std::unique_ptr<Gateway>> Gateway::create(const Config& cfg) {
  auto g = std::make_unique<GatewayImpl>(cfg);
  if (Status s = g->init(); !s) return s.error();
  return std::unique_ptr<Gateway>(std::move(g));
}

}  // namespace aaj::app
