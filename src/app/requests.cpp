// The data request pipeline: a signed request from a signed-in officer (POST /api/v1/requests)
// or from a system client on behalf of a judge (POST /api/v1/system/requests), checked against
// the regulation, answered by one or several sources, and logged before it is answered.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <set>

#include "app/gateway_impl.h"
#include "core/grounds.h"
#include "core/ids.h"
#include "core/json_limits.h"
#include "core/json_scan.h"
#include "core/messages.h"
#include "core/time.h"
#include "journal/journal.h"
#include "pki/cert_verify.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace {

// Most resources one request may ask at once (a search across the person's records, not a
// bulk export).
constexpr size_t kMaxResourcesPerRequest = 8;

// Validates the subject key against the keys the resource can be searched by. Key values are
// strings, except name_birth_date: {"surname","name","patronymic"?,"birth_date"}.
Status check_subject(const json& subject, const policy::ResourceInfo& res) {
  if (!subject.is_object() || subject.size() != 1)
    return Error{"invalid_subject", "subject must be an object with exactly one key"};
  const auto& [key, value] = *subject.items().begin();
  bool known = false;
  for (const auto& k : res.keys) known = known || k == key;
  if (!known) return Error{"invalid_subject", res.id + " cannot be searched by " + key};
  if (key == "name_birth_date") {
    if (!value.is_object())
      return Error{"invalid_subject", "subject.name_birth_date must be an object"};
    for (const auto& [k, v] : value.items()) {
      if (k != "surname" && k != "name" && k != "patronymic" && k != "birth_date")
        return Error{"invalid_subject", "subject.name_birth_date has an unknown member " + k};
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 128)
        return Error{"invalid_subject", "subject.name_birth_date." + k + " must be 1-128 chars"};
    }
    for (const char* k : {"surname", "name", "birth_date"})
      if (!value.contains(k))
        return Error{"invalid_subject",
                     std::string("subject.name_birth_date.") + k + " is required"};
    if (!time::parse_date(value["birth_date"].get<std::string>()))
      return Error{"invalid_subject", "subject.name_birth_date.birth_date must be YYYY-MM-DD"};
    return {};
  }
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

json policy_json(const policy::Decision& d) {
  return {{"version", d.version},
          {"rule", d.rule},
          {"access", policy::to_string(d.access)},
          {"verified", d.verified}};
}

// The resources a document asks for: "resource": "R01", or "resources": ["R01", "R05", …]
// (1..8, no repeats). Exactly one of the two.
Result<std::vector<std::string>> requested_resources(const json& doc) {
  bool one = doc.contains("resource"), many = doc.contains("resources");
  if (one == many)
    return Error{"invalid_document", "name either resource (a string) or resources (an array)"};
  if (one) {
    if (!doc["resource"].is_string())
      return Error{"invalid_document", "resource is required (a string)"};
    return std::vector<std::string>{doc["resource"].get<std::string>()};
  }
  const json& list = doc["resources"];
  if (!list.is_array() || list.empty() || list.size() > kMaxResourcesPerRequest)
    return Error{"invalid_document", "resources must list 1-" +
                                         std::to_string(kMaxResourcesPerRequest) + " resource ids"};
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& r : list) {
    if (!r.is_string()) return Error{"invalid_document", "resources must be strings"};
    if (!seen.insert(r.get<std::string>()).second)
      return Error{"invalid_document", "resources repeats " + r.get<std::string>()};
    out.push_back(r.get<std::string>());
  }
  return out;
}

// The base64 CMS of a request body {"cms": "…"}, read without building a JSON tree (the body is
// one long string; a tree would copy it twice). Errors: "malformed_request".
Result<std::string> cms_member(std::string_view body) {
  auto members = json_scan::object_members(body);
  const json_scan::Member* cms = members ? json_scan::find(*members, "cms") : nullptr;
  if (!cms || cms->value.empty() || cms->value.front() != '"')
    return Error{"malformed_request", "expected {\"cms\": base64 DER CMS}"};
  auto v = json_scan::string_value(cms->value);
  if (!v) return Error{"malformed_request", "expected {\"cms\": base64 DER CMS}"};
  return std::move(*v);
}

