// The data request pipeline: a signed request from a signed-in officer (POST /api/v1/requests)
// or from a system client on behalf of a judge (POST /api/v1/system/requests), checked against
// the regulation, answered by one or several sources, and logged before it is answered.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>

#include "app/gateway_impl.h"
#include "core/grounds.h"
#include "core/ids.h"
#include "core/json_limits.h"
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

// Waits for several journal appends issued together (one group commit instead of N in a row).
class AppendBatch {
 public:
  explicit AppendBatch(size_t n) : results_(n), left_(n) {}
  void add(journal::Journal& j, size_t i, std::string_view type, json body) {
    j.append_async(type, std::move(body), [this, i](Result<journal::Receipt> r) {
      std::lock_guard<std::mutex> l(mu_);
      results_[i] = std::move(r);
      if (--left_ == 0) cv_.notify_all();
    });
  }
  // Every result, once all are in. Each is the receipt or the journal's error.
  std::vector<std::optional<Result<journal::Receipt>>>& wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return left_ == 0; });
    return results_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<Result<journal::Receipt>>> results_;
  size_t left_;
};

}  // namespace

std::string replay_key_of(const json& record) {
  if (record.contains("system") && record["system"].is_object())
    return "system:" + string_field(record["system"], "bin");
  return record.contains("user") ? string_field(record["user"], "iin") : "";
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
  auto agreed = agreement_signed_for(*caller);  // no request before the agreement (R-AUTH-3)
  if (!agreed) return finish(tr, agreed.error());
  if (!*agreed) return finish(tr, {"agreement_required", "sign the agreement on terms of use"});

  json body = parse_json(req.body);
  if (!body.is_object() || !body.contains("cms") || !body["cms"].is_string())
    return finish(tr, {"malformed_request", "expected {\"cms\": base64 DER CMS}"});
  auto der = pki::base64_decode(body["cms"].get<std::string>());
  if (!der) return finish(tr, {"malformed_cms", "cms is not base64"});
  tr.cms_sha256 = pki::sha256_hex(*der);
  tr.cms_base64 = body["cms"].get<std::string>();

  pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
  if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
  if (!v.valid) return finish(tr, {cms_code(v.reason), v.detail});
  if (Status s = signer_acts_for(v.signer, u); !s) return finish(tr, s.error());
  return serve_document(tr, Asker{u, nullptr}, v, now);
}

http::Response GatewayImpl::system_request(const http::Request& req) {
  Trace tr;
  tr.request_id = uuid_v4();
  tr.remote = req.remote;
  try {
    return process_system_request(req, tr);
  } catch (const std::exception& e) {
    return finish(tr, {"internal_error", e.what()});
  }
}

