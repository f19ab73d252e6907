#include "core/messages.h"

#include <stdexcept>

#include "core/embedded.h"

namespace aaj::embedded {
std::span<const File> bundle_i18n();
}

namespace aaj::messages {

const nlohmann::json& all() {
  static const nlohmann::json catalogue = [] {
    const auto* f = embedded::find(embedded::bundle_i18n(), "errors.json");
    if (!f) throw std::logic_error("errors.json not embedded");
    nlohmann::json j = nlohmann::json::parse(f->data);
    j.erase("_comment");
    return j;
  }();
  return catalogue;
}

bool has(std::string_view code) {
  return all().contains(std::string(code));
}

const nlohmann::json& localized(std::string_view code) {
  const auto& c = all();
  auto it = c.find(std::string(code));
  return it != c.end() ? *it : c.at("internal_error");
}

}  // namespace aaj::messages