// Appends `prefix` and `value` as a JSON string (escaped as nlohmann dumps it). False when
// `value` is not valid UTF-8.
bool append_member(std::string& out, std::string_view prefix, std::string_view value) {
  out += prefix;
  return json_scan::append_string(out, value);
}

}  // namespace

std::string replay_key_of(const json& record) {
  if (record.contains("system") && record["system"].is_object())
    return "system:" + string_field(record["system"], "bin");
  return record.contains("user") ? string_field(record["user"], "iin") : "";
}

bool GatewayImpl::handle_async(http::Request& req, const http::Responder& respond) {
  if (req.method != "POST") return false;
  bool system = req.path == "/api/v1/system/requests";
  if (!system && req.path != "/api/v1/requests") return false;
  start_request(
      req, [respond](http::Response r) { respond(std::move(r)); }, system);
  return true;
}

// The blocking form, for a caller on a worker thread: the same pipeline, waited for.
http::Response GatewayImpl::data_request_blocking(const http::Request& req, bool system) {
  auto done = std::make_shared<std::promise<http::Response>>();
  auto f = done->get_future();
  http::Request copy = req;
  start_request(
      copy, [done](http::Response r) { done->set_value(std::move(r)); }, system);
  return f.get();
}

http::Response GatewayImpl::data_request(const http::Request& req) {
  return data_request_blocking(req, false);
}
http::Response GatewayImpl::system_request(const http::Request& req) {
  return data_request_blocking(req, true);
}

void GatewayImpl::start_request(http::Request& req, std::function<void(http::Response)> respond,
                                bool system) {
  auto p = std::make_shared<Pending>();
  p->respond = std::move(respond);
  p->path = req.path;
  p->started = std::chrono::steady_clock::now();
  p->tr.request_id = uuid_v7();
  p->tr.remote = req.remote;
  guarded(p, [&] {
    if (system)
      process_system_request(p, req);
    else
      process_request(p, req);
  });
}

// Runs one step of a request; whatever it throws is logged as internal_error and answered.
template <class F>
void GatewayImpl::guarded(const PendingPtr& p, F&& step) {
  try {
    step();
  } catch (const std::exception& e) {
    finish(p, {"internal_error", e.what()});
  }
}

void GatewayImpl::reply(const PendingPtr& p, http::Response r) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  p->started)
                .count();
  // Each data request is in the event log with far more than an access-log line would say; the
  // server log gets a summary every interval instead of a line per request (traffic.h).
  traffic_.note(p->path, r.status, us);
  auto respond = std::move(p->respond);
  p->respond = nullptr;
  if (respond) respond(std::move(r));
}

void GatewayImpl::process_request(const PendingPtr& p, http::Request& req) {
  Trace& tr = p->tr;
  auto now = time::now();

  auto caller = authenticate(req, now, true);  // both factors done
  if (!caller) return finish(p, caller.error());
  const store::User& u = caller->user;
  tr.user = user_ref(u);
  // Separation of duties: staff accounts without a user type do not request data.
  if (u.user_type.empty()) return finish(p, {"not_a_requesting_user", ""});
  auto agreed = agreement_signed_for(*caller);  // no request before the agreement (R-AUTH-3)
  if (!agreed) return finish(p, agreed.error());
  if (!*agreed) return finish(p, {"agreement_required", "sign the agreement on terms of use"});

  auto cms = cms_member(req.body);
  if (!cms) return finish(p, cms.error());
  auto der = pki::base64_decode(*cms);
  if (!der) return finish(p, {"malformed_cms", "cms is not base64"});
  tr.cms_base64 = std::move(*cms);

  pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
  tr.cms_sha256 = v.cms_sha256_hex;  // of the DER, computed by the verifier
  if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
  if (!v.valid) return finish(p, {cms_code(v.reason), v.detail});
  if (Status s = signer_acts_for(v.signer, u); !s) return finish(p, s.error());
  p->asker = Asker{u, nullptr};
  serve_document(p, v, now);
}