// R-COURT: the court bodies' information system authenticates with its organisation's
// certificates (TLS client certificate and the CMS signer, same BIN), and names the judge on
// whose behalf it asks; the policy then applies to the judge's user type.
http::Response GatewayImpl::process_system_request(const http::Request& req, Trace& tr) {
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
      if (c.reason == "revocation_unavailable") return finish(tr, {c.reason, c.detail});
      return finish(tr, {"client_certificate_refused", c.reason + ": " + c.detail});
    }
    tls_bin = c.signer.bin;
    if (tls_bin.empty())
      return finish(tr, {"client_certificate_refused", "the certificate names no BIN"});
  }

  json body = parse_json(req.body);
  if (!body.is_object() || !body.contains("cms") || !body["cms"].is_string())
    return finish(tr, {"malformed_request", "expected {\"cms\": base64 DER CMS}"});
  auto der = pki::base64_decode(body["cms"].get<std::string>());
  if (!der) return finish(tr, {"malformed_cms", "cms is not base64"});
  tr.cms_sha256 = pki::sha256_hex(*der);
  pki::VerifyResult v = verifier_->verify(*der, {now, pki::Usage::Signing, true});
  if (!v.signer.sha256_hex.empty()) tr.signer = signer_json(v.signer);
  if (!v.valid) return finish(tr, {cms_code(v.reason), v.detail});
  if (v.signer.bin.empty())
    return finish(tr, {"unknown_system",
                       "the request is not signed with an organisation's "
                       "certificate (no BIN)"});
  if (!tls_bin.empty() && tls_bin != v.signer.bin)
    return finish(tr, {"organisation_mismatch",
                       "TLS certificate BIN " + tls_bin + ", signer BIN " + v.signer.bin});
  const Config::SystemClient* sys = find_system(v.signer.bin);
  if (!sys) return finish(tr, {"unknown_system", "no system client with BIN " + v.signer.bin});
  tr.system["name"] = sys->name;
  tr.system["bin"] = sys->bin;
  tr.system["mtls"] = !tls_bin.empty();
  if (sys->require_mtls && tls_bin.empty())
    return finish(tr, {"client_certificate_required",
                       "system " + sys->name + " must connect with its TLS client certificate"});
  tr.cms_base64 = body["cms"].get<std::string>();  // evidence once the system is known

  json doc = parse_json(v.content);
  const json* on_behalf =
      doc.is_object() && doc.contains("on_behalf_of") && doc["on_behalf_of"].is_object()
          ? &doc["on_behalf_of"]
          : nullptr;
  std::string iin = on_behalf ? string_field(*on_behalf, "iin") : "";
  if (iin.empty())
    return finish(tr, {"invalid_document", "on_behalf_of.iin names the judge (required)"});
  auto found = store_->find_user(iin);
  if (!found) return finish(tr, found.error());
  if (!*found) return finish(tr, {"on_behalf_unknown", "no registered user " + iin});
  const store::User& u = **found;
  tr.user = {{"iin", u.iin}, {"user_type", u.user_type}, {"body_bin", u.body_bin}};
  if (u.status != "active") return finish(tr, {"user_blocked", "user " + iin + " is " + u.status});
  if (std::find(sys->user_types.begin(), sys->user_types.end(), u.user_type) ==
      sys->user_types.end())
    return finish(
        tr, {"on_behalf_unknown", "system " + sys->name + " may not act for a " + u.user_type});
  return serve_document(tr, Asker{u, sys}, v, now);
}

