// The simulated case register: the registers of criminal cases (ERDR), court cases, enforcement
// proceedings, administrative-offence and search cases, reduced to what ground verification asks
// of them — does the case exist, is it open, and which body conducts it. Unlike the resources'
// synthetic data it is stateful: cases come from a JSON file given at start and from
// POST /control/cases, so a demo or a test decides which cases exist.
//
// Protocol: the register is the pseudo-resource "CASES" of the http-json connector protocol, so
// it gets the same connector, timeouts and circuit breaker as any source:
//   POST /query {"resource":"CASES","key":{"case":{"type","number"}}} → 200 {"result":"ok",
//        "data":{"type","number","status","body_bin","registered_on"?,"court"?}} |
//        404 {"result":"not_found"} | 400 {"result":"bad_key"}
//   POST /control/cases {"cases":[{"type","number","status","body_bin","registered_on",
//        "court"?}], "replace": false} → 200 {"result":"ok","count":N}
// Thread-safe.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::sourcesim {

class CaseRegistry {
 public:
  // Adds or replaces cases from a JSON array of case objects (see above). Error "bad_request"
  // naming the first malformed entry; nothing is added then.
  Status add(const nlohmann::json& cases, bool replace_all);
  // Loads a file holding {"cases":[...]} (or a bare array). Errors: "unreadable", "bad_request".
  Status load(const std::filesystem::path& file);
  // The case, or null.
  nlohmann::json find(const std::string& type, const std::string& number) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> cases_;
};

}  // namespace aaj::sourcesim
