// Biometrics as the second factor (R-AUTH-1): WebAuthn platform authenticators (fingerprint,
// Face ID). Enrolment needs a full session (the first entry uses the SMS code); afterwards the
// authenticator is offered as the second factor. Verification is in src/auth/webauthn.
#include "app/gateway_impl.h"
#include "auth/webauthn.h"
#include "core/json_limits.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace wa = auth::webauthn;

namespace {

// Reads base64url fields of a JSON body; nullopt names the first missing or malformed one.
std::optional<std::string> b64url_field(const json& body, const char* key, std::string& out) {
  if (!body.is_object() || !body.contains(key) || !body[key].is_string()) return key;
  auto d = wa::base64url_decode(body[key].get<std::string>());
  if (!d) return key;
  out = std::move(*d);
  return std::nullopt;
}

}  // namespace

wa::RelyingParty GatewayImpl::relying_party() const {
  return {cfg_.webauthn_rp_id, cfg_.webauthn_origins};
}

std::string GatewayImpl::new_webauthn_challenge(const std::string& session, time::Instant now) {
  std::string c = auth::random_bytes(32);
  std::lock_guard<std::mutex> l(webauthn_mu_);
  if (webauthn_challenges_.size() > 100000)  // sessions that never answered
    for (auto it = webauthn_challenges_.begin(); it != webauthn_challenges_.end();)
      it = it->second.second < now ? webauthn_challenges_.erase(it) : std::next(it);
  webauthn_challenges_[session] = {c, now + std::chrono::seconds(cfg_.challenge_ttl_seconds)};
  return c;
}

std::optional<std::string> GatewayImpl::take_webauthn_challenge(const std::string& session,
                                                                time::Instant now) {
  std::lock_guard<std::mutex> l(webauthn_mu_);
  auto it = webauthn_challenges_.find(session);
  if (it == webauthn_challenges_.end()) return std::nullopt;
  auto [c, expires] = it->second;
  webauthn_challenges_.erase(it);  // one use
  if (expires < now) return std::nullopt;
  return c;
}

http::Response GatewayImpl::webauthn_register_options(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  auto creds = store_->credentials_of(c->user.iin);
  if (!creds) return error_response(creds.error().code, "", creds.error().detail);
  json exclude = json::array();
  for (const auto& k : *creds) exclude.push_back({{"type", "public-key"}, {"id", k.id}});
  std::string challenge = new_webauthn_challenge(c->session.token_hash, now);
  return json_response(
      200, {{"challenge", wa::base64url_encode(challenge)},
            {"rp", {{"id", cfg_.webauthn_rp_id}, {"name", "ҚАО ААЖ"}}},
            {"user",
             {{"id", wa::base64url_encode(c->user.iin)},
              {"name", c->user.iin},
              {"displayName", c->user.full_name}}},
            {"pubKeyCredParams",
             {{{"type", "public-key"}, {"alg", -7}}, {{"type", "public-key"}, {"alg", -257}}}},
            {"authenticatorSelection",
             {{"authenticatorAttachment", "platform"},
              {"userVerification", cfg_.webauthn_require_uv ? "required" : "preferred"},
              {"residentKey", "preferred"}}},
            {"excludeCredentials", exclude},
            {"attestation", "none"},
            {"timeout", cfg_.challenge_ttl_seconds * 1000}});
}

