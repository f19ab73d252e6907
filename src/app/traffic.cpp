#include "app/traffic.h"

#include <algorithm>

namespace aaj::app {

void TrafficSummary::note(const std::string& path, int status, int64_t micros) {
  std::lock_guard<std::mutex> l(mu_);
  Counts& c = paths_[path];
  ++c.requests;
  c.total_us += static_cast<uint64_t>(std::max<int64_t>(0, micros));
  c.max_us = std::max(c.max_us, micros);
  ++c.by_status[status];
}

nlohmann::json TrafficSummary::take(double seconds) {
  std::map<std::string, Counts> taken;
  {
    std::lock_guard<std::mutex> l(mu_);
    taken.swap(paths_);
  }
  if (taken.empty()) return nullptr;
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& [path, c] : taken) {
    nlohmann::json by_status = nlohmann::json::object();
    for (const auto& [status, n] : c.by_status) by_status[std::to_string(status)] = n;
    paths[path] = {{"requests", c.requests},
                   {"by_status", by_status},
                   {"mean_us", c.requests ? c.total_us / c.requests : 0},
                   {"max_us", c.max_us}};
  }
  return {{"event", "http_summary"}, {"seconds", static_cast<int64_t>(seconds)}, {"paths", paths}};
}

}  // namespace aaj::app