// R-COURT: the court bodies' information system authenticates with its organisation's
// certificates (TLS client certificate and the CMS signer, same BIN), and names the judge on
// whose behalf it asks; the policy then applies to the judge's user type.
void GatewayImpl::process_system_request(const PendingPtr& p, http::Request& req) {
  Trace& tr = p->tr;
  auto now = time::now();
  auto find_system = [this](const std::string& bin) -> const Config::SystemClient* {
    for (const auto& s : cfg_.systems)
      if (!bin.empty() && s.bin == bin) return &s;
    return nullptr;
  };

  std::string tls_bin;
  if (!req.client_cert_der.empty()) {
    pki::VerifyResult c =
        pki::verify_certificate(req.client_cert_der, req.client_chain_der, *trust_, crls_.get(),
                                {now, pki::Usage::Authentication, true});
    if (!c.signer.sha256_hex.empty()) tr.system["tls_certificate"] = signer_json(c.signer);
    if (!c.valid) {
      if (c.reason == "revocation_unavailable") return finish(p, {c.reason, c.detail});
      return finish(p, {"client_certificate_refused", c.reason + ": " + c.detail});
    }
    tls_bin = c.signer.bin;
    if (tls_bin.empty())
      return finish(p, {"client_certificate_refused", "the certificate names no BIN"});
  }

  auto cms = cms_member(req.body);
  if (!cms) return finish(p, cms.error());
  auto der = pki::base64_decode(*cms);
  if (!der) return finish(p, {"malformed_cms", "cms is not base64"});
  pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
  tr.cms_sha256 = v.cms_sha256_hex;
  if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
  if (!v.valid) return finish(p, {cms_code(v.reason), v.detail});
  if (v.signer.bin.empty())
    return finish(p, {"unknown_system",
                      "the request is not signed with an organisation's "
                      "certificate (no BIN)"});
  if (!tls_bin.empty() && tls_bin != v.signer.bin)
    return finish(p, {"organisation_mismatch",
                      "TLS certificate BIN " + tls_bin + ", signer BIN " + v.signer.bin});
  const Config::SystemClient* sys = find_system(v.signer.bin);
  if (!sys) return finish(p, {"unknown_system", "no system client with BIN " + v.signer.bin});
  tr.system["name"] = sys->name;
  tr.system["bin"] = sys->bin;
  tr.system["mtls"] = !tls_bin.empty();
  if (sys->require_mtls && tls_bin.empty())
    return finish(p, {"client_certificate_required",
                      "system " + sys->name + " must connect with its TLS client certificate"});
  tr.cms_base64 = std::move(*cms);  // evidence once the system is known

  json doc = parse_json(v.content);
  const json* on_behalf =
      doc.is_object() && doc.contains("on_behalf_of") && doc["on_behalf_of"].is_object()
          ? &doc["on_behalf_of"]
          : nullptr;
  std::string iin = on_behalf ? string_field(*on_behalf, "iin") : "";
  if (iin.empty())
    return finish(p, {"invalid_document", "on_behalf_of.iin names the judge (required)"});
  auto found = store_->find_user(iin);
  if (!found) return finish(p, found.error());
  if (!*found) return finish(p, {"on_behalf_unknown", "no registered user " + iin});
  const store::User& u = **found;
  tr.user = user_ref(u);
  if (u.status != "active") return finish(p, {"user_blocked", "user " + iin + " is " + u.status});
  if (std::find(sys->user_types.begin(), sys->user_types.end(), u.user_type) ==
      sys->user_types.end())
    return finish(
        p, {"on_behalf_unknown", "system " + sys->name + " may not act for a " + u.user_type});
  p->asker = Asker{u, sys};
  serve_document(p, v, now);
}

