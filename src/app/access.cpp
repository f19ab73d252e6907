// The access lifecycle (R-ACC, R-CTRL-3/4): electronic applications signed by the applicant,
// automatic checks on arrival, the operator's queue with the one-day deadline, registration or a
// refusal signed with the operator's EDS, blocking at once, and the departmental controller's
// measures within their own body. Staff act through full sessions like everyone else.
#include "app/gateway_impl.h"
#include "core/ids.h"
#include "core/json_limits.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace {

std::string str(const json& j, const char* key) {
  return string_field(j, key);
}

json check(const char* name, bool ok, const std::string& detail = "") {
  json c = {{"check", name}, {"ok", ok}};
  if (!detail.empty()) c["detail"] = detail;
  return c;
}

}  // namespace

Result<Caller> GatewayImpl::staff(const http::Request& req, const std::string& role,
                                  std::string* body_bin) {
  auto c = authenticate(req, time::now(), true);
  if (!c) return c.error();
  auto roles = store_->staff_roles_of(c->user.iin);
  if (!roles) return roles.error();
  for (const auto& r : *roles)
    if (r.role == role) {
      if (body_bin) *body_bin = r.body_bin;
      return c;
    }
  return Error{"not_staff", "this action needs the " + role + " role"};
}

// Unauthenticated callers get the error; authenticated ones without the role are logged.
http::Response GatewayImpl::refusal_or_error(const http::Request& req, const Error& e) {
  if (e.code != "not_staff") return error_response(e.code, "", e.detail);
  return staff_refusal(req, "", e);
}

// A submission refused on arrival: logged with who signed it, then answered.
http::Response GatewayImpl::refused_on_arrival(const http::Request& req, const pki::VerifyResult& v,
                                               const std::string& code, const std::string& detail) {
  if (auto w =
          journal_->append("application_refused_on_arrival", {{"signer", signer_json(v.signer)},
                                                              {"code", code},
                                                              {"detail", detail},
                                                              {"remote", req.remote}});
      !w)
    return error_response("journal_unavailable", "", "");
  return error_response(code, "", detail);
}

// A staff action refused (role, scope, separation of duties): logged, then answered.
http::Response GatewayImpl::staff_refusal(const http::Request& req, const std::string& iin,
                                          const Error& e) {
  if (auto w = journal_->append("staff_action_refused", {{"path", req.path},
                                                         {"iin", iin},
                                                         {"code", e.code},
                                                         {"detail", e.detail},
                                                         {"remote", req.remote}});
      !w)
    return error_response("journal_unavailable", "", "");
  return error_response(e.code, "", e.detail);
}

