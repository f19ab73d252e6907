// Reading the event log under confidentiality (R-LOG-3, R-CTRL-2, R-CTRL-5): who reads which
// records, and which fields of them, is the log-access policy (policy/log-access-*.json); every
// read is itself logged before its records leave (log_read), and every refused read too
// (log_read_refused). Prosecutors read under a resolution they registered here, signed.
#include <algorithm>
#include <optional>
#include <set>

#include "app/gateway_impl.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 500;

// The parameters of GET /api/v1/log, checked.
struct LogQuery {
  std::optional<int64_t> from, to;  // Astana calendar days, inclusive
  std::string type;
  uint64_t after_seq = 0;
  size_t limit = kDefaultLimit;
  std::string resolution, role, body_bin;

  json to_json() const {
    json j = {{"after_seq", after_seq}, {"limit", limit}};
    if (from) j["from"] = time::format_date(*from);
    if (to) j["to"] = time::format_date(*to);
    if (!type.empty()) j["type"] = type;
    if (!resolution.empty()) j["resolution"] = resolution;
    if (!role.empty()) j["role"] = role;
    if (!body_bin.empty()) j["body_bin"] = body_bin;
    return j;
  }
};

bool all_of_chars(const std::string& s, size_t min, size_t max, std::string_view extra) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          extra.find(c) != std::string_view::npos))
      return false;
  return true;
}