void GatewayImpl::serve_document(const PendingPtr& p, const pki::VerifyResult& v,
                                 time::Instant now) {
  Trace& tr = p->tr;
  const Asker& asker = p->asker;
  const store::User& u = asker.user;
  if (json_limits::too_deep(v.content))
    return finish(p, {"invalid_document",
                      "the document nests deeper than " + std::to_string(json_limits::kMaxDepth)});
  tr.document = json::parse(v.content, nullptr, false);
  if (tr.document.is_discarded() || !tr.document.is_object()) {
    tr.document = nullptr;
    return finish(p, {"invalid_document", "the signed content is not a JSON object"});
  }
  // The document goes into the event log: refuse now what the log cannot hold (floats).
  if (Status b = journal::check_body(tr.document); !b) {
    tr.document = nullptr;
    return finish(p, {"invalid_document", b.error().detail});
  }
  const json& doc = tr.document;  // kept in the trace until the record takes it
  for (const char* f : {"purpose", "nonce", "signed_at"})
    if (!doc.contains(f) || !doc[f].is_string())
      return finish(p, {"invalid_document", std::string(f) + " is required (a string)"});
  for (const char* f : {"ground", "subject"})
    if (!doc.contains(f) || !doc[f].is_object())
      return finish(p, {"invalid_document", std::string(f) + " is required (an object)"});
  auto resources = requested_resources(doc);
  if (!resources) return finish(p, resources.error());
  const std::string purpose = doc["purpose"].get<std::string>();
  const std::string nonce = doc["nonce"].get<std::string>();
  if (purpose.size() < 3 || purpose.size() > 2000)
    return finish(p, {"invalid_document", "purpose must state the purpose (3-2000 bytes)"});
  if (nonce.size() < 8 || nonce.size() > 128)
    return finish(p, {"invalid_document", "nonce must be 8-128 characters"});
  if (Status s = check_signed_at(doc["signed_at"].get<std::string>(), now, skew()); !s)
    return finish(p, s.error());
  std::string replay_key = asker.system ? "system:" + asker.system->bin : u.iin;
  if (!replay_.remember(replay_key, nonce, now))
    return finish(p, {"replayed_request", "nonce already used"});

  for (const auto& id : *resources) {
    const policy::ResourceInfo* res = policy_->catalog().find(id);
    if (!res) return finish(p, {"unknown_resource", id});
    if (Status s = check_subject(doc["subject"], *res); !s) return finish(p, s.error());
    p->infos.push_back(res);
  }
  grounds::Options gopt;
  gopt.court_numbers_for_criminal = asker.system != nullptr || u.user_type == "judge";
  if (Status s = grounds::validate(doc["ground"], time::astana_year(now), gopt); !s)
    return finish(p, s.error());

  // Every resource asked must be granted: a signed request asks for exactly what it may have.
  const std::string ground = doc["ground"]["type"].get<std::string>();
  json policies = json::array();
  for (const auto& id : *resources) {
    p->decisions.push_back(policy_->decide(u.user_type, ground, id, time::astana_day(now)));
    policies.push_back(policy_json(p->decisions.back()));
    policies.back()["resource"] = id;
  }
  tr.policy = resources->size() == 1 && doc.contains("resource") ? std::move(policies[0])
                                                                 : std::move(policies);
  for (size_t i = 0; i < p->decisions.size(); ++i)
    if (!p->decisions[i].allow)
      return finish(p, {std::string(p->decisions[i].code), "resource " + (*resources)[i]});

  p->many = doc.contains("resources");
  p->resources = std::move(*resources);
  p->subject = doc["subject"];
  p->ground = doc["ground"];
  check_ground_register(p, p->ground, [this, p] { ask_sources(p); });
}

void GatewayImpl::check_ground_register(const PendingPtr& p, const json& ground,
                                        std::function<void()> then) {
  if (!case_register_) return then();
  const std::string type = ground["type"].get<std::string>();
  if (!cfg_.verified_grounds.empty() &&
      std::find(cfg_.verified_grounds.begin(), cfg_.verified_grounds.end(), type) ==
          cfg_.verified_grounds.end())
    return then();
  const std::string number = ground["number"].get<std::string>();
  case_register_->fetch(
      {"CASES", {{"case", {{"type", type}, {"number", number}}}}, p->tr.request_id},
      [this, p, type, number, then](Result<sources::Answer> a) {
        guarded(p, [&] {
          Trace& tr = p->tr;
          if (!a) {
            tr.ground_check = {{"error", a.error().code}};
            return finish(p, {"ground_register_unavailable", a.error().detail});
          }
          if (!a->found) {
            tr.ground_check = {{"found", false}};
            return finish(
                p, {"ground_not_registered", type + " " + number + " is not in the case register"});
          }
          const json c = a->parsed();
          tr.ground_check = {{"found", true},
                             {"status", string_field(c, "status")},
                             {"body_bin", string_field(c, "body_bin")}};
          if (string_field(c, "status") == "closed")
            return finish(p, {"ground_closed", type + " " + number + " is closed"});
          if (string_field(c, "body_bin") != p->asker.user.body_bin)
            return finish(p, {"ground_other_body", type + " " + number + " is conducted by body " +
                                                       string_field(c, "body_bin")});
          then();
        });
      });
}

