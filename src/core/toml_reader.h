// Typed reads of a TOML configuration file, shared by `aaj serve`'s (app/config.cpp) and
// `aaj witness`'s (witness/config.cpp) readers. Header-only: a target including it links
// tomlplusplus::tomlplusplus itself.
//
// Exact typing: a key present with another type is an error naming the key, never converted and
// never silently the default. toml++'s value<T>() converts (`true` reads as the integer 1, 2.0 as
// the integer 2); value_exact<T>() does not, and is what this uses. An integer is then
// range-checked into the setting's C++ type: a negative number for an unsigned setting (which a
// cast would wrap to a huge one) or a number beyond an int's range is an error naming the key
// too.
#pragma once
#include <toml++/toml.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace aaj::toml_reader {

// The file parsed; error "config" naming the file and what is wrong with it.
inline Result<toml::table> parse_file(const std::filesystem::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Error{"config", file.string() + ": " + std::string(e.description())};
  }
}

// A path from the file: relative ones are resolved against `base` (the file's folder); "" stays
// empty (not set).
inline std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return {};
  std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

// Collects every problem of a file, so that one run names all of them (check()).
class Reader {
 public:
  // node's value, `fallback` when the key is absent. T: std::string, bool or an integer type.
  template <class T, class Node>
  T get(Node node, const std::string& key, T fallback) {
    if (!node) return fallback;
    if constexpr (std::same_as<T, std::string> || std::same_as<T, bool>) {
      if (auto v = node.template value_exact<T>()) return *v;
    } else {
      static_assert(std::integral<T>, "a setting is a string, a boolean or an integer");
      if (auto v = node.template value_exact<int64_t>()) {
        if (std::in_range<T>(*v)) return static_cast<T>(*v);
        out_of_range_.push_back(key + " = " + std::to_string(*v) + " is out of range (" +
                                std::to_string(std::numeric_limits<T>::min()) + ".." +
                                std::to_string(std::numeric_limits<T>::max()) + ")");
        return fallback;
      }
    }
    wrong_.push_back(key);
    return fallback;
  }

  // An array of strings; each element that is not a string is named ("key[i]"), as is a key
  // that is not an array. Absent: empty.
  template <class Node>
  std::vector<std::string> strings(Node node, const std::string& key) {
    std::vector<std::string> out;
    if (!node) return out;
    const toml::array* arr = node.as_array();
    if (!arr) {
      wrong_.push_back(key);
      return out;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      if (auto s = (*arr)[i].template value_exact<std::string>())
        out.push_back(std::move(*s));
      else
        wrong_.push_back(key + "[" + std::to_string(i) + "]");
    }
    return out;
  }

  // Error "config" naming every key read with the wrong type or out of range, or success.
  Status check(const std::string& file) const {
    if (wrong_.empty() && out_of_range_.empty()) return {};
    std::string detail;
    if (!wrong_.empty()) {
      detail = "wrong type for ";
      for (size_t i = 0; i < wrong_.size(); ++i) detail += (i ? ", " : "") + wrong_[i];
    }
    for (const std::string& r : out_of_range_) detail += (detail.empty() ? "" : "; ") + r;
    return Error{"config", file + ": " + detail};
  }

 private:
  std::vector<std::string> wrong_;
  std::vector<std::string> out_of_range_;
};

}  // namespace aaj::toml_reader
