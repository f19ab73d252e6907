// Entry: EDS (first factor), the second factor (SMS code or WebAuthn), sessions, and the
// Agreement on terms of use (R-AUTH-1…4). See docs/api.md for the sequence.
#include <spdlog/spdlog.h>

#include "app/gateway_impl.h"
#include "core/embedded.h"
#include "core/json_limits.h"
#include "core/messages.h"
#include "core/time.h"
#include "pki/openssl_util.h"

namespace aaj::embedded {
std::span<const File> bundle_agreement();
}

namespace aaj::app::detail {

std::string session_cookie(const std::string& token, int max_age_seconds) {
  return "aaj_session=" + token +
         "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_seconds);
}

std::string bearer_or_cookie(const http::Request& req) {
  std::string h = req.header("authorization");
  if (h.size() > 7 && h.compare(0, 7, "Bearer ") == 0) return h.substr(7);
  std::string cookies = req.header("cookie");
  for (size_t p = 0; p < cookies.size();) {
    while (p < cookies.size() && (cookies[p] == ' ' || cookies[p] == ';')) ++p;
    size_t e = cookies.find(';', p);
    std::string kv = cookies.substr(p, e == std::string::npos ? std::string::npos : e - p);
    if (kv.rfind("aaj_session=", 0) == 0) return kv.substr(12);
    if (e == std::string::npos) break;
    p = e + 1;
  }
  return "";
}

Status GatewayImpl::init_entry() {
  auto gw = auth::make_sms_gateway(cfg_.sms);
  if (!gw) return gw.error();
  sms_gateway_ = *gw;
  sms_codes_ = std::make_unique<auth::SmsCodes>(cfg_.sms);
  const auto* f = embedded::find(embedded::bundle_agreement(), "terms-of-use.json");
  if (!f) return Error{"config", "agreement text not embedded"};
  agreement_ = json::parse(f->data, nullptr, false);
  if (agreement_.is_discarded() || !agreement_.contains("version"))
    return Error{"config", "agreement text is malformed"};
  // What the user signs commits to this exact text: hash of its canonical form.
  agreement_sha256_ = pki::sha256_hex(json{
      {"version", agreement_["version"]},
      {"title", agreement_["title"]},
      {"clauses", agreement_["clauses"]}}.dump());
  return {};
}

http::Response GatewayImpl::challenge(const http::Request& req) {
  auto c = challenges_.create(time::now(), client_address(req.remote));
  if (!c) return error_response("overloaded", "", "too many outstanding challenges");
  return json_response(200, {{"challenge_id", c->id},
                             {"nonce", pki::base64_encode(c->nonce)},
                             {"expires_at", time::format_astana(c->expires_at)}});
}

http::Response GatewayImpl::enter_with_eds(const http::Request& req) {
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

http::Response GatewayImpl::process_entry(const http::Request& req, json& rec) {
  auto now = time::now();
  auto refuse = [&](const std::string& code, const std::string& detail) {
    rec["outcome"] = "refused";
    rec["code"] = code;
    if (!detail.empty()) rec["detail"] = detail;
    if (auto w = journal_->append("entry_eds", rec); !w)
      return error_response("journal_unavailable", "", "");
    return error_response(code, "", detail);
  };
  json body = parse_json(req.body);
  std::string challenge_id = string_field(body, "challenge_id"), cms = string_field(body, "cms");
  if (challenge_id.empty() || cms.empty())
    return refuse("malformed_request", "expected {\"challenge_id\", \"cms\"}");
  auto c = challenges_.take(challenge_id, now);
  if (!c) return refuse("challenge_unknown", "");
  auto der = pki::base64_decode(cms);
  if (!der) return refuse("malformed_cms", "cms is not base64");
  rec["cms_sha256"] = pki::sha256_hex(*der);
  // NCALayer signs login challenges detached (encapsulate:false); an attached CMS is accepted
  // when its content is exactly the nonce.
  pki::VerifyResult v =
      verifier_->verify_detached(*der, c->nonce, {now, pki::Usage::Authentication, true});
  if (!v.signer.sha256_hex.empty()) rec["signer"] = signer_json(v.signer);
  if (!v.valid) return refuse(cms_code(v.reason), v.detail);
  auto user = store_->find_user(v.signer.iin);
  if (!user) return refuse("store_unavailable", user.error().detail);
  if (!*user) return refuse("user_unknown", "");
  const store::User& u = **user;
  rec["user"] = user_ref(u);
  if (u.status != "active") return refuse("user_blocked", "");
  if (Status a = signer_acts_for(v.signer, u); !a) return refuse(a.error().code, a.error().detail);
  if (Status l = check_lockout(u.iin, now); !l) return refuse(l.error().code, l.error().detail);
  // Accounts unused for `inactive_days` are disabled (CJIS); the operator re-enables them.
  auto last_used = std::max(u.last_entry_at, u.created_at);
  if (now - last_used > std::chrono::hours(24 * cfg_.inactive_days)) {
    auto w = journal_->append("user_blocked",
                              {{"iin", u.iin},
                               {"by", "system"},
                               {"reason", "inactive since " + time::format_astana(last_used)},
                               {"user", user_ref(u)}});
    if (!w) return error_response("journal_unavailable", "", "");
    if (Status b = store_->set_user_status(u.iin, "blocked"); !b)
      return refuse("store_unavailable", b.error().detail);
    return refuse("account_inactive", "");
  }
  bool remind = now - u.reminded_at > std::chrono::hours(24 * cfg_.password_reminder_days);
  std::string token = auth::random_hex(32);
  // EDS is the first factor: the session can do nothing but complete the second (R-AUTH-1).
  store::Session s{pki::sha256_hex(token),
                   u.iin,
                   now,
                   now + std::chrono::seconds(cfg_.session_ttl_seconds),
                   false,
                   "first_factor",
                   now};
  json next = next_steps(u, s);
  if (next.empty() || next[0] == "agreement")
    return refuse("no_second_factor",
                  "SMS codes are not allowed for this body and no biometric authenticator is "
                  "enrolled");
  if (Status st = store_->add_session(s); !st) return refuse("store_unavailable", "");
  // The inactivity clock and the reminder depend on this: an unrecorded entry is refused.
  if (Status st = store_->record_entry(u.iin, now, remind); !st) {
    (void)store_->revoke_session(s.token_hash);
    return refuse("store_unavailable", st.error().detail);
  }
  rec["outcome"] = "entered";
  rec["session"] = s.token_hash.substr(0, 16);  // enough to correlate, useless as a token
  auto w = journal_->append("entry_eds", rec);
  if (!w) {
    (void)store_->revoke_session(s.token_hash);
    return error_response("journal_unavailable", "", "");
  }
  json reminders = json::array();
  if (remind)
    reminders.push_back(
        {{"code", "eds_password_change"}, {"message", messages::localized("eds_password_change")}});
  json answer = {{"token", token},
                 {"next", next},
                 {"reminders", reminders},
                 {"expires_at", time::format_astana(s.expires_at)},
                 {"user",
                  {{"iin", u.iin},
                   {"full_name", u.full_name},
                   {"user_type", u.user_type},
                   {"body_bin", u.body_bin}}}};
  add_export_reminders(u, now, answer);  // R-USE-2: local copies not yet confirmed destroyed
  http::Response resp = json_response(200, answer);
  // The portal keeps the token in a cookie the page's scripts cannot read.
  resp.headers.emplace_back("Set-Cookie", session_cookie(token, cfg_.session_ttl_seconds));
  return resp;
}

// The caller behind the bearer token, at the stage asked for. Errors: "unauthenticated" (no,
// unknown, ended, expired or idle session), "second_factor_required" (needs_full and only EDS
// done), "user_blocked", "store_unavailable".
Result<Caller> GatewayImpl::authenticate(const http::Request& req, time::Instant now,
                                         bool needs_full) {
  std::string token = bearer_or_cookie(req);
  if (token.empty()) return Error{"unauthenticated", "missing bearer token or session cookie"};
  // A cookie travels with any request the browser makes: cross-site forms cannot send JSON
  // without a CORS preflight, so cookie-authenticated writes must be application/json.
  if (req.header("authorization").empty() && req.method != "GET" &&
      req.header("content-type").rfind("application/json", 0) != 0)
    return Error{"csrf_refused", ""};
  std::string hash = pki::sha256_hex(token);
  // The stamp is read before the rows: a change committing in between leaves a newer row under
  // an older stamp, which the next request's stamp no longer matches.
  auto stamp = store_->change_stamp();
  if (!stamp) return stamp.error();
  Result<std::optional<store::Session>> s = std::optional<store::Session>();
  Result<std::optional<store::User>> u = std::optional<store::User>();
  if (auto cached = session_cache_.get(hash, *stamp)) {
    s = std::optional<store::Session>(std::move(cached->session));
    u = std::optional<store::User>(std::move(cached->user));
  } else {
    s = store_->find_session(hash);
    if (!s) return s.error();
    if (*s) {
      u = store_->find_user((*s)->iin);
      if (!u) return u.error();
      if (*u) session_cache_.put(hash, {**s, **u, std::nullopt, *stamp});
    }
  }
  if (!*s || (*s)->revoked || (*s)->expires_at < now)
    return Error{"unauthenticated", "session unknown, ended or expired"};
  auto idle = std::chrono::seconds(cfg_.session_idle_seconds);
  if ((*s)->last_seen + idle < now) {
    // Writes go to a worker: this may run on an I/O thread (data requests), and the answer
    // does not depend on them (the idle check refuses the session either way).
    rt_->post_blocking([this, hash] { (void)store_->revoke_session(hash); });
    return Error{"unauthenticated", "session locked after inactivity: enter again"};
  }
  // Refreshed coarsely (a write per request would cost a sync for nothing), but well within the
  // idle limit so an active session is never taken for an idle one.
  auto step = std::min<std::chrono::seconds>(std::chrono::seconds(60), idle / 4);
  if (now - (*s)->last_seen > step)
    rt_->post_blocking([this, hash, now] { (void)store_->touch_session(hash, now); });
  if (!*u) return Error{"unauthenticated", "session of an unknown user"};
  if ((*u)->status != "active") return Error{"user_blocked", ""};
  if (needs_full && (*s)->stage != "full")
    return Error{"second_factor_required", "complete the second factor first"};
  return Caller{**u, **s, *stamp};
}

Result<bool> GatewayImpl::agreement_signed_for(const Caller& c) {
  if (auto e = session_cache_.get(c.session.token_hash, c.stamp); e && e->agreed) return *e->agreed;
  auto a = agreement_signed(c.user.iin);
  if (a) session_cache_.set_agreed(c.session.token_hash, c.stamp, *a);
  return a;
}

std::optional<SessionCache::Entry> SessionCache::get(const std::string& hash, uint64_t stamp) {
  Shard& sh = shard(hash);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.map.find(hash);
  if (it == sh.map.end() || it->second.stamp != stamp) return std::nullopt;
  return it->second;
}

void SessionCache::put(const std::string& hash, Entry e) {
  Shard& sh = shard(hash);
  std::lock_guard<std::mutex> l(sh.mu);
  if (sh.map.size() >= 4096) sh.map.clear();  // bounded; stale entries go with the rest
  sh.map[hash] = std::move(e);
}

void SessionCache::set_agreed(const std::string& hash, uint64_t stamp, bool agreed) {
  Shard& sh = shard(hash);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.map.find(hash);
  if (it != sh.map.end() && it->second.stamp == stamp) it->second.agreed = agreed;
}

json GatewayImpl::next_steps(const store::User& u, const store::Session& s) {
  json next = json::array();
  if (s.stage != "full") {
    auto creds = store_->credentials_of(u.iin);
    if (creds && !creds->empty()) next.push_back("webauthn");
    if (sms_allowed(u)) next.push_back("sms");
  }
  auto signed_ = agreement_signed(u.iin);
  if (!signed_ || !*signed_) next.push_back("agreement");
  return next;
}

Result<bool> GatewayImpl::agreement_signed(const std::string& iin) {
  auto a = store_->find_agreement(iin, agreement_["version"].get<std::string>());
  if (!a) return a.error();
  return a->has_value();
}

bool GatewayImpl::sms_allowed(const store::User& u) const {
  if (!cfg_.sms_enabled) return false;
  for (const auto& bin : cfg_.sms_disabled_bodies)
    if (bin == u.body_bin) return false;
  return true;
}

std::mutex& GatewayImpl::factor_lock(const std::string& iin) {
  return factor_locks_[std::hash<std::string>{}(iin) % factor_locks_.size()];
}

Status GatewayImpl::check_lockout(const std::string& iin, time::Instant now) {
  auto window = std::chrono::seconds(cfg_.lockout_window_seconds);
  auto n = store_->count_auth_failures(iin, now - window);
  if (!n) return n.error();
  if (*n >= cfg_.lockout_threshold)
    return Error{"locked_out", std::to_string(*n) + " failed attempts in the last " +
                                   std::to_string(cfg_.lockout_window_seconds / 60) + " minutes"};
  return {};
}

Status GatewayImpl::record_failure(const std::string& iin, time::Instant now) {
  return store_->record_auth_failure(iin, now);
}

http::Response GatewayImpl::second_factor_done(const Caller& c, const std::string& method,
                                               const json& detail) {
  json rec = {{"iin", c.user.iin},
              {"method", method},
              {"outcome", "passed"},
              {"session", c.session.token_hash.substr(0, 16)},
              {"user", user_ref(c.user)}};
  if (!detail.is_null()) rec["detail"] = detail;
  // Logged before the session is promoted: an entry the log does not show never happened.
  if (auto w = journal_->append("entry_second_factor", rec); !w)
    return error_response("journal_unavailable", "", "");
  if (Status s = store_->set_session_stage(c.session.token_hash, "full"); !s)
    return error_response(s.error().code, "", s.error().detail);
  store::Session full = c.session;
  full.stage = "full";
  json answer = {{"status", "entered"}, {"next", next_steps(c.user, full)}};
  if (method == "sms") {  // SMS is the weaker factor: offer biometrics to those without them
    auto creds = store_->credentials_of(c.user.iin);
    if (creds && creds->empty())
      answer["offer"] = {{"code", "webauthn_enrolment_offer"},
                         {"message", messages::localized("webauthn_enrolment_offer")},
                         {"endpoint", "/api/v1/webauthn/register/options"}};
  }
  return json_response(200, answer);
}

// A failed second factor: counted for the lockout and logged.
http::Response GatewayImpl::second_factor_failed(const Caller& c, const std::string& method,
                                                 const Error& e) {
  auto now = time::now();
  // A failure that cannot be counted must not be free: refuse (fail closed).
  if (Status r = record_failure(c.user.iin, now); !r)
    return error_response("store_unavailable", "", r.error().detail);
  json rec = {{"iin", c.user.iin},
              {"method", method},
              {"outcome", "refused"},
              {"code", e.code},
              {"session", c.session.token_hash.substr(0, 16)},
              {"user", user_ref(c.user)}};
  if (!e.detail.empty()) rec["detail"] = e.detail;
  if (auto w = journal_->append("entry_second_factor", rec); !w)
    return error_response("journal_unavailable", "", "");
  if (Status l = check_lockout(c.user.iin, now); !l) {
    // Locked: this session is over too.
    (void)store_->revoke_session(c.session.token_hash);
    return error_response(l.error().code, "", l.error().detail);
  }
  return error_response(e.code, "", e.detail);
}

// A first-factor session, not locked out. Error as authenticate(), plus "locked_out".
Result<Caller> GatewayImpl::pending_caller(const http::Request& req, time::Instant now) {
  auto c = authenticate(req, now, false);
  if (!c) return c.error();
  if (c->session.stage == "full") return Error{"already_entered", ""};
  if (Status l = check_lockout(c->user.iin, now); !l) return l.error();
  return c;
}

http::Response GatewayImpl::sms_send(const http::Request& req) {
  auto now = time::now();
  auto c = pending_caller(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  if (!sms_allowed(c->user)) return error_response("sms_not_allowed", "", "");
  auto code = sms_codes_->issue(c->session.token_hash, now);
  if (!code) return error_response(code.error().code, "", code.error().detail);
  std::string text =
      "AAJ: кіру коды / код входа " + *code + ". Ешкімге айтпаңыз / никому не сообщайте.";
  if (auto w = journal_->append("sms_code_sent", {{"iin", c->user.iin},
                                                  {"to", auth::mask_phone(c->user.phone)},
                                                  {"session", c->session.token_hash.substr(0, 16)},
                                                  {"user", user_ref(c->user)}});
      !w)
    return error_response("journal_unavailable", "", "");
  if (Status s = sms_gateway_->send(c->user.phone, text); !s)
    return error_response("sms_unavailable", "", s.error().detail);
  return json_response(200, {{"sent_to", auth::mask_phone(c->user.phone)},
                             {"expires_in_seconds", cfg_.sms.code_ttl_seconds},
                             {"resend_after_seconds", cfg_.sms.resend_interval_seconds}});
}

http::Response GatewayImpl::sms_verify(const http::Request& req) {
  auto now = time::now();
  auto c = pending_caller(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  std::string code = string_field(parse_json(req.body), "code");
  if (code.empty())
    return error_response("malformed_request", "", "expected {\"code\": \"123456\"}");
  // Check, verify and count as one step per user: parallel guesses cannot outrun the lockout.
  std::lock_guard<std::mutex> one_at_a_time(factor_lock(c->user.iin));
  if (Status l = check_lockout(c->user.iin, now); !l)
    return error_response(l.error().code, "", l.error().detail);
  Status s = sms_codes_->verify(c->session.token_hash, code, now);
  if (!s) return second_factor_failed(*c, "sms", s.error());
  return second_factor_done(*c, "sms", nullptr);
}

http::Response GatewayImpl::agreement_text(const http::Request&) {
  return json_response(200, {{"version", agreement_["version"]},
                             {"verified", agreement_.value("verified", false)},
                             {"source", agreement_.value("source", "")},
                             {"title", agreement_["title"]},
                             {"clauses", agreement_["clauses"]},
                             {"text_sha256", agreement_sha256_},
                             {"sign",
                              {{"agreement", agreement_["version"]},
                               {"text_sha256", agreement_sha256_},
                               {"iin", "<your IIN>"},
                               {"signed_at", "<now, ISO 8601 with offset>"}}}});
}

// The user signs {"agreement","text_sha256","iin","signed_at"} with the signing key (R-AUTH-2).
http::Response GatewayImpl::agreement_sign(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  json body = parse_json(req.body);
  auto signed_doc = signed_document(body.is_object() ? body.value("cms", json()) : json(), now);
  if (!signed_doc) return error_response(signed_doc.error().code, "", signed_doc.error().detail);
  const pki::VerifyResult& v = signed_doc->verified;
  if (Status a = signer_acts_for(v.signer, c->user); !a)
    return error_response(a.error().code, "", a.error().detail);
  const json& doc = signed_doc->content;
  if (string_field(doc, "agreement") != agreement_["version"].get<std::string>() ||
      string_field(doc, "text_sha256") != agreement_sha256_ ||
      string_field(doc, "iin") != c->user.iin)
    return error_response("agreement_mismatch", "",
                          "sign the current version, its text_sha256 and your IIN");
  if (Status f = check_signed_at(string_field(doc, "signed_at"), now, skew()); !f)
    return error_response(f.error().code, "", f.error().detail);
  store::Agreement a{c->user.iin, agreement_["version"].get<std::string>(), agreement_sha256_,
                     pki::base64_encode(signed_doc->der), now};
  auto w = journal_->append("agreement_signed", {{"iin", a.iin},
                                                 {"version", a.version},
                                                 {"text_sha256", a.text_sha256},
                                                 {"cms", a.cms_base64},
                                                 {"signer", signer_json(v.signer)},
                                                 {"user", user_ref(c->user)}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->add_agreement(a); !s && s.error().code != "agreement_exists")
    return error_response(s.error().code, "", s.error().detail);
  return json_response(200, {{"status", "signed"},
                             {"version", a.version},
                             {"signed_at", w->at_astana},
                             {"next", next_steps(c->user, c->session)}});
}

http::Response GatewayImpl::sessions(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);  // EDS alone may only finish entering
  if (!c) return error_response(c.error().code, "", c.error().detail);
  auto all = store_->sessions_of(c->user.iin);
  if (!all) return error_response(all.error().code, "", all.error().detail);
  json out = json::array();
  for (const auto& s : *all) {
    if (s.revoked || s.expires_at < now) continue;
    out.push_back({{"id", s.token_hash.substr(0, 16)},
                   {"stage", s.stage},
                   {"created_at", time::format_astana(s.created_at)},
                   {"last_seen", time::format_astana(s.last_seen)},
                   {"expires_at", time::format_astana(s.expires_at)},
                   {"current", s.token_hash == c->session.token_hash}});
  }
  return json_response(200, {{"sessions", out}});
}

// Ends one of the caller's sessions, named by its id (the first 16 hex digits of its hash).
http::Response GatewayImpl::end_session(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);  // EDS alone may only finish entering
  if (!c) return error_response(c.error().code, "", c.error().detail);
  std::string id = string_field(parse_json(req.body), "id");
  if (id.size() != 16) return error_response("malformed_request", "", "expected {\"id\"}");
  auto all = store_->sessions_of(c->user.iin);
  if (!all) return error_response(all.error().code, "", all.error().detail);
  for (const auto& s : *all) {
    if (s.token_hash.compare(0, 16, id) != 0) continue;
    if (auto w = journal_->append("session_ended", {{"iin", c->user.iin},
                                                    {"session", id},
                                                    {"by", c->session.token_hash.substr(0, 16)},
                                                    {"user", user_ref(c->user)}});
        !w)
      return error_response("journal_unavailable", "", "");
    if (Status st = store_->revoke_session(s.token_hash); !st)
      return error_response(st.error().code, "", st.error().detail);
    return json_response(200, {{"status", "ended"}});
  }
  return error_response("not_found", "", "no such session of yours");
}

// Ends the session behind the bearer token; logged. 401 for an unknown or ended session.
http::Response GatewayImpl::logout(const http::Request& req) {
  auto c = authenticate(req, time::now(), false);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  if (auto w = journal_->append("logout", {{"iin", c->user.iin},
                                           {"session", c->session.token_hash.substr(0, 16)},
                                           {"remote", req.remote},
                                           {"user", user_ref(c->user)}});
      !w)
    return error_response("journal_unavailable", "", "");
  if (Status s = store_->revoke_session(c->session.token_hash); !s)
    return error_response("store_unavailable", "", s.error().detail);
  http::Response resp = json_response(200, {{"status", "ended"}});
  resp.headers.emplace_back("Set-Cookie", session_cookie("", 0));
  return resp;
}

http::Response GatewayImpl::me(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, false);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  json answer = {{"iin", c->user.iin},
                 {"full_name", c->user.full_name},
                 {"user_type", c->user.user_type},
                 {"body_bin", c->user.body_bin},
                 {"status", c->user.status},
                 {"stage", c->session.stage},
                 {"next", next_steps(c->user, c->session)}};
  add_export_reminders(c->user, now, answer);  // R-USE-2
  return json_response(200, answer);
}

}  // namespace aaj::app::detail