http::Response GatewayImpl::serve_document(Trace& tr, const Asker& asker,
                                           const pki::VerifyResult& v, time::Instant now) {
  const store::User& u = asker.user;
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
  for (const char* f : {"purpose", "nonce", "signed_at"})
    if (!doc.contains(f) || !doc[f].is_string())
      return finish(tr, {"invalid_document", std::string(f) + " is required (a string)"});
  for (const char* f : {"ground", "subject"})
    if (!doc.contains(f) || !doc[f].is_object())
      return finish(tr, {"invalid_document", std::string(f) + " is required (an object)"});
  auto resources = requested_resources(doc);
  if (!resources) return finish(tr, resources.error());
  const std::string purpose = doc["purpose"].get<std::string>();
  const std::string nonce = doc["nonce"].get<std::string>();
  if (purpose.size() < 3 || purpose.size() > 2000)
    return finish(tr, {"invalid_document", "purpose must state the purpose (3-2000 bytes)"});
  if (nonce.size() < 8 || nonce.size() > 128)
    return finish(tr, {"invalid_document", "nonce must be 8-128 characters"});
  if (Status s = check_signed_at(doc["signed_at"].get<std::string>(), now, skew()); !s)
    return finish(tr, s.error());
  std::string replay_key = asker.system ? "system:" + asker.system->bin : u.iin;
  if (!replay_.remember(replay_key, nonce, now))
    return finish(tr, {"replayed_request", "nonce already used"});

  std::vector<const policy::ResourceInfo*> infos;
  for (const auto& id : *resources) {
    const policy::ResourceInfo* res = policy_->catalog().find(id);
    if (!res) return finish(tr, {"unknown_resource", id});
    if (Status s = check_subject(doc["subject"], *res); !s) return finish(tr, s.error());
    infos.push_back(res);
  }
  grounds::Options gopt;
  gopt.court_numbers_for_criminal = asker.system != nullptr || u.user_type == "judge";
  if (Status s = grounds::validate(doc["ground"], time::astana_year(now), gopt); !s)
    return finish(tr, s.error());

  // Every resource asked must be granted: a signed request asks for exactly what it may have.
  const std::string ground = doc["ground"]["type"].get<std::string>();
  std::vector<policy::Decision> decisions;
  json policies = json::array();
  for (const auto& id : *resources) {
    decisions.push_back(policy_->decide(u.user_type, ground, id, time::astana_day(now)));
    policies.push_back(policy_json(decisions.back()));
    policies.back()["resource"] = id;
  }
  tr.policy = resources->size() == 1 && doc.contains("resource") ? policies[0] : policies;
  for (size_t i = 0; i < decisions.size(); ++i)
    if (!decisions[i].allow)
      return finish(tr, {std::string(decisions[i].code), "resource " + (*resources)[i]});

  if (Status s = check_ground_register(tr, asker, doc["ground"]); !s) return finish(tr, s.error());

  if (doc.contains("resources")) {
    std::vector<sources::Query> queries;
    for (const auto& id : *resources) queries.push_back({id, doc["subject"], tr.request_id});
    return deliver_many(tr, *resources, decisions, router_->fetch_many(queries));
  }

  const std::string& resource = (*resources)[0];
  const policy::Decision& d = decisions[0];
  auto a = router_->fetch({resource, doc["subject"], tr.request_id});
  if (!a) return finish(tr, a.error());
  bool truncated = d.access == policy::Access::Truncated;
  // The data is serialized once: its hash goes to the log and the same bytes to the officer.
  std::string data = a->found ? (truncated ? policy::apply_truncation(a->data, *infos[0]) : a->data)
                                    .dump(-1, ' ', false, json::error_handler_t::replace)
                              : "null";
  tr.answer_sha256 = pki::sha256_hex(data);
  json answer = {
      {"request_id", tr.request_id},
      {"resource", resource},
      {"found", a->found},
      {"truncated", truncated},
      {"policy",
       {{"version", d.version}, {"rule", d.rule}, {"access", policy::to_string(d.access)}}}};
  return deliver(tr, std::move(answer), data);
}

Status GatewayImpl::check_ground_register(Trace& tr, const Asker& asker, const json& ground) {
  if (!case_register_) return {};
  const std::string type = ground["type"].get<std::string>();
  if (!cfg_.verified_grounds.empty() &&
      std::find(cfg_.verified_grounds.begin(), cfg_.verified_grounds.end(), type) ==
          cfg_.verified_grounds.end())
    return {};
  const std::string number = ground["number"].get<std::string>();
  auto a = case_register_->fetch(
      {"CASES", {{"case", {{"type", type}, {"number", number}}}}, tr.request_id});
  if (!a) {
    tr.ground_check = {{"error", a.error().code}};
    return Error{"ground_register_unavailable", a.error().detail};
  }
  if (!a->found) {
    tr.ground_check = {{"found", false}};
    return Error{"ground_not_registered", type + " " + number + " is not in the case register"};
  }
  const json& c = a->data;
  tr.ground_check = {{"found", true},
                     {"status", string_field(c, "status")},
                     {"body_bin", string_field(c, "body_bin")}};
  if (string_field(c, "status") == "closed")
    return Error{"ground_closed", type + " " + number + " is closed"};
  if (string_field(c, "body_bin") != asker.user.body_bin)
    return Error{"ground_other_body",
                 type + " " + number + " is conducted by body " + string_field(c, "body_bin")};
  return {};
}

