// Key validation and the resource registry.
#include "sources/sim/generator.h"

#include <array>

#include "core/ids.h"
#include "sources/sim/internal.h"

namespace aaj::sim {
namespace {

// ---- Key kinds: one validator per key name, shared by every resource that accepts it. ----

// The reserved serial of IINs whose person does not exist (digits 8-11 of the IIN).
constexpr std::string_view kNotFoundSerial = "9999";

Status validate_iin(std::string_view v) {
  if (!ids::parse_iin(v))
    return Error{"bad_key", "iin must be 12 digits with a real birth date and a valid check digit"};
  if (v.substr(7, 4) == kNotFoundSerial)
    return Error{"not_found", "no person with this iin (synthetic serial 9999)"};
  return Status::Ok();
}

struct KeyKind {
  std::string_view name;
  Status (*validate)(std::string_view value);
};

constexpr KeyKind kKeyKinds[] = {
    {"iin", &validate_iin},
};

// ---- Resources: one row per resource, ascending by id. ----

constexpr size_t kMaxKeys = 4;

struct ResourceEntry {
  std::string_view id;
  std::array<std::string_view, kMaxKeys> keys;  // unused slots are empty
  internal::Generator generate;
};

constexpr ResourceEntry kResources[] = {
    {"R01", {"iin"}, &internal::generate_r01_individuals},
    {"R11", {"iin"}, &internal::generate_r11_pension},
};

const ResourceEntry* find_resource(std::string_view id) {
  for (const auto& r : kResources)
    if (r.id == id) return &r;
  return nullptr;
}

const KeyKind* find_key_kind(std::string_view name) {
  for (const auto& k : kKeyKinds)
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace

Result<nlohmann::json> generate(std::string_view resource, const nlohmann::json& key) {
  const ResourceEntry* entry = find_resource(resource);
  if (!entry)
    return Error{"unsupported_resource", "no simulated resource " + std::string(resource)};
  if (!key.is_object() || key.size() != 1)
    return Error{"bad_key", "key must be a JSON object with exactly one search field"};
  const std::string& name = key.begin().key();
  bool accepted = false;
  for (std::string_view k : entry->keys) accepted = accepted || (!k.empty() && k == name);
  const KeyKind* kind = find_key_kind(name);
  if (!accepted || !kind)
    return Error{"unsupported_key",
                 std::string(resource) + " cannot be searched by \"" + name + "\""};
  if (!key.begin().value().is_string())
    return Error{"bad_key", "the value of \"" + name + "\" must be a string"};
  const std::string& value = key.begin().value().get_ref<const std::string&>();
  if (Status s = kind->validate(value); !s.ok()) return s.error();
  return entry->generate(name, value);
}

std::vector<std::string> supported_resources() {
  std::vector<std::string> out;
  for (const auto& r : kResources) out.emplace_back(r.id);
  return out;
}

}  // namespace aaj::sim
