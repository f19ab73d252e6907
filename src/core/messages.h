// The catalogue of user-facing error messages (i18n/errors.json, compiled in): one message per
// stable error code in Kazakh, Russian and English.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

namespace aaj::messages {

// {"kk": …, "ru": …, "en": …} for `code`. An unknown code yields the "internal_error" texts
// (so a missing translation never leaks an empty message). Thread-safe.
const nlohmann::json& localized(std::string_view code);

// True when the catalogue has `code`.
bool has(std::string_view code);

// The whole catalogue (code -> texts), for tests and documentation.
const nlohmann::json& all();

}  // namespace aaj::messages