void GatewayImpl::ask_sources(const PendingPtr& p) {
  if (p->many) {
    std::vector<sources::Query> queries;
    for (const auto& id : p->resources) queries.push_back({id, p->subject, p->tr.request_id});
    router_->fetch_many(std::move(queries), [this, p](std::vector<Result<sources::Answer>> all) {
      guarded(p, [&] { deliver_many(p, std::move(all)); });
    });
    return;
  }
  router_->fetch(
      {p->resources[0], p->subject, p->tr.request_id},
      [this, p](Result<sources::Answer> a) { guarded(p, [&] { deliver(p, std::move(a)); }); });
}

// Takes what the trace holds (it is the request's last use of it): the signed request and the
// document are moved, not copied, into the record.
json GatewayImpl::record_of(Trace& tr, const std::string& outcome, const std::string& code,
                            int status) {
  json r = {{"request_id", tr.request_id},
            {"outcome", outcome},
            {"http_status", status},
            {"remote", tr.remote}};
  if (!code.empty()) r["code"] = code;
  if (!tr.user.is_null()) r["user"] = tr.user;
  if (!tr.system.is_null()) r["system"] = std::move(tr.system);
  if (!tr.signer.is_null()) r["signer"] = std::move(tr.signer);
  if (!tr.cms_sha256.empty()) r["cms_sha256"] = tr.cms_sha256;
  // The signed request is evidence only from a known asker; anonymous junk is not archived.
  if (!tr.cms_base64.empty() && !tr.user.is_null()) r["cms"] = std::move(tr.cms_base64);
  if (!tr.document.is_null()) r["document"] = std::move(tr.document);
  if (!tr.policy.is_null()) r["policy"] = std::move(tr.policy);
  if (!tr.ground_check.is_null()) r["ground_check"] = std::move(tr.ground_check);
  if (!tr.answer_sha256.empty()) r["answer_sha256"] = tr.answer_sha256;
  return r;
}

// A refusal or failure: logged, then answered. The answer is made before the append so the
// journal's thread only hands it over.
void GatewayImpl::finish(const PendingPtr& p, const Error& e) {
  int status = status_of(e.code);
  std::string outcome = status >= 500 ? "failed" : "refused";
  json rec = record_of(p->tr, outcome, e.code, status);
  if (!e.detail.empty()) rec["detail"] = e.detail;
  http::Response answer = error_response(e.code, p->tr.request_id, e.detail);
  journal_->append_async(
      "data_request", std::move(rec),
      [this, p, answer = std::move(answer)](Result<journal::Receipt> w) mutable {
        if (!w) return reply(p, error_response("journal_unavailable", p->tr.request_id, ""));
        // A refusal is an answer too: it carries its record's seal.
        if (!w->seal.empty()) {
          answer.body.pop_back();
          answer.body += ",\"log_seq\":" + std::to_string(w->seq) + ",\"seal\":" + w->seal + "}";
        }
        reply(p, std::move(answer));
      });
}