Result<LogQuery> parse_log_query(std::string_view query) {
  auto bad = [](const std::string& detail) { return Error{"malformed_request", detail}; };
  LogQuery q;
  Status params = parse_query(query, [&](const std::string& key, const std::string& v) -> Status {
    if (key == "from" || key == "to") {
      auto d = time::parse_date(v);
      if (!d) return bad(key + " must be a date YYYY-MM-DD (Astana calendar)");
      (key == "from" ? q.from : q.to) = *d;
    } else if (key == "type") {
      if (!all_of_chars(v, 1, 64, "_")) return bad("type must be a record type, e.g. data_request");
      q.type = v;
    } else if (key == "after_seq") {
      if (!all_of_chars(v, 1, 19, "") || v.find_first_not_of("0123456789") != std::string::npos)
        return bad("after_seq must be a record number");
      q.after_seq = std::stoull(v);
    } else if (key == "limit") {
      if (!all_of_chars(v, 1, 3, "") || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(v) < 1 || std::stoul(v) > kMaxLimit)
        return bad("limit must be 1-" + std::to_string(kMaxLimit));
      q.limit = std::stoul(v);
    } else if (key == "resolution") {
      if (!all_of_chars(v, 1, 64, "-")) return bad("resolution must be a resolution id");
      q.resolution = v;
    } else if (key == "role") {
      if (!all_of_chars(v, 1, 32, "_")) return bad("role must be a staff role");
      q.role = v;
    } else if (key == "body_bin") {
      if (v.size() != 12 || v.find_first_not_of("0123456789") != std::string::npos)
        return bad("body_bin must be a BIN");
      q.body_bin = v;
    } else {
      return bad("unknown parameter " +
                 json(key).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return {};
  });
  if (!params) return params.error();
  if (q.from && q.to && *q.from > *q.to) return bad("from is after to");
  return q;
}

// A copy fit for the log: printable ASCII only (a query may carry any bytes), at most `max`.
std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

json resolution_json(const store::Resolution& r) {
  json j = {{"id", r.id},
            {"number", r.number},
            {"date", r.date},
            {"body_bin", r.body_bin},
            {"period", {{"from", r.period_from}, {"to", r.period_to}}},
            {"purpose", r.purpose},
            {"registered_at", time::format_astana(r.registered_at)},
            {"log_seq", r.log_seq}};
  if (!r.iins.empty()) j["iins"] = r.iins;
  return j;
}

}  // namespace

Status GatewayImpl::init_log_access() {
  auto p = cfg_.policy_dir.empty() ? policy::LogAccessPolicy::load_embedded()
                                   : policy::LogAccessPolicy::load_dir(cfg_.policy_dir);
  if (!p) return p.error();
  log_policy_ = *p;
  return {};
}

// GET /api/v1/log?from&to&type&after_seq&limit[&resolution][&role][&body_bin]
http::Response GatewayImpl::log_read(const http::Request& req) {
  const auto now = time::now();
  auto c = authenticate(req, now, true);
  // Without a full session nobody is reading: answered, like every authenticated endpoint.
  if (!c) return error_response(c.error().code, "", c.error().detail);
  json reader = {{"iin", c->user.iin}};
  std::set<std::string> held;  // the staff roles the caller holds
  json policy_cited;           // set once the policy has decided
  // A refused read: logged, then answered; if the log cannot take it, nothing is answered but
  // journal_unavailable.
  auto refuse = [&](const Error& e) {
    json rec = {{"reader", reader},
                {"query", printable(req.query, 1024)},
                {"code", e.code},
                {"remote", req.remote}};
    if (!e.detail.empty()) rec["detail"] = e.detail;
    if (!policy_cited.is_null()) rec["policy"] = policy_cited;
    // Refused before a role was chosen: the roles held say who was asking.
    if (!reader.contains("role")) rec["reader"]["roles"] = held;
    if (auto w = journal_->append("log_read_refused", std::move(rec)); !w)
      return error_response("journal_unavailable", "", "");
    return error_response(e.code, "", e.detail);
  };

  auto roles = store_->staff_roles_of(c->user.iin);
  if (!roles) return error_response(roles.error().code, "", roles.error().detail);
  for (const auto& r : *roles) held.insert(r.role);
  auto q = parse_log_query(req.query);
  if (!q) return refuse(q.error());
  std::string role = q->role;
  if (!role.empty() && !held.count(role))
    return refuse({"not_staff", "you do not hold the " + role + " role"});
  if (role.empty()) {
    if (held.empty()) return refuse({"not_staff", "reading the event log needs a staff role"});
    if (held.size() > 1)
      return refuse({"malformed_request", "you hold several staff roles: name one with role="});
    role = *held.begin();
  }
  std::vector<std::string> bodies;
  for (const auto& r : *roles)
    if (r.role == role) bodies.push_back(r.body_bin);
  reader["role"] = role;
  reader["body_bin"] = bodies.front();
  if (bodies.size() > 1) reader["bodies"] = bodies;

  const policy::LogAccessDecision d = log_policy_->decide(role, time::astana_day(now));
  policy_cited = {{"version", d.version}, {"rule", d.rule}};
  if (!d.allow)
    return refuse(
        {std::string(d.code), "the log-access policy in force gives " + role + " no rule"});
  const policy::LogRule& rule = *d.grant;

  // The reader's scope, as the rule needs it.
  policy::LogReaderScope scope;
  policy::ResolutionScope resolution_scope;
  json resolution_cited;
  if (rule.scope == policy::LogScope::ReaderBody) {
    scope.bodies = bodies;
    if (!q->body_bin.empty()) {
      if (std::find(bodies.begin(), bodies.end(), q->body_bin) == bodies.end())
        return refuse({"log_read_out_of_scope", "body " + q->body_bin + " is not yours"});
      scope.bodies = {q->body_bin};
    }
  } else if (!q->body_bin.empty()) {
    return refuse({"malformed_request", "body_bin selects among a controller's own bodies"});
  }
  if (rule.scope == policy::LogScope::Resolution) {
    if (q->resolution.empty())
      return refuse({"resolution_required", "name a registered resolution: resolution=<id>"});
    auto r = store_->find_resolution(q->resolution);
    if (!r) return error_response(r.error().code, "", r.error().detail);
    if (!*r) return refuse({"resolution_unknown", q->resolution});
    if ((*r)->prosecutor_iin != c->user.iin)
      return refuse(
          {"log_read_out_of_scope", "the resolution was registered by another prosecutor"});
    auto rf = time::parse_date((*r)->period_from), rt = time::parse_date((*r)->period_to);
    if (!rf || !rt) return error_response("internal_error", "", "stored resolution period");
    resolution_scope = {(*r)->body_bin, (*r)->iins, *rf, *rt};
    resolution_cited = {{"id", (*r)->id}, {"number", (*r)->number}};
    if ((q->from && (*q->from < *rf || *q->from > *rt)) ||
        (q->to && (*q->to > *rt || *q->to < *rf)))
      return refuse({"log_read_out_of_scope", "from/to lie outside the resolution's period " +
                                                  (*r)->period_from + " … " + (*r)->period_to});
    // Not given: the resolution's period (docs/api.md), so the logged filter says what was read.
    if (!q->from) q->from = *rf;
    if (!q->to) q->to = *rt;
    scope.resolution = &resolution_scope;
  } else if (!q->resolution.empty()) {
    return refuse({"malformed_request", "resolution= is for reads under a resolution"});
  }

  // One pass over the log, every record checked (journal::scan): a damaged log is an error,
  // never a partial answer. The whole log is read for every query; an index is the scale-out
  // step (docs/decisions.md).
  std::vector<json> records;
  std::vector<uint64_t> seqs;
  bool more = false;
  Status scanned = journal::scan(cfg_.journal_dir, [&](const journal::Record& r) {
    if (r.seq <= q->after_seq) return true;
    if (!q->type.empty() && r.type != q->type) return true;
    if (q->from || q->to) {
      const int64_t day = time::astana_day(r.at);
      if ((q->from && day < *q->from) || (q->to && day > *q->to)) return true;
    }
    json rec = {{"seq", r.seq},
                {"at", time::format_utc(r.at)},
                {"at_astana", r.at_astana},
                {"type", r.type},
                {"body", r.body},
                {"prev", r.prev},
                {"hash", r.hash}};
    if (!policy::opens(rule, rec, scope)) return true;
    if (records.size() == q->limit) {
      more = true;
      return false;
    }
    seqs.push_back(r.seq);
    records.push_back(policy::shape(rule, rec));
    return true;
  });
  if (!scanned) return refuse(scanned.error());

  json next = more ? json(seqs.back()) : json(nullptr);
  json rec = {{"reader", reader},
              {"filter", q->to_json()},
              {"policy", policy_cited},
              {"count", records.size()},
              {"first_seq", seqs.empty() ? json(nullptr) : json(seqs.front())},
              {"last_seq", seqs.empty() ? json(nullptr) : json(seqs.back())},
              {"next_after_seq", next},
              {"redacted", !rule.all_fields},
              {"remote", req.remote}};
  if (!resolution_cited.is_null()) rec["resolution"] = resolution_cited;
  // Logged before the records leave: a read the log does not show must not happen.
  auto w = journal_->append("log_read", std::move(rec));
  if (!w) return error_response("journal_unavailable", "", w.error().detail);
  return json_response(200, {{"records", std::move(records)},
                             {"next_after_seq", next},
                             {"policy", policy_cited},
                             {"redacted", !rule.all_fields},
                             {"log_seq", w->seq},
                             {"logged_at", w->at_astana}});
}

// POST /api/v1/prosecutor/resolutions {"cms"}: a resolution signed by the prosecutor.
http::Response GatewayImpl::resolution_register(const http::Request& req) {
  auto c = staff(req, "prosecutor", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  const auto now = time::now();
  auto refuse = [&](const Error& e) {
    json rec = {{"prosecutor", user_ref(c->user)}, {"code", e.code}, {"remote", req.remote}};
    if (!e.detail.empty()) rec["detail"] = e.detail;
    if (auto w = journal_->append("resolution_refused", std::move(rec)); !w)
      return error_response("journal_unavailable", "", "");
    return error_response(e.code, "", e.detail);
  };
  json body = parse_json(req.body);
  auto signed_doc = signed_document(body.is_object() ? body.value("cms", json()) : json(), now);
  if (!signed_doc) return refuse(signed_doc.error());
  const pki::VerifyResult& v = signed_doc->verified;
  if (Status s = signer_acts_for(v.signer, c->user); !s) return refuse(s.error());
  const json& content = signed_doc->content;
  if (Status f = check_signed_at(string_field(content, "signed_at"), now, skew()); !f)
    return refuse(f.error());
  auto doc = policy::parse_resolution(content, time::astana_day(now));
  if (!doc) return refuse(doc.error());
  auto known = store_->find_body(doc->scope.body_bin);
  if (!known) return error_response(known.error().code, "", known.error().detail);
  if (!*known) return refuse({"body_unknown", doc->scope.body_bin});
  auto mine = store_->resolutions_of(c->user.iin);
  if (!mine) return error_response(mine.error().code, "", mine.error().detail);
  for (const auto& r : *mine)
    if (r.number == doc->number) return refuse({"resolution_exists", r.id});

  store::Resolution r;
  r.id = uuid_v7();
  r.prosecutor_iin = c->user.iin;
  r.number = doc->number;
  r.date = time::format_date(doc->date);
  r.body_bin = doc->scope.body_bin;
  r.iins = doc->scope.iins;
  r.period_from = time::format_date(doc->scope.from_day);
  r.period_to = time::format_date(doc->scope.to_day);
  r.purpose = doc->purpose;
  r.document = content.dump();
  r.cms_base64 = pki::base64_encode(signed_doc->der);
  r.registered_at = now;
  json rec = {{"resolution_id", r.id},
              {"prosecutor", user_ref(c->user)},
              {"number", r.number},
              {"date", r.date},
              {"body_bin", r.body_bin},
              {"iins", r.iins},
              {"period", {{"from", r.period_from}, {"to", r.period_to}}},
              {"purpose", r.purpose},
              {"signer", signer_json(v.signer)},
              {"cms", r.cms_base64}};
  // Logged before it takes effect: a resolution the log does not show opens nothing.
  auto w = journal_->append("resolution_registered", std::move(rec));
  if (!w) return error_response("journal_unavailable", "", "");
  r.log_seq = w->seq;
  if (Status s = store_->add_resolution(r); !s)
    return error_response(s.error().code, "", s.error().detail);
  json answer = resolution_json(r);
  answer["logged_at"] = w->at_astana;
  return json_response(201, answer);
}

// GET /api/v1/prosecutor/resolutions: the calling prosecutor's own, newest first.
http::Response GatewayImpl::resolution_list(const http::Request& req) {
  auto c = staff(req, "prosecutor", nullptr);
  if (!c) return refusal_or_error(req, c.error());
  auto mine = store_->resolutions_of(c->user.iin);
  if (!mine) return error_response(mine.error().code, "", mine.error().detail);
  json list = json::array();
  for (const auto& r : *mine) list.push_back(resolution_json(r));
  return json_response(200, {{"resolutions", list}});
}

}  // namespace aaj::app::detail
