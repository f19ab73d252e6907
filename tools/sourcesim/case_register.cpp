#include "tools/sourcesim/case_register.h"

#include <fstream>
#include <sstream>

namespace aaj::sourcesim {
namespace {

bool text(const nlohmann::json& j, const char* key, bool required = true) {
  auto it = j.find(key);
  if (it == j.end()) return !required;
  return it->is_string() && !it->get<std::string>().empty();
}

}  // namespace

Status CaseRegistry::add(const nlohmann::json& cases, bool replace_all) {
  if (!cases.is_array()) return Error{"bad_request", "cases must be an array"};
  std::map<std::pair<std::string, std::string>, nlohmann::json> parsed;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    if (!c.is_object() || !text(c, "type") || !text(c, "number") || !text(c, "status") ||
        !text(c, "body_bin") || !text(c, "registered_on", false) || !text(c, "court", false))
      return Error{"bad_request",
                   "case " + std::to_string(i) + " needs strings type, number, status, body_bin"};
    const std::string status = c["status"].get<std::string>();
    if (status != "open" && status != "closed" && status != "suspended")
      return Error{"bad_request", "case " + std::to_string(i) + ": status open|closed|suspended"};
    parsed[{c["type"].get<std::string>(), c["number"].get<std::string>()}] = c;
  }
  std::lock_guard<std::mutex> l(mu_);
  if (replace_all) cases_.clear();
  for (auto& [k, v] : parsed) cases_[k] = std::move(v);
  return {};
}

Status CaseRegistry::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return Error{"unreadable", file.string()};
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_object() && j.contains("cases")) j = j["cases"];
  if (j.is_discarded()) return Error{"bad_request", file.string() + " is not JSON"};
  return add(j, true);
}

nlohmann::json CaseRegistry::find(const std::string& type, const std::string& number) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = cases_.find({type, number});
  return it == cases_.end() ? nlohmann::json(nullptr) : it->second;
}

size_t CaseRegistry::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return cases_.size();
}

}  // namespace aaj::sourcesim
