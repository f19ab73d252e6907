// Obtained information attached to its material (R-USE-2) and destroyed with it (R-USE-3):
// the request path hands every released answer to the answer archive, and a departmental
// controller destroys the answers of a material obtained by their body's users, by a signed act.
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "app/gateway_impl.h"
#include "core/grounds.h"
#include "pki/openssl_util.h"

namespace aaj::app::detail {
namespace {

json material_json(const std::string& type, const std::string& number) {
  return {{"type", type}, {"number", number}};
}

}  // namespace

Status GatewayImpl::init_materials() {
  AnswerArchive::Options o;
  o.max_queue = static_cast<size_t>(cfg_.archive_max_queue);
  archive_ = std::make_unique<AnswerArchive>(
      [this](const std::vector<store::StoredAnswer>& batch) { return store_->add_answers(batch); },
      o,
      // Only at shutdown, when the store kept failing: the log says which answers are missing.
      [this](const std::vector<store::StoredAnswer>& lost, const Error& e) {
        json ids = json::array();
        for (const auto& a : lost)
          ids.push_back({{"request_id", a.request_id},
                         {"resource", a.resource},
                         {"answer_sha256", a.sha256}});
        spdlog::error(
            "{}",
            json{{"event", "answers_not_archived"}, {"count", lost.size()}, {"detail", e.detail}}
                .dump());
        (void)journal_->append("answers_not_archived", {{"answers", ids}, {"detail", e.detail}});
      });
  return {};
}

store::StoredAnswer stored_answer(const Pending& p, size_t i, bool found, std::string data,
                                  std::string sha256) {
  store::StoredAnswer a;
  a.request_id = p.tr.request_id;
  a.material_type = string_field(p.ground, "type");
  a.material_number = string_field(p.ground, "number");
  a.iin = p.asker.user.iin;
  a.body_bin = p.asker.user.body_bin;
  a.resource = p.resources[i];
  a.found = found;
  a.truncated = p.decisions[i].access == policy::Access::Truncated;
  a.data = std::move(data);
  a.sha256 = std::move(sha256);
  return a;
}

bool GatewayImpl::archive_answers(const PendingPtr& p, std::vector<store::StoredAnswer> answers) {
  if (archive_->submit(std::move(answers))) return true;
  withhold(p, "the answer archive is full");
  return false;
}

// Fail safe for evidence: an answer that cannot be kept with its material is not released.
void GatewayImpl::withhold(const PendingPtr& p, const std::string& detail) {
  json rec = {
      {"request_id", p->tr.request_id}, {"code", "archive_unavailable"}, {"detail", detail}};
  if (!p->tr.user.is_null()) rec["user"] = p->tr.user;
  journal_->append_async(
      "answer_withheld", std::move(rec), [this, p, detail](Result<journal::Receipt> w) {
        reply(p, error_response(w ? "archive_unavailable" : "journal_unavailable", p->tr.request_id,
                                w ? detail : ""));
      });
}

// POST /api/v1/materials/destroy {"cms"}: the controller's signed act
// {"material":{"type","number"}, "act":{"number","date"}, "reason", "signed_at"}. Destroys the
// data of every stored answer of that material obtained by users of the controller's body.
http::Response GatewayImpl::destroy_material(const http::Request& req) {
  std::string scope;
  auto c = staff(req, "controller", &scope);
  if (!c) return refusal_or_error(req, c.error());
  const std::string& iin = c->user.iin;
  auto now = time::now();
  json body = parse_json(req.body);
  auto signed_doc = signed_document(body.is_object() ? body.value("cms", json()) : json(), now);
  if (!signed_doc) return staff_refusal(req, iin, signed_doc.error());
  if (Status s = signer_acts_for(signed_doc->verified.signer, c->user); !s)
    return staff_refusal(req, iin, s.error());
  const json& doc = signed_doc->content;
  const json material = doc.is_object() ? doc.value("material", json()) : json();
  const json act = doc.is_object() ? doc.value("act", json()) : json();
  const std::string type = string_field(material, "type"),
                    number = string_field(material, "number");
  const std::string act_number = string_field(act, "number"), act_date = string_field(act, "date");
  const std::string reason = string_field(doc, "reason");
  auto bad = [&](const std::string& detail) {
    return staff_refusal(req, iin, {"invalid_document", detail});
  };
  if (!grounds::is_known_type(type)) return bad("material.type must be a ground type");
  if (number.empty() || number.size() > 64) return bad("material.number is required");
  if (act_number.empty() || act_number.size() > 64) return bad("act.number is required");
  auto act_day = time::parse_date(act_date);
  if (!act_day) return bad("act.date must be YYYY-MM-DD");
  if (*act_day > time::astana_day(now)) return bad("act.date is in the future");
  if (reason.size() < 3) return bad("reason is required");
  if (Status f = check_signed_at(string_field(doc, "signed_at"), now, skew()); !f)
    return staff_refusal(req, iin, f.error());

  // No export or read of these answers runs while they are destroyed.
  std::unique_lock<std::shared_mutex> alone(materials_mu_);
  // Answers released before this moment may still be queued: they belong to the material too.
  if (Status f = archive_->flush(); !f) return error_response(f.error().code, "", f.error().detail);
  auto rows = store_->answers_of_material(type, number, scope);
  if (!rows) return error_response(rows.error().code, "", rows.error().detail);
  if (rows->empty())
    return staff_refusal(req, iin,
                         {"material_unknown", "no answers of " + type + " " + number +
                                                  " were obtained by users of body " + scope});
  json to_destroy = json::array(), already = json::array();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& a : *rows) {
    if (a.destroyed()) {
      already.push_back(
          {{"request_id", a.request_id},
           {"resource", a.resource},
           {"destroyed_at", time::format_astana(a.destroyed_at)},
           {"act", {{"number", a.destruction_act}, {"date", a.destruction_act_date}}}});
      continue;
    }
    to_destroy.push_back({{"request_id", a.request_id},
                          {"resource", a.resource},
                          {"iin", a.iin},
                          {"answer_sha256", a.sha256},
                          {"logged_at", time::format_astana(a.logged_at)}});
    keys.emplace_back(a.request_id, a.resource);
  }
  // The act is in the log before anything is destroyed.
  auto w =
      journal_->append("material_destroyed", {{"material", material_json(type, number)},
                                              {"body_bin", scope},
                                              {"act", {{"number", act_number}, {"date", act_date}}},
                                              {"reason", reason},
                                              {"controller", iin},
                                              {"signer", signer_json(signed_doc->verified.signer)},
                                              {"cms", pki::base64_encode(signed_doc->der)},
                                              {"answers", to_destroy},
                                              {"already_destroyed", already.size()}});
  if (!w) return error_response("journal_unavailable", "", "");
  bool checkpointed = false;
  auto done =
      store_->destroy_answers(keys, {w->at, iin, act_number, act_date, w->seq}, &checkpointed);
  if (!done)
    return error_response(
        done.error().code, "",
        "the act is logged but the answers are not destroyed yet: send it again (" +
            done.error().detail + ")");
  json destroyed = json::array();
  std::set<std::string> ids;
  for (const auto& [request_id, resource] : *done) {
    destroyed.push_back({{"request_id", request_id}, {"resource", resource}});
    ids.insert(request_id);
  }
  // Copies exported earlier are the users' to destroy: named here so the controller can follow up.
  json exports = json::array();
  if (auto list = store_->list_exports({"", scope, true, {}}))
    for (const auto& e : *list)
      if (ids.count(e.request_id))
        exports.push_back({{"export_id", e.id},
                           {"request_id", e.request_id},
                           {"iin", e.iin},
                           {"exported_at", time::format_astana(e.exported_at)}});
  return json_response(200, {{"status", destroyed.empty() ? "already_destroyed" : "destroyed"},
                             {"material", material_json(type, number)},
                             {"body_bin", scope},
                             {"act", {{"number", act_number}, {"date", act_date}}},
                             {"destroyed", destroyed},
                             {"already_destroyed", already},
                             {"destroyed_at", w->at_astana},
                             {"log_seq", w->seq},
                             {"checkpointed", checkpointed},
                             {"unconfirmed_exports", exports}});
}