http::Response GatewayImpl::webauthn_register(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  json body = parse_json(req.body);
  std::string client_data, attestation;
  if (auto bad = b64url_field(body, "clientDataJSON", client_data))
    return error_response("malformed_request", "", *bad + " must be base64url");
  if (auto bad = b64url_field(body, "attestationObject", attestation))
    return error_response("malformed_request", "", *bad + " must be base64url");
  auto challenge = take_webauthn_challenge(c->session.token_hash, now);
  if (!challenge) return error_response("challenge_unknown", "", "ask for registration options");
  auto cred = wa::verify_registration(relying_party(), *challenge, client_data, attestation,
                                      cfg_.webauthn_require_uv);
  if (!cred) return error_response("webauthn_failed", "", cred.error().code);
  store::WebAuthnCredential row{wa::base64url_encode(cred->id),
                                c->user.iin,
                                pki::base64_encode(cred->public_key_der),
                                cred->alg,
                                cred->sign_count,
                                now,
                                cred->backup_eligible};
  auto w = journal_->append("webauthn_enrolled", {{"iin", c->user.iin},
                                                  {"credential_id", row.id},
                                                  {"alg", row.alg},
                                                  {"aaguid", cred->aaguid_hex},
                                                  {"user", user_ref(c->user)}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->add_credential(row); !s)
    return error_response(s.error().code, "", s.error().detail);
  return json_response(200, {{"status", "enrolled"}, {"credential_id", row.id}});
}

http::Response GatewayImpl::webauthn_options(const http::Request& req) {
  auto now = time::now();
  auto c = pending_caller(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  auto creds = store_->credentials_of(c->user.iin);
  if (!creds) return error_response(creds.error().code, "", creds.error().detail);
  if (creds->empty()) return error_response("webauthn_failed", "", "no authenticator enrolled");
  json allow = json::array();
  for (const auto& k : *creds) allow.push_back({{"type", "public-key"}, {"id", k.id}});
  std::string challenge = new_webauthn_challenge(c->session.token_hash, now);
  return json_response(200,
                       {{"challenge", wa::base64url_encode(challenge)},
                        {"rpId", cfg_.webauthn_rp_id},
                        {"allowCredentials", allow},
                        {"userVerification", cfg_.webauthn_require_uv ? "required" : "preferred"},
                        {"timeout", cfg_.challenge_ttl_seconds * 1000}});
}

http::Response GatewayImpl::webauthn_verify(const http::Request& req) {
  auto now = time::now();
  auto c = pending_caller(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  json body = parse_json(req.body);
  std::string id, client_data, auth_data, signature;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"credentialId", &id},
                          {"clientDataJSON", &client_data},
                          {"authenticatorData", &auth_data},
                          {"signature", &signature}})
    if (auto bad = b64url_field(body, key, *out))
      return error_response("malformed_request", "", *bad + " must be base64url");
  auto challenge = take_webauthn_challenge(c->session.token_hash, now);
  if (!challenge) return error_response("challenge_unknown", "", "ask for options first");
  // As for SMS: check, verify and count as one step per user.
  std::lock_guard<std::mutex> one_at_a_time(factor_lock(c->user.iin));
  if (Status l = check_lockout(c->user.iin, now); !l)
    return error_response(l.error().code, "", l.error().detail);
  auto creds = store_->credentials_of(c->user.iin);
  if (!creds) return error_response(creds.error().code, "", creds.error().detail);
  std::string id_text = wa::base64url_encode(id);
  for (const auto& k : *creds) {
    if (k.id != id_text) continue;
    auto key = pki::base64_decode(k.public_key_der);
    if (!key) return error_response("internal_error", "", "stored key unreadable");
    wa::Credential cred{
        id, *key, k.alg, static_cast<uint32_t>(k.sign_count), "", k.backup_eligible};
    auto r = wa::verify_assertion(relying_party(), *challenge, cred, client_data, auth_data,
                                  signature, cfg_.webauthn_require_uv);
    if (!r) return second_factor_failed(*c, "webauthn", {"webauthn_failed", r.error().code});
    if (Status s = store_->set_sign_count(k.id, r->sign_count); !s) {
      if (s.error().code == "counter_regression")  // a concurrent login got there first
        return second_factor_failed(*c, "webauthn", {"webauthn_failed", "counter_regression"});
      return error_response(s.error().code, "", s.error().detail);
    }
    return second_factor_done(*c, "webauthn", {{"credential_id", k.id}});
  }
  return second_factor_failed(*c, "webauthn", {"webauthn_failed", "unknown credential"});
}

}  // namespace aaj::app::detail
