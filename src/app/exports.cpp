// Exports of stored answers (R-USE-2): the user who made a request downloads its answer as a
// document watermarked with their name, IIN, the request, the export and its time; every export
// is logged before it is handed over, and the user must confirm destroying the local copy (they
// are reminded until they do). Reading a stored answer goes through the same checks.
#include <mutex>

#include "app/gateway_impl.h"
#include "app/pdf.h"
#include "core/messages.h"
#include "evidence/package.h"
#include "pki/certificate.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace {

using ojson = nlohmann::ordered_json;

// head.dump() with `"key": raw` added as its last member (raw is JSON text kept byte for byte).
std::string with_raw_member(const ojson& head, const char* key, const std::string& raw) {
  std::string out = head.dump(-1, ' ', false, ojson::error_handler_t::replace);
  out.pop_back();  // '}'
  if (out.size() > 1) out += ',';
  out += ojson(key).dump();
  out += ':';
  out += raw;
  out += '}';
  return out;
}

json destroyed_json(const store::StoredAnswer& a) {
  return {{"at", time::format_astana(a.destroyed_at)},
          {"by", a.destroyed_by},
          {"act", {{"number", a.destruction_act}, {"date", a.destruction_act_date}}},
          {"log_seq", a.destruction_log_seq}};
}

const store::StoredAnswer* first_destroyed(const std::vector<store::StoredAnswer>& rows) {
  for (const auto& a : rows)
    if (a.destroyed()) return &a;
  return nullptr;
}

// The stored answers of one request as a JSON document; `head` comes first (watermark, ids).
// One resource: "resource", "found", …, "data"; several: "resources" and "results".
std::string answers_document(ojson head, const std::vector<store::StoredAnswer>& rows) {
  const store::StoredAnswer& first = rows.front();
  head["request_id"] = first.request_id;
  head["material"] = {{"type", first.material_type}, {"number", first.material_number}};
  head["logged_at"] = time::format_astana(first.logged_at);
  head["stored_at"] = time::format_astana(first.stored_at);
  auto item_head = [](const store::StoredAnswer& a) {
    ojson h;
    h["resource"] = a.resource;
    h["found"] = a.found;
    h["truncated"] = a.truncated;
    h["answer_sha256"] = a.sha256;
    h["log_seq"] = a.log_seq;
    return h;
  };
  if (rows.size() == 1) {
    const ojson item = item_head(first);  // (a temporary would die before the loop ran)
    for (const auto& [k, v] : item.items()) head[k] = v;
    return with_raw_member(head, "data", first.data);
  }
  ojson list = ojson::array();
  for (const auto& a : rows) list.push_back(a.resource);
  head["resources"] = list;
  std::string results = "[";
  for (const auto& a : rows) {
    if (results.size() > 1) results += ',';
    results += with_raw_member(item_head(a), "data", a.data);
  }
  results += ']';
  return with_raw_member(head, "results", results);
}

// Request and export ids are UUIDs: anything else is refused before it reaches the log.
bool plausible_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
      return false;
  return true;
}

// The request_id of GET …?request_id=<uuid>, wherever it stands among the parameters (others are
// ignored). Errors "malformed_request".
Result<std::string> request_id_param(std::string_view query) {
  std::string id;
  Status params = parse_query(query, [&](const std::string& k, const std::string& v) -> Status {
    if (k == "request_id") id = v;
    return {};
  });
  if (!params || !plausible_id(id))
    return Error{"malformed_request", "expected ?request_id=<uuid>"};
  return id;
}

const char* kNotice =
    "Материалға тіркегеннен кейін жергілікті көшірмені дереу жойыңыз және жойылғанын жүйеде "
    "растаңыз. / После приобщения к материалам немедленно уничтожьте локальную копию и "
    "подтвердите уничтожение в системе. / Once attached to the case materials, destroy this local "
    "copy at once and confirm it in the system.";

}  // namespace

Result<Caller> GatewayImpl::requesting_user(const http::Request& req, time::Instant now) {
  auto c = authenticate(req, now, true);
  if (!c) return c.error();
  if (c->user.user_type.empty()) return Error{"not_a_requesting_user", ""};
  auto agreed = agreement_signed_for(*c);
  if (!agreed) return agreed.error();
  if (!*agreed) return Error{"agreement_required", "sign the agreement on terms of use"};
  return c;
}