json GatewayImpl::record_of(const Trace& tr, const std::string& outcome, const std::string& code,
                            int status) {
  json r = {{"request_id", tr.request_id},
            {"outcome", outcome},
            {"http_status", status},
            {"remote", tr.remote}};
  if (!code.empty()) r["code"] = code;
  if (!tr.user.is_null()) r["user"] = tr.user;
  if (!tr.system.is_null()) r["system"] = tr.system;
  if (!tr.signer.is_null()) r["signer"] = tr.signer;
  if (!tr.cms_sha256.empty()) r["cms_sha256"] = tr.cms_sha256;
  // The signed request is evidence only from a known asker; anonymous junk is not archived.
  if (!tr.cms_base64.empty() && !tr.user.is_null()) r["cms"] = tr.cms_base64;
  if (!tr.document.is_null()) r["document"] = tr.document;
  if (!tr.policy.is_null()) r["policy"] = tr.policy;
  if (!tr.ground_check.is_null()) r["ground_check"] = tr.ground_check;
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

// An answer: logged durably, then released. `data` is the answer's data as JSON text.
http::Response GatewayImpl::deliver(const Trace& tr, json answer, const std::string& data) {
  json rec = record_of(tr, answer["found"].get<bool>() ? "answered" : "not_found", "", 200);
  auto w = journal_->append("data_request", std::move(rec));
  if (!w) return error_response("journal_unavailable", tr.request_id, "");
  answer["logged_at"] = w->at_astana;
  answer["log_seq"] = w->seq;
  http::Response r;
  r.body = answer.dump();
  r.body.pop_back();  // the closing brace: "data" goes last
  r.body += ",\"data\":";
  r.body += data;
  r.body += '}';
  return r;
}

// The request's record (outcome answered / partial / failed, with a summary per resource) and
// one "resource_answer" record per resource go to the log in one group commit; nothing is
// released unless all of them are durable.
http::Response GatewayImpl::deliver_many(Trace& tr, const std::vector<std::string>& resources,
                                         const std::vector<policy::Decision>& decisions,
                                         std::vector<Result<sources::Answer>> answers) {
  json results = json::array();
  json summary = json::array();
  std::vector<json> records;
  size_t failed = 0;
  for (size_t i = 0; i < resources.size(); ++i) {
    const policy::Decision& d = decisions[i];
    const policy::ResourceInfo* info = policy_->catalog().find(resources[i]);
    json item = {
        {"resource", resources[i]},
        {"policy",
         {{"version", d.version}, {"rule", d.rule}, {"access", policy::to_string(d.access)}}}};
    json rec = {{"request_id", tr.request_id},
                {"resource", resources[i]},
                {"policy", policy_json(d)},
                {"user", tr.user}};
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
      json data =
          a.found ? (truncated ? policy::apply_truncation(a.data, *info) : a.data) : json(nullptr);
      std::string sha = pki::sha256_hex(data.dump());
      item["status"] = a.found ? "answered" : "not_found";
      item["found"] = a.found;
      item["truncated"] = truncated;
      item["data"] = std::move(data);
      rec["outcome"] = item["status"];
      rec["answer_sha256"] = sha;
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

  AppendBatch batch(records.size() + 1);
  batch.add(*journal_, 0, "data_request", std::move(main));
  for (size_t i = 0; i < records.size(); ++i)
    batch.add(*journal_, i + 1, "resource_answer", std::move(records[i]));
  auto& receipts = batch.wait();
  for (const auto& r : receipts)
    if (!r || !*r) return error_response("journal_unavailable", tr.request_id, "");
  for (size_t i = 0; i < results.size(); ++i) results[i]["log_seq"] = (*receipts[i + 1])->seq;
  json answer = {{"request_id", tr.request_id},
                 {"resources", resources},
                 {"complete", failed == 0},
                 {"results", std::move(results)},
                 {"logged_at", (*receipts[0])->at_astana},
                 {"log_seq", (*receipts[0])->seq}};
  return json_response(200, answer);
}

}  // namespace aaj::app::detail
