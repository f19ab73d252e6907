#include "journal/heads.h"

#include "core/json_scan.h"

namespace aaj::journal::heads {

nlohmann::json seal_leaf(uint64_t seq, std::string_view record_hash, std::string_view body_json) {
  nlohmann::json leaf = {{"log_seq", seq}, {"record_hash", std::string(record_hash)}};
  auto members = json_scan::object_members(body_json);
  if (!members) return leaf;
  for (const char* name : kSealLeafFields) {
    const json_scan::Member* m = json_scan::find(*members, name);
    if (!m || m->value.empty() || m->value.front() != '"') continue;
    if (auto v = json_scan::string_value(m->value)) leaf[name] = std::move(*v);
  }
  return leaf;
}

nlohmann::json make_head(std::string_view log_id, uint64_t size, const merkle::Hash& root,
                         uint64_t first_seq, uint64_t last_seq, const merkle::Hash& batch_root,
                         time::Instant at) {
  return {
      {"at", time::format_utc(at)},
      {"at_astana", time::format_astana(at)},
      {"batch",
       {{"first_seq", first_seq}, {"last_seq", last_seq}, {"root", merkle::to_hex(batch_root)}}},
      {"log", std::string(log_id)},
      {"root", merkle::to_hex(root)},
      {"size", size}};
}

std::string canonical(const nlohmann::json& j) {
  return j.dump();
}

std::vector<std::string> hex_list(const std::vector<merkle::Hash>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const auto& h : hashes) out.push_back(merkle::to_hex(h));
  return out;
}

}  // namespace aaj::journal::heads