Result<std::vector<store::StoredAnswer>> GatewayImpl::answers_of(const std::string& request_id) {
  // An answer released a moment ago may still be queued; an unknown id waits for nothing.
  if (Status f = archive_->flush_if_pending(request_id); !f) return f.error();
  return store_->answers_of_request(request_id);
}

http::Response GatewayImpl::answer_access_refused(const http::Request& req,
                                                  const std::string& action, const std::string& iin,
                                                  const std::string& id, const Error& e,
                                                  const json& extra) {
  json rec = {{"action", action}, {"iin", iin}, {"code", e.code}, {"remote", req.remote}};
  rec[action == "confirm" ? "export_id" : "request_id"] = id;
  if (!e.detail.empty()) rec["detail"] = e.detail;
  if (auto w = journal_->append("answer_access_refused", std::move(rec)); !w)
    return error_response("journal_unavailable", "", "");
  json body = error_json(e.code, "", e.detail);
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) body[k] = v;
  return json_response(status_of(e.code), body);
}

GatewayImpl::OwnAnswers GatewayImpl::own_answers(const http::Request& req,
                                                 const std::string& action, const std::string& iin,
                                                 const std::string& request_id,
                                                 bool destroyed_refused) {
  OwnAnswers out;
  auto rows = answers_of(request_id);
  if (!rows) {
    out.refusal = error_response(rows.error().code, "", rows.error().detail);
  } else if (rows->empty()) {
    out.refusal = answer_access_refused(req, action, iin, request_id, {"answer_unknown", ""});
  } else if (rows->front().iin != iin) {
    out.refusal = answer_access_refused(req, action, iin, request_id,
                                        {"not_your_answer", "only the user who made the request"});
  } else if (const auto* d = destroyed_refused ? first_destroyed(*rows) : nullptr) {
    out.refusal = answer_access_refused(
        req, action, iin, request_id,
        {"answer_destroyed", "destroyed with its material by act " + d->destruction_act + " of " +
                                 d->destruction_act_date},
        {{"request_id", request_id}, {"destroyed", destroyed_json(*d)}});
  } else {
    out.rows = std::move(*rows);
  }
  return out;
}

