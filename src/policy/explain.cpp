// Presenting decisions: the explanation object, the truncated view of an answer, and the
// `aaj policy explain` command.
#include <algorithm>

#include "core/messages.h"
#include "core/time.h"
#include "policy/policy.h"

namespace aaj::policy {

using nlohmann::json;

namespace {
json str_or_null(std::string_view s) {
  return s.empty() ? json(nullptr) : json(std::string(s));
}
}  // namespace

json explain(const Decision& d) {
  json j = json::object();
  j["decision"] = d.allow ? "allow" : "deny";
  j["access"] = std::string(to_string(d.access));
  j["rule"] = str_or_null(d.rule);
  if (!d.ground_rule.empty()) j["ground_rule"] = std::string(d.ground_rule);
  j["policy_version"] = str_or_null(d.version);
  j["effective_from"] =
      d.effective_from == kNoDay ? json(nullptr) : json(time::format_date(d.effective_from));
  j["effective_from_verified"] = d.effective_from_verified;
  j["verified"] = d.verified;
  if (!d.allow) j["code"] = std::string(d.code);
  return j;
}

json apply_truncation(const json& data, const ResourceInfo& info) {
  if (data.is_array()) {
    json out = json::array();
    for (const json& e : data) out.push_back(apply_truncation(e, info));
    return out;
  }
  if (!data.is_object()) return data;
  json out = json::object();
  const auto& keep = info.truncated_keep;
  for (auto it = data.begin(); it != data.end(); ++it)
    if (std::find(keep.begin(), keep.end(), it.key()) != keep.end())
      out[it.key()] = apply_truncation(it.value(), info);
  return out;
}

int policy_explain_command(const std::string& user_type, const std::string& ground,
                           const std::string& resource, const std::string& at,
                           const std::string& policy_dir, std::ostream& out, std::ostream& err) {
  auto usage = [&](const std::string& code, const std::string& message,
                   json extra = json::object()) {
    json j = {{"error", code}, {"message", message}};
    j.update(extra);
    out << j.dump() << "\n";
    err << "aaj policy explain: " << message << "\n";
    return 2;
  };

  auto loaded = policy_dir.empty() ? Engine::load_embedded() : Engine::load_dir(policy_dir);
  if (!loaded) return usage(loaded.error().code, loaded.error().detail);
  const Engine& engine = **loaded;

  int64_t day;
  if (at.empty()) {
    // "Today" is the Astana calendar day (R-OPS-1); without the zone we would guess the date.
    Status zone = time::load_astana_zone();
    if (!zone.ok())
      return usage(zone.error().code, "cannot tell today's Astana date: " + zone.error().detail);
    day = time::astana_day(time::now());
  } else {
    auto parsed = time::parse_date(at);  // exactly YYYY-MM-DD, a real date
    if (!parsed)
      return usage("malformed_request",
                   "--at must be a calendar date YYYY-MM-DD, got \"" + at + "\"");
    day = *parsed;
  }

  Decision d = engine.decide(user_type, ground, resource, day);
  auto english = [](std::string_view code) {
    std::string m = messages::localized(code).value("en", std::string(code));
    if (!m.empty() && m.back() == '.') m.pop_back();
    return m + ":";
  };
  if (d.code == "unknown_user_type")
    return usage("unknown_user_type", english(d.code) + " \"" + user_type + "\"",
                 {{"expected", engine.user_types()}});
  if (d.code == "unknown_ground")
    return usage("unknown_ground", english(d.code) + " \"" + ground + "\"",
                 {{"expected", engine.grounds()}});
  if (d.code == "unknown_resource")
    return usage("unknown_resource", english(d.code) + " \"" + resource + "\" (R01..R52)");

  out << explain(d).dump() << "\n";
  return d.allow ? 0 : 1;
}

}  // namespace aaj::policy