// One resource's answer: logged durably, then released. The data is serialized once (the
// source's own bytes unless truncated): its hash goes to the log and the same bytes to the
// officer. Everything but the log position is built before the append.
void GatewayImpl::deliver(const PendingPtr& p, Result<sources::Answer> a) {
  if (!a) return finish(p, a.error());
  const policy::Decision& d = p->decisions[0];
  const bool truncated = d.access == policy::Access::Truncated;
  std::string data;
  if (!a->found) {
    data = "null";
  } else if (truncated) {
    json full = a->parsed();
    if (!full.is_object()) return finish(p, {"source_error", "answer data is not an object"});
    data = policy::apply_truncation(full, *p->infos[0])
               .dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    data = std::move(a->data);
  }
  p->tr.answer_sha256 = pki::sha256_hex(data);
  // What the archive keeps, built here rather than on the journal's thread; its bytes are also
  // the answer's "data".
  store::StoredAnswer stored = stored_answer(*p, 0, a->found, std::move(data), p->tr.answer_sha256);
  // The answer's head, as dumping {"request_id", "cms_sha256" (the signed request this answers),
  // "resource", "found", "truncated", "policy": {"version", "rule", "access"}} writes it (members
  // in sorted order), without the closing brace: the log position and "data" follow.
  std::string body;
  body.reserve(512);
  bool text_ok = append_member(body, "{\"cms_sha256\":", p->tr.cms_sha256);
  body += a->found ? ",\"found\":true" : ",\"found\":false";
  text_ok =
      text_ok && append_member(body, ",\"policy\":{\"access\":", policy::to_string(d.access)) &&
      append_member(body, ",\"rule\":", d.rule) && append_member(body, ",\"version\":", d.version);
  body += '}';
  text_ok = text_ok && append_member(body, ",\"request_id\":", p->tr.request_id) &&
            append_member(body, ",\"resource\":", p->resources[0]);
  if (!text_ok) return finish(p, {"internal_error", "the answer's head is not valid UTF-8"});
  body += truncated ? ",\"truncated\":true" : ",\"truncated\":false";
  json rec = record_of(p->tr, a->found ? "answered" : "not_found", "", 200);
  journal_->append_async("data_request", std::move(rec),
                         [this, p, body = std::move(body),
                          stored = std::move(stored)](Result<journal::Receipt> w) mutable {
                           if (!w) {
                             reply(p, error_response("journal_unavailable", p->tr.request_id, ""));
                             return;
                           }
                           stored.log_seq = w->seq;
                           stored.logged_at = w->at;
                           body.reserve(body.size() + 96 + w->seal.size() + stored.data.size());
                           body += ",\"log_seq\":";
                           body += std::to_string(w->seq);
                           // An ASCII time (time::format_astana): always valid to append.
                           (void)append_member(body, ",\"logged_at\":", w->at_astana);
                           if (!w->seal.empty()) {
                             body += ",\"seal\":";
                             body += w->seal;
                           }
                           body += ",\"data\":";
                           body += stored.data;
                           body += '}';
                           std::vector<store::StoredAnswer> one;
                           one.push_back(std::move(stored));
                           if (!archive_answers(p, std::move(one))) return;  // R-USE-2, or withheld
                           http::Response r;
                           r.body = std::move(body);
                           reply(p, std::move(r));
                         });
}

