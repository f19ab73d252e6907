// Internal to aaj_witness: small helpers shared by the service (witness.cpp) and its client
// (client.cpp). Pure, thread-safe.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace aaj::witness::internal {

// obj[key] if it is a string, else nullptr (also when obj is not an object).
inline const std::string* string_member(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

}  // namespace aaj::witness::internal