// POST /api/v1/exports {"request_id", "format": "json"|"pdf"}
http::Response GatewayImpl::create_export(const http::Request& req) {
  auto now = time::now();
  auto c = requesting_user(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  const store::User& u = c->user;
  json body = parse_json(req.body);
  const std::string request_id = string_field(body, "request_id");
  const std::string format = string_field(body, "format");
  if (!plausible_id(request_id) || (format != "json" && format != "pdf"))
    return error_response("malformed_request", "",
                          "expected {\"request_id\", \"format\": \"json\" | \"pdf\"}");
  std::shared_lock<std::shared_mutex> reading(materials_mu_);
  OwnAnswers own = own_answers(req, "export", u.iin, request_id, true);
  if (own.refusal) return std::move(*own.refusal);
  const std::vector<store::StoredAnswer>& rows = own.rows;

  store::Export e;
  e.id = uuid_v7();
  e.request_id = request_id;
  e.iin = u.iin;
  e.body_bin = u.body_bin;
  e.format = format;
  e.exported_at = now;
  const std::string at = time::format_astana(now);
  const std::string mark = u.full_name + " · ЖСН/ИИН/IIN " + u.iin + " · " + request_id +
                           " · экспорт/export " + e.id + " · " + at;
  std::string bytes;
  if (format == "json") {
    ojson head;
    head["watermark"] = {{"text", mark},
                         {"user", {{"full_name", u.full_name}, {"iin", u.iin}}},
                         {"request_id", request_id},
                         {"export_id", e.id},
                         {"exported_at", at}};
    head["export_id"] = e.id;
    head["exported_at"] = at;
    head["notice"] = kNotice;
    bytes = answers_document(std::move(head), rows);
  } else {
    const store::StoredAnswer& first = rows.front();
    pdf::Document d;
    d.title = "aaj export " + e.id;
    d.watermark = mark;
    d.header =
        "ҚАО ААЖ · жергілікті көшірме: материалға тіркеп, дереу жойыңыз / локальная копия: "
        "приобщите к материалам и немедленно уничтожьте / local copy: attach to the case file "
        "and destroy at once";
    d.footer = mark;  // the watermark once more, horizontally: readable by text tools
    d.lines.push_back(
        {"Сұрау нәтижесінің көшірмесі / Копия результата запроса / Copy of a "
         "request's result",
         0, true});
    d.lines.push_back(
        {"Пайдаланушы / Пользователь / User: " + u.full_name + ", ЖСН/ИИН/IIN " + u.iin});
    d.lines.push_back({"Сұрау / Запрос / Request: " + request_id});
    d.lines.push_back({"Экспорт / Export: " + e.id + ", " + at});
    d.lines.push_back(
        {"Материал / Material: " + first.material_type + " " + first.material_number});
    d.lines.push_back(
        {"Журналға жазылды / Записано в журнал / Logged: " + time::format_astana(first.logged_at)});
    for (const auto& a : rows) {
      d.lines.push_back({""});
      const policy::ResourceInfo* info = policy_->catalog().find(a.resource);
      std::string title = a.resource;
      if (info && info->names.is_object())
        title += " — " + info->names.value("kk", std::string()) + " / " +
                 info->names.value("ru", std::string());
      d.lines.push_back({title, 0, true});
      d.lines.push_back({"SHA-256: " + a.sha256 + " · log_seq " + std::to_string(a.log_seq) +
                         (a.truncated ? " · қысқартылған / усечённый / truncated" : "")});
      if (!a.found) {
        d.lines.push_back({"Табылмады / Не найдено / Not found", 1});
        continue;
      }
      auto data = ojson::parse(a.data, nullptr, false);
      if (data.is_discarded()) {
        d.lines.push_back({a.data, 1});
        continue;
      }
      for (auto& l : pdf::json_lines(data, 1)) d.lines.push_back(std::move(l));
    }
    d.lines.push_back({""});
    d.lines.push_back({kNotice});
    auto rendered = pdf::render(d, {cfg_.export_pdf_font});
    if (!rendered) return error_response(rendered.error().code, "", rendered.error().detail);
    bytes = std::move(*rendered);
  }
  e.sha256 = pki::sha256_hex(bytes);
  e.size = static_cast<int64_t>(bytes.size());
  json resources = json::array();
  for (const auto& a : rows) resources.push_back(a.resource);
  // In the log before it leaves: which answer, to whom, in which form, and the exact bytes' hash.
  auto w = journal_->append(
      "answer_exported",
      {{"export_id", e.id},
       {"request_id", request_id},
       {"iin", u.iin},
       {"body_bin", u.body_bin},
       {"format", format},
       {"sha256", e.sha256},
       {"size", e.size},
       {"resources", resources},
       {"material",
        {{"type", rows.front().material_type}, {"number", rows.front().material_number}}},
       {"exported_at", at}});
  if (!w) return error_response("journal_unavailable", "", "");
  e.log_seq = w->seq;
  if (Status s = store_->add_export(e); !s)
    return error_response(s.error().code, "", s.error().detail);
  http::Response r;
  r.content_type = format == "json" ? "application/json" : "application/pdf";
  r.body = std::move(bytes);
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"aaj-export-" + e.id + "." + format + "\"");
  r.headers.emplace_back("X-Export-Id", e.id);
  r.headers.emplace_back("X-Export-SHA256", e.sha256);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// POST /api/v1/exports/destroyed {"export_id"}: the user confirms the local copy is destroyed.
http::Response GatewayImpl::confirm_export(const http::Request& req) {
  auto c = authenticate(req, time::now(), true);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  const std::string id = string_field(parse_json(req.body), "export_id");
  if (!plausible_id(id)) return error_response("malformed_request", "", "expected {\"export_id\"}");
  auto e = store_->find_export(id);
  if (!e) return error_response(e.error().code, "", e.error().detail);
  if (!*e) return answer_access_refused(req, "confirm", c->user.iin, id, {"export_unknown", ""});
  if ((*e)->iin != c->user.iin)
    return answer_access_refused(req, "confirm", c->user.iin, id,
                                 {"not_your_export", "only the user who exported it"});
  auto confirmed = [&](time::Instant at, bool before) {
    return json_response(200, {{"status", "confirmed"},
                               {"export_id", id},
                               {"request_id", (*e)->request_id},
                               {"confirmed_at", time::format_astana(at)},
                               {"already_confirmed", before}});
  };
  if ((*e)->confirmed()) return confirmed((*e)->confirmed_at, true);
  auto w = journal_->append("export_destroyed",
                            {{"export_id", id},
                             {"request_id", (*e)->request_id},
                             {"iin", c->user.iin},
                             {"format", (*e)->format},
                             {"sha256", (*e)->sha256},
                             {"exported_at", time::format_astana((*e)->exported_at)}});
  if (!w) return error_response("journal_unavailable", "", "");
  if (Status s = store_->confirm_export(id, w->at); !s) {
    if (s.error().code != "already_confirmed")  // a second confirmation raced this one
      return error_response(s.error().code, "", s.error().detail);
  }
  return confirmed(w->at, false);
}

// GET /api/v1/exports?state=unconfirmed|all (default unconfirmed): the caller's exports.
http::Response GatewayImpl::list_exports(const http::Request& req) {
  auto now = time::now();
  auto c = authenticate(req, now, true);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  std::string state = "unconfirmed";
  Status params = parse_query(req.query, [&](const std::string& k, const std::string& v) -> Status {
    if (k == "state") state = v;
    return {};
  });
  if (!params || (state != "unconfirmed" && state != "all"))
    return error_response("malformed_request", "", "state is unconfirmed or all");
  auto list = store_->list_exports({c->user.iin, "", state == "unconfirmed", {}});
  if (!list) return error_response(list.error().code, "", list.error().detail);
  const auto remind = std::chrono::minutes(cfg_.export_remind_after_minutes);
  json out = json::array();
  for (const auto& e : *list) {
    json j = {{"export_id", e.id},
              {"request_id", e.request_id},
              {"format", e.format},
              {"sha256", e.sha256},
              {"size", e.size},
              {"exported_at", time::format_astana(e.exported_at)},
              {"state", e.confirmed() ? "confirmed" : "unconfirmed"}};
    if (e.confirmed())
      j["confirmed_at"] = time::format_astana(e.confirmed_at);
    else
      j["overdue"] = e.exported_at + remind < now;
    out.push_back(std::move(j));
  }
  return json_response(200, {{"state", state},
                             {"remind_after_minutes", cfg_.export_remind_after_minutes},
                             {"exports", out}});
}

// GET /api/v1/answers?request_id=…: a stored answer, read again by the user who made the request
// (instead of keeping a local copy). Logged (answer_read).
http::Response GatewayImpl::read_answer(const http::Request& req) {
  auto now = time::now();
  auto c = requesting_user(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  auto request_id = request_id_param(req.query);
  if (!request_id) return error_response(request_id.error().code, "", request_id.error().detail);
  std::shared_lock<std::shared_mutex> reading(materials_mu_);
  const std::string& iin = c->user.iin;
  OwnAnswers own = own_answers(req, "read", iin, *request_id, true);
  if (own.refusal) return std::move(*own.refusal);
  auto w = journal_->append("answer_read", {{"request_id", *request_id}, {"iin", iin}});
  if (!w) return error_response("journal_unavailable", "", "");
  http::Response r;
  r.body = answers_document(ojson::object(), own.rows);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// GET /api/v1/evidence?request_id=: the evidence package of an answered request (R-LOG, R-USE;
// evidence/package.h) for the case materials, for the user who made the request. Logged
// (evidence_exported, with the package's SHA-256) before it leaves.
http::Response GatewayImpl::evidence_package(const http::Request& req) {
  auto now = time::now();
  auto c = requesting_user(req, now);
  if (!c) return error_response(c.error().code, "", c.error().detail);
  auto id_param = request_id_param(req.query);
  if (!id_param) return error_response(id_param.error().code, "", id_param.error().detail);
  const std::string& request_id = *id_param;
  std::shared_lock<std::shared_mutex> reading(materials_mu_);
  const std::string& iin = c->user.iin;
  // Destroyed answers are not refused: the package names them (with the act) instead.
  OwnAnswers own = own_answers(req, "evidence", iin, request_id, false);
  if (own.refusal) return std::move(*own.refusal);
  const std::vector<store::StoredAnswer>& rows = own.rows;
  // The request's records, from every stored answer's (one per resource of the request).
  std::vector<uint64_t> seqs;
  for (const auto& a : rows) seqs.push_back(a.log_seq);
  auto lines = evidence::request_records(cfg_.journal_dir, seqs, request_id);
  if (!lines)
    return error_response(
        lines.error().code == "record_unknown" ? "evidence_unavailable" : "journal_unavailable", "",
        lines.error().detail);
  json newest = json::parse(journal_->latest_head(), nullptr, false);
  if (!newest.is_object() || !newest.contains("head"))
    return error_response("evidence_unavailable", "", "the log has no signed head yet");
  const auto size = newest["head"]["size"].get<uint64_t>();
  evidence::PackageParts parts;
  parts.request_id = request_id;
  parts.record_lines = std::move(*lines);
  for (const auto& line : parts.record_lines) {
    const auto seq = json::parse(line)["seq"].get<uint64_t>();
    auto seal = evidence::rebuild_seal(cfg_.journal_dir, seq);
    if (!seal) return error_response("evidence_unavailable", "", seal.error().detail);
    auto proof = journal_->prove_inclusion(seq, size);
    if (!proof) return error_response("evidence_unavailable", "", proof.error().detail);
    parts.seals.push_back(std::move(*seal));
    parts.inclusions.push_back({{"size", size},
                                {"root", newest["head"]["root"]},
                                {"proof", *proof},
                                {"signed_head", newest}});
  }
  for (const auto& a : rows)
    parts.answers.push_back({a.resource,
                             a.destroyed() ? std::nullopt : std::optional<std::string>(a.data),
                             a.sha256, a.destroyed() ? destroyed_json(a) : json(nullptr)});
  for (const auto& anchor : trust_->anchors())
    parts.certificates_pem.push_back(pki::to_pem(anchor.get()));
  for (const auto& held : crls_->last_report().value("held", json::array())) {
    std::string name = held.value("file", std::string());
    name = name.substr(0, name.find('#'));
    auto bytes = pki::read_file(cfg_.crl_dir / name);
    if (bytes) parts.crls_pem.push_back(*bytes);
  }
  parts.exported_at = time::format_astana(now);
  parts.exported_by = iin;
  const std::string text = evidence::make_package(parts).dump(2);
  auto w = journal_->append("evidence_exported",
                            {{"request_id", request_id},
                             {"iin", iin},
                             {"user", {{"iin", iin}, {"body_bin", c->user.body_bin}}},
                             {"sha256", pki::sha256_hex(text)}});
  if (!w) return error_response("journal_unavailable", "", "");
  http::Response r;
  r.body = text;
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"aaj-evidence-" + request_id + ".json\"");
  return r;
}

void GatewayImpl::add_export_reminders(const store::User& u, time::Instant now, json& answer) {
  auto due = now - std::chrono::minutes(cfg_.export_remind_after_minutes);
  auto list = store_->list_exports({u.iin, "", true, due});
  if (!list || list->empty()) return;  // a reminder is not worth refusing an entry over
  json out = json::array();
  for (const auto& e : *list)
    out.push_back({{"export_id", e.id},
                   {"request_id", e.request_id},
                   {"exported_at", time::format_astana(e.exported_at)}});
  if (answer.contains("reminders") && answer["reminders"].is_array())
    answer["reminders"].push_back({{"code", "exports_unconfirmed"},
                                   {"message", messages::localized("exports_unconfirmed")},
                                   {"count", out.size()},
                                   {"endpoint", "/api/v1/exports/destroyed"}});
  answer["unconfirmed_exports"] = std::move(out);
}

}  // namespace aaj::app::detail