// POST /api/v1/applications {"cms"}: the application document, signed by the applicant.
http::Response GatewayImpl::submit_application(const http::Request& req) {
  auto now = time::now();
  json body = parse_json(req.body);
  auto signed_doc = signed_document(body.is_object() ? body.value("cms", json()) : json(), now);
  if (!signed_doc) return error_response(signed_doc.error().code, "", signed_doc.error().detail);
  const pki::VerifyResult& v = signed_doc->verified;
  const std::string& der = signed_doc->der;
  const json& doc = signed_doc->content;
  if (!doc.is_object())
    return refused_on_arrival(req, v, "invalid_document", "the application must be a JSON object");
  // A signed application is fresh or refused: a captured one cannot be filed again later.
  if (Status f = check_signed_at(str(doc, "signed_at"), now, skew()); !f)
    return refused_on_arrival(req, v, f.error().code, f.error().detail);
  std::string kind = str(doc, "kind"), iin = str(doc, "iin");
  if (kind != "new" && kind != "transfer" && kind != "block")
    return refused_on_arrival(req, v, "invalid_document", "kind must be new, transfer or block");
  if (iin.empty()) return refused_on_arrival(req, v, "invalid_document", "iin is required");

  json checks = json::array();
  checks.push_back(check("signature", true, "signed by IIN " + v.signer.iin));
  std::string body_bin = str(doc, "body_bin");
  auto existing = store_->find_user(iin);
  if (!existing) return error_response(existing.error().code, "", existing.error().detail);

  if (kind == "block") {
    // An application to block: from the user, or from a controller of the user's body.
    if (!*existing) return refused_on_arrival(req, v, "user_unknown", iin);
    body_bin = (*existing)->body_bin;
    bool self = v.signer.iin == iin;
    bool controller = false;
    auto signer = store_->find_user(v.signer.iin);  // a blocked controller controls nothing
    if (signer && *signer && (*signer)->status == "active")
      if (auto roles = store_->staff_roles_of(v.signer.iin))
        for (const auto& r : *roles) controller |= r.role == "controller" && r.body_bin == body_bin;
    if (!self && !controller)
      return refused_on_arrival(req, v, "out_of_scope", "not an active controller of that body");
    if (str(doc, "reason").size() < 3)
      return refused_on_arrival(req, v, "invalid_document", "reason is required");
    checks.push_back(check("applicant_may_ask", true, self ? "the user" : "a controller"));
  } else {
    if (v.signer.iin != iin)
      return refused_on_arrival(req, v, "signer_mismatch", "the applicant signs their application");
    for (const char* f : {"full_name", "body_bin", "user_type", "phone", "post"})
      if (str(doc, f).empty())
        return refused_on_arrival(req, v, "invalid_document", std::string(f) + " is required");
    checks.push_back(check("iin_valid", ids::parse_iin(iin).has_value()));
    checks.push_back(
        check("organisation_bin", v.signer.bin.empty() || v.signer.bin == body_bin,
              v.signer.bin.empty() ? "individual certificate" : "certificate BIN " + v.signer.bin));
    auto body_row = store_->find_body(body_bin);
    checks.push_back(check("body_known", body_row && body_row->has_value(), body_bin));
    std::string user_type = str(doc, "user_type");
    checks.push_back(check("user_type_known", policy_->is_user_type(user_type), user_type));
    std::string bad_grounds;
    if (doc.contains("grounds") && doc["grounds"].is_array())
      for (const auto& g : doc["grounds"])
        if (!g.is_string() ||
            !policy_->decide(user_type, g.get<std::string>(), "", time::astana_day(now)).allow)
          bad_grounds += (g.is_string() ? g.get<std::string>() : "?") + " ";
    checks.push_back(check("grounds_allowed_for_user_type", bad_grounds.empty(), bad_grounds));
    checks.push_back(check("phone", ids::is_kz_phone(str(doc, "phone"))));
    if (kind == "new") {
      checks.push_back(check("no_existing_account", !*existing));
    } else {
      checks.push_back(check("account_exists", existing->has_value()));
      // R-ACC-3: within 24 hours of the transfer order's signing.
      auto order_signed = time::parse_iso8601(doc.contains("order") ? str(doc["order"], "signed_at")
                                                                    : std::string());
      if (!order_signed) {
        checks.push_back(check("within_24h_of_order", false, "order.signed_at missing"));
      } else {
        auto hours =
            std::chrono::duration_cast<std::chrono::minutes>(now - *order_signed).count() / 60.0;
        checks.push_back(
            check("within_24h_of_order",
                  *order_signed <= now && now - *order_signed <= std::chrono::hours(24),
                  std::to_string(static_cast<int>(hours)) + " h after the order"));
      }
    }
  }

  store::Application a;
  a.id = uuid_v7();
  a.kind = kind;
  a.iin = iin;
  a.applicant = v.signer.iin;
  a.body_bin = body_bin;
  a.data = doc.dump();
  a.cms_base64 = pki::base64_encode(der);
  a.checks = checks.dump();
  a.received_at = now;
  a.due_at = now + std::chrono::seconds(cfg_.application_deadline_seconds);
  auto w =
      journal_->append("application_received", {{"application_id", a.id},
                                                {"kind", kind},
                                                {"iin", iin},
                                                {"applicant", a.applicant},
                                                {"body_bin", body_bin},
                                                {"user", {{"iin", iin}, {"body_bin", body_bin}}},
                                                {"cms", a.cms_base64},
                                                {"checks", checks}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->add_application(a); !s)
    return error_response(s.error().code, "", s.error().detail);
  return json_response(201, {{"application_id", a.id},
                             {"status", a.status},
                             {"received_at", time::format_astana(a.received_at)},
                             {"due_at", time::format_astana(a.due_at)},
                             {"checks", checks}});
}

json GatewayImpl::application_json(const store::Application& a, time::Instant now) const {
  json doc = json::parse(a.data, nullptr, false);
  json j = {{"id", a.id},
            {"kind", a.kind},
            {"iin", a.iin},
            {"applicant", a.applicant},
            {"body_bin", a.body_bin},
            {"document", doc},
            {"checks", json::parse(a.checks, nullptr, false)},
            {"status", a.status},
            {"received_at", time::format_astana(a.received_at)},
            {"due_at", time::format_astana(a.due_at)}};
  if (a.status == "submitted") {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(a.due_at - now).count();
    j["time_left_seconds"] = left;
    j["overdue"] = a.due_at < now;  // not `left < 0`: a second's fraction must count
  } else {
    j["decided_at"] = time::format_astana(a.decided_at);
    j["decided_by"] = a.decided_by;
    j["overdue"] = a.decided_at > a.due_at;  // decided late stays visible
    if (!a.reason.empty()) j["reason"] = a.reason;
    if (!a.decision_cms_base64.empty()) j["decision_cms"] = a.decision_cms_base64;
  }
  return j;
}

// POST /api/v1/applications/status {"id"}: the applicant follows their application (the id is
// unguessable); a refusal comes with the operator's signature, verifiable offline.
http::Response GatewayImpl::application_status(const http::Request& req) {
  json body = parse_json(req.body);
  auto a = store_->find_application(str(body, "id"));
  if (!a) return error_response(a.error().code, "", a.error().detail);
  if (!*a) return error_response("application_unknown", "", "");
  json j = application_json(**a, time::now());
  j.erase("document");
  j.erase("checks");
  return json_response(200, j);
}

// GET /api/v1/operator/applications: the queue, oldest first, with the time left (Astana time).
http::Response GatewayImpl::operator_queue(const http::Request& req) {
  auto c = staff(req, "operator", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  auto now = time::now();
  auto pending = store_->list_applications("submitted");
  if (!pending) return error_response(pending.error().code, "", pending.error().detail);
  json list = json::array();
  int overdue = 0;
  for (const auto& a : *pending) {
    json j = application_json(a, now);
    overdue += j["overdue"].get<bool>() ? 1 : 0;
    list.push_back(std::move(j));
  }
  return json_response(200, {{"pending", list.size()},
                             {"overdue", overdue},
                             {"now", time::format_astana(now)},
                             {"applications", list}});
}

// Loads a submitted application for a decision by `c`; nobody decides their own application.
Result<store::Application> GatewayImpl::application_for_decision(const Caller& c,
                                                                 const std::string& id) {
  auto a = store_->find_application(id);
  if (!a) return a.error();
  if (!*a) return Error{"application_unknown", id};
  if ((*a)->status != "submitted") return Error{"already_decided", (*a)->status};
  if ((*a)->iin == c.user.iin || (*a)->applicant == c.user.iin)
    return Error{"own_application", "another operator must decide it"};
  return **a;
}

http::Response GatewayImpl::operator_register(const http::Request& req) {
  auto c = staff(req, "operator", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  auto now = time::now();
  auto a = application_for_decision(*c, str(parse_json(req.body), "id"));
  if (!a) return staff_refusal(req, c->user.iin, a.error());
  json doc = parse_json(a->data);
  a->status = "registered";
  a->decided_at = now;
  a->decided_by = c->user.iin;
  auto w = journal_->append("application_registered",
                            {{"application_id", a->id},
                             {"kind", a->kind},
                             {"iin", a->iin},
                             {"operator", c->user.iin},
                             {"user", {{"iin", a->iin}, {"body_bin", a->body_bin}}},
                             {"overdue", now > a->due_at}});
  if (!w) return error_response("journal_unavailable", "", "");
  // The effect first, then the decision: a failed effect leaves the application submitted
  // (it can be decided again), never "registered" with the user untouched.
  Status effect;
  if (a->kind == "new") {
    effect = store_->add_user({a->iin, str(doc, "user_type"), a->body_bin, str(doc, "full_name"),
                               str(doc, "phone"), "active", now, now});
  } else if (a->kind == "transfer") {
    effect = store_->update_user_post(a->iin, str(doc, "user_type"), a->body_bin);
    if (effect) effect = store_->revoke_sessions_of(a->iin);  // rights changed: enter again
  } else {
    effect = store_->set_user_status(a->iin, "blocked");
    if (effect) effect = store_->revoke_sessions_of(a->iin);
  }
  if (!effect) return error_response(effect.error().code, "", effect.error().detail);
  if (Status s = store_->decide_application(*a); !s)
    return error_response(s.error().code, "", s.error().detail);
  return json_response(200, application_json(*a, now));
}

// The refusal is signed with the operator's EDS (R-ACC-2) over
// {"application_id","decision":"refused","reason","signed_at"}; the CMS is kept with it.
http::Response GatewayImpl::operator_refuse(const http::Request& req) {
  auto c = staff(req, "operator", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  auto now = time::now();
  json body = parse_json(req.body);
  auto a = application_for_decision(*c, str(body, "id"));
  if (!a) return staff_refusal(req, c->user.iin, a.error());
  auto signed_doc = signed_document(body.is_object() ? body.value("cms", json()) : json(), now);
  if (!signed_doc) return error_response(signed_doc.error().code, "", signed_doc.error().detail);
  if (Status s = signer_acts_for(signed_doc->verified.signer, c->user); !s)
    return staff_refusal(req, c->user.iin, s.error());
  const json& decision = signed_doc->content;
  if (str(decision, "application_id") != a->id || str(decision, "decision") != "refused" ||
      str(decision, "reason").size() < 3)
    return error_response("invalid_document", "",
                          "sign {application_id, decision: refused, reason, signed_at}");
  if (Status f = check_signed_at(str(decision, "signed_at"), now, skew()); !f)
    return error_response(f.error().code, "", f.error().detail);
  a->status = "refused";
  a->decided_at = now;
  a->decided_by = c->user.iin;
  a->reason = str(decision, "reason");
  a->decision_cms_base64 = pki::base64_encode(signed_doc->der);
  auto w = journal_->append("application_refused",
                            {{"application_id", a->id},
                             {"iin", a->iin},
                             {"operator", c->user.iin},
                             {"reason", a->reason},
                             {"cms", a->decision_cms_base64},
                             {"user", {{"iin", a->iin}, {"body_bin", a->body_bin}}},
                             {"overdue", now > a->due_at}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->decide_application(*a); !s)
    return error_response(s.error().code, "", s.error().detail);
  return json_response(200, application_json(*a, now));
}

// Blocks or unblocks at once (operator: any user; controller: users of their own body).
http::Response GatewayImpl::set_status_by(const http::Request& req, const std::string& role,
                                          const std::string& status) {
  std::string scope;
  auto c = staff(req, role, &scope);  // (the scope of a controller)
  if (!c) return refusal_or_error(req, c.error());
  json body = parse_json(req.body);
  std::string iin = str(body, "iin"), reason = str(body, "reason");
  if (reason.size() < 3) return error_response("malformed_request", "", "reason is required");
  auto u = store_->find_user(iin);
  if (!u) return error_response(u.error().code, "", u.error().detail);
  if (!*u) return error_response("user_unknown", "", iin);
  if (role == "controller" && (*u)->body_bin != scope)
    return staff_refusal(req, c->user.iin,
                         {"out_of_scope", "a controller acts on their own body's users"});
  if (iin == c->user.iin)
    return staff_refusal(req, c->user.iin, {"own_application", "not on yourself"});
  auto w = journal_->append(status == "blocked" ? "user_blocked" : "user_unblocked",
                            {{"iin", iin},
                             {"by", c->user.iin},
                             {"role", role},
                             {"reason", reason},
                             {"measure", str(body, "measure")},
                             {"user", user_ref(**u)}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->set_user_status(iin, status); !s)
    return error_response(s.error().code, "", s.error().detail);
  if (status == "blocked") {
    if (Status s = store_->revoke_sessions_of(iin); !s)
      return error_response(s.error().code, "", s.error().detail);
  } else if (Status s = store_->record_entry(iin, time::now(), false); !s) {
    // Re-enabled: the inactivity clock starts again, or the next entry would disable it anew.
    return error_response(s.error().code, "", s.error().detail);
  }
  return json_response(200, {{"iin", iin}, {"status", status}, {"logged_at", w->at_astana}});
}

// Edits a user's contact details at once (R-ACC-5), with a reason; logged.
http::Response GatewayImpl::operator_edit(const http::Request& req) {
  auto c = staff(req, "operator", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  json body = parse_json(req.body);
  std::string iin = str(body, "iin"), name = str(body, "full_name"), phone = str(body, "phone");
  if (str(body, "reason").size() < 3)
    return error_response("malformed_request", "", "reason is required");
  if (!phone.empty() && !ids::is_kz_phone(phone))
    return error_response("malformed_request", "", "phone must be +7 followed by 10 digits");
  if (name.empty() && phone.empty())
    return error_response("malformed_request", "", "nothing to edit (full_name, phone)");
  if (iin == c->user.iin)
    return staff_refusal(req, c->user.iin, {"own_application", "not on yourself"});
  json rec = {{"iin", iin},
              {"by", c->user.iin},
              {"reason", str(body, "reason")},
              {"full_name", name},
              {"phone", phone}};
  if (auto u = store_->find_user(iin); u && *u) rec["user"] = user_ref(**u);
  auto w = journal_->append("user_edited", std::move(rec));
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->edit_user(iin, name, phone); !s)
    return error_response(s.error().code, "", s.error().detail);
  return json_response(200, {{"iin", iin}, {"status", "edited"}, {"logged_at", w->at_astana}});
}

http::Response GatewayImpl::operator_block(const http::Request& req) {
  return set_status_by(req, "operator", "blocked");
}
http::Response GatewayImpl::operator_unblock(const http::Request& req) {
  return set_status_by(req, "operator", "active");
}
http::Response GatewayImpl::controller_block(const http::Request& req) {
  return set_status_by(req, "controller", "blocked");
}

}  // namespace aaj::app::detail
