// Counts of the data requests answered, for the server log: one summary line per interval
// instead of a line per request (each request is in the event log already, with its outcome,
// and thousands of lines a second would drown every other event). Thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace aaj::app {

class TrafficSummary {
 public:
  // Counts one answered request.
  void note(const std::string& path, int status, int64_t micros);
  // The counts since the last take, and resets them; null when nothing was answered:
  //   {"event":"http_summary","seconds":…,"paths":{path:{"requests":n,"by_status":{"200":n,…},
  //    "mean_us":…,"max_us":…}}}
  nlohmann::json take(double seconds);

 private:
  struct Counts {
    uint64_t requests = 0;
    uint64_t total_us = 0;
    int64_t max_us = 0;
    std::map<int, uint64_t> by_status;
  };
  std::mutex mu_;
  std::map<std::string, Counts> paths_;
};

}  // namespace aaj::app