// The request's record (outcome answered / partial / failed, with a summary per resource) and
// one "resource_answer" record per resource go to the log together (one group commit); nothing
// is released unless all of them are durable.
void GatewayImpl::deliver_many(const PendingPtr& p, std::vector<Result<sources::Answer>> answers) {
  Trace& tr = p->tr;
  const auto& resources = p->resources;
  json results = json::array();
  json summary = json::array();
  std::vector<json> records;
  // What the archive keeps (answered / not found), each with the index of its record: the data
  // is serialized and hashed once, here, and those bytes and that hash are what it stores.
  std::vector<store::StoredAnswer> stored;
  std::vector<size_t> stored_record;
  size_t failed = 0;
  for (size_t i = 0; i < resources.size(); ++i) {
    const policy::Decision& d = p->decisions[i];
    const policy::ResourceInfo* info = p->infos[i];
    json item = {
        {"resource", resources[i]},
        {"policy",
         {{"version", d.version}, {"rule", d.rule}, {"access", policy::to_string(d.access)}}}};
    json rec = {{"request_id", tr.request_id},
                {"resource", resources[i]},
                {"policy", policy_json(d)},
                {"user", tr.user}};
    json data = nullptr;
    if (answers[i] && answers[i]->found) {
      data = answers[i]->parsed();
      if (!data.is_object()) answers[i] = Error{"source_error", resources[i] + ": bad data"};
    }
    if (!answers[i]) {
      ++failed;
      const Error& e = answers[i].error();
      item["status"] = "failed";
      item["error"] = {{"code", e.code}, {"message", messages::localized(e.code)}};
      if (!e.detail.empty()) item["error"]["detail"] = e.detail;
      rec["outcome"] = "failed";
      rec["code"] = e.code;
      if (!e.detail.empty()) rec["detail"] = e.detail;
    } else {
      const sources::Answer& a = *answers[i];
      bool truncated = d.access == policy::Access::Truncated;
      if (a.found && truncated) data = policy::apply_truncation(data, *info);
      std::string text = data.dump();  // the bytes in the answer, as hashed into the log
      std::string sha = pki::sha256_hex(text);
      item["status"] = a.found ? "answered" : "not_found";
      item["found"] = a.found;
      item["truncated"] = truncated;
      item["data"] = std::move(data);
      rec["outcome"] = item["status"];
      rec["answer_sha256"] = sha;
      stored.push_back(stored_answer(*p, i, a.found, std::move(text), std::move(sha)));
      stored_record.push_back(i);
    }
    summary.push_back({{"resource", resources[i]}, {"outcome", rec["outcome"]}});
    if (rec.contains("code")) summary.back()["code"] = rec["code"];
    if (rec.contains("answer_sha256")) summary.back()["answer_sha256"] = rec["answer_sha256"];
    results.push_back(std::move(item));
    records.push_back(std::move(rec));
  }
  std::string outcome = failed == 0                  ? "answered"
                        : failed == resources.size() ? "failed"
                                                     : "partial";
  json main = record_of(tr, outcome, "", 200);
  main["resources"] = summary;

  // Gathers the receipts; the last one to arrive hands the answer to an I/O thread (building it
  // is not the journal thread's work).
  struct Gather {
    std::mutex mu;
    std::vector<std::optional<Result<journal::Receipt>>> receipts;
    size_t left;
    json results;
    std::vector<store::StoredAnswer> stored;
    std::vector<size_t> stored_record;
    bool complete;
  };
  auto g = std::make_shared<Gather>();
  g->receipts.resize(records.size() + 1);
  g->left = records.size() + 1;
  g->results = std::move(results);
  g->stored = std::move(stored);
  g->stored_record = std::move(stored_record);
  g->complete = failed == 0;
  auto land = [this, p, g](size_t i, Result<journal::Receipt> r) {
    {
      std::lock_guard<std::mutex> l(g->mu);
      g->receipts[i].emplace(std::move(r));
      if (--g->left != 0) return;
    }
    rt_->post([this, p, g] {
      guarded(p, [&] {
        for (const auto& r : g->receipts)
          if (!r || !*r)
            return reply(p, error_response("journal_unavailable", p->tr.request_id, ""));
        auto seal_of = [](const journal::Receipt& r) {
          return r.seal.empty() ? json(nullptr) : json::parse(r.seal, nullptr, false);
        };
        for (size_t i = 0; i < g->results.size(); ++i) {
          g->results[i]["log_seq"] = (*g->receipts[i + 1])->seq;
          if (!(*g->receipts[i + 1])->seal.empty())
            g->results[i]["seal"] = seal_of(**g->receipts[i + 1]);
        }
        for (size_t k = 0; k < g->stored.size(); ++k) {
          g->stored[k].log_seq = (*g->receipts[g->stored_record[k] + 1])->seq;
          g->stored[k].logged_at = (*g->receipts[0])->at;
        }
        if (!archive_answers(p, std::move(g->stored))) return;  // R-USE-2, or withheld
        json answer = {
            {"request_id", p->tr.request_id},   {"cms_sha256", p->tr.cms_sha256},
            {"resources", p->resources},        {"complete", g->complete},
            {"results", std::move(g->results)}, {"logged_at", (*g->receipts[0])->at_astana},
            {"log_seq", (*g->receipts[0])->seq}};
        if (!(*g->receipts[0])->seal.empty()) answer["seal"] = seal_of(**g->receipts[0]);
        reply(p, json_response(200, answer));
      });
    });
  };
  journal_->append_async("data_request", std::move(main),
                         [land](Result<journal::Receipt> r) { land(0, std::move(r)); });
  for (size_t i = 0; i < records.size(); ++i)
    journal_->append_async("resource_answer", std::move(records[i]),
                           [land, i](Result<journal::Receipt> r) { land(i + 1, std::move(r)); });
}

}  // namespace aaj::app::detail
