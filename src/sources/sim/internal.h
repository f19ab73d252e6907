// Internal to the simulator library: helpers shared by the per-resource generators, and the
// generator functions themselves. Not part of the API (include generator.h instead).
//
// Adding a resource: write rNN_<name>.cpp defining one Generator, declare it below, and add one
// row to the registry table in generator.cpp (and, for a new kind of key, one validator row).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "sources/sim/generator.h"

namespace aaj::sim::internal {

// A generator answers one resource for a key that generate() has already validated: key_name is
// one of the resource's key names from the registry and value passed that key's validator (for
// "iin": ids::parse_iin succeeds and the serial is not the reserved not-found serial 9999).
using Generator = Result<nlohmann::json> (*)(std::string_view key_name, std::string_view value);

Result<nlohmann::json> generate_r01_individuals(std::string_view key_name, std::string_view value);
Result<nlohmann::json> generate_r11_pension(std::string_view key_name, std::string_view value);

// {"code","nameRu","nameKz"}.
nlohmann::json dict_json(const DictItem& item);

// "YYYY-MM-DD".
std::string date_string(int year, int month, int day);

// Days since 1970-01-01 of kToday.
int64_t today_days();

// Money in tiyn (1/100 KZT) as "N.NN"; requires tiyn >= 0.
std::string format_tiyn(int64_t tiyn);

}  // namespace aaj::sim::internal