// GET /api/v1/controller/exports: exports by the controller's body's users whose destruction the
// user has not confirmed, oldest first; "overdue" past [exports] remind_after_minutes.
http::Response GatewayImpl::controller_exports(const http::Request& req) {
  std::string scope;
  auto c = staff(req, "controller", &scope);
  if (!c) return refusal_or_error(req, c.error());
  auto now = time::now();
  auto list = store_->list_exports({"", scope, true, {}});
  if (!list) return error_response(list.error().code, "", list.error().detail);
  const auto remind = std::chrono::minutes(cfg_.export_remind_after_minutes);
  std::map<std::string, std::string> names;
  json out = json::array();
  int overdue = 0;
  for (const auto& e : *list) {
    if (!names.count(e.iin)) {
      auto u = store_->find_user(e.iin);
      names[e.iin] = u && *u ? (*u)->full_name : "";
    }
    bool late = e.exported_at + remind < now;
    overdue += late ? 1 : 0;
    out.push_back({{"export_id", e.id},
                   {"request_id", e.request_id},
                   {"iin", e.iin},
                   {"full_name", names[e.iin]},
                   {"format", e.format},
                   {"exported_at", time::format_astana(e.exported_at)},
                   {"overdue", late}});
  }
  return json_response(200, {{"body_bin", scope},
                             {"now", time::format_astana(now)},
                             {"unconfirmed", out.size()},
                             {"overdue", overdue},
                             {"exports", out}});
}

}  // namespace aaj::app::detail
