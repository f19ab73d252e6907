#include "journal/heads.h"

#include <iterator>

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

SealLeafFields seal_leaf_fields(const nlohmann::json& body) {
  static_assert(std::size(kSealLeafFields) == 3, "SealLeafFields names each of them");
  auto field = [&body](const char* name) -> std::optional<std::string> {
    auto it = body.find(name);
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  return {.request_id = field("request_id"),
          .answer_sha256 = field("answer_sha256"),
          .cms_sha256 = field("cms_sha256")};
}

bool append_canonical_seal_leaf(std::string& out, uint64_t seq, std::string_view record_hash,
                                const SealLeafFields& fields) {
  // Sorted member names: answer_sha256 < cms_sha256 < log_seq < record_hash < request_id.
  out += '{';
  if (fields.answer_sha256) {
    out += "\"answer_sha256\":";
    if (!json_scan::append_string(out, *fields.answer_sha256)) return false;
    out += ',';
  }
  if (fields.cms_sha256) {
    out += "\"cms_sha256\":";
    if (!json_scan::append_string(out, *fields.cms_sha256)) return false;
    out += ',';
  }
  out += "\"log_seq\":";
  out += std::to_string(seq);
  out += ",\"record_hash\":";
  if (!json_scan::append_string(out, record_hash)) return false;
  if (fields.request_id) {
    out += ",\"request_id\":";
    if (!json_scan::append_string(out, *fields.request_id)) return false;
  }
  out += '}';
  return true;
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

Result<std::vector<merkle::Hash>> unhex_list(const nlohmann::json& list) {
  if (!list.is_array()) return Error{"malformed", "a proof is not a list of hashes"};
  std::vector<merkle::Hash> out;
  out.reserve(list.size());
  for (const auto& h : list) {
    auto v = h.is_string() ? merkle::from_hex(h.get_ref<const std::string&>()) : std::nullopt;
    if (!v) return Error{"malformed", "a proof hash is not 64 hex characters"};
    out.push_back(*v);
  }
  return out;
}

bool HeadLine::is_signed() const {
  return value.contains("signature") && value["signature"].is_string();
}

std::optional<HeadLine> parse_head_line(std::string_view line) {
  HeadLine h;
  h.value = nlohmann::json::parse(line, nullptr, false);
  if (!h.value.is_object() || !h.value.contains("head") || !h.value["head"].is_object())
    return std::nullopt;
  const nlohmann::json& head = h.value["head"];
  if (!head.contains("size") || !head["size"].is_number_unsigned() || !head.contains("root") ||
      !head["root"].is_string())
    return std::nullopt;
  h.size = head["size"].get<uint64_t>();
  h.root = head["root"].get<std::string>();
  if (head.contains("batch") && head["batch"].is_object()) {
    const nlohmann::json& b = head["batch"];
    if (b.contains("first_seq") && b["first_seq"].is_number_unsigned() && b.contains("last_seq") &&
        b["last_seq"].is_number_unsigned())
      h.batch.emplace(b["first_seq"].get<uint64_t>(), b["last_seq"].get<uint64_t>());
  }
  return h;
}

bool HeadsReader::next(Line& out) {
  std::string text;
  if (!in_ || !std::getline(in_, text)) return false;
  if (in_.eof()) {  // no '\n' after it: torn
    tail_ = text.size();
    return false;
  }
  out.number = ++line_;
  out.head = parse_head_line(text);
  out.text = std::move(text);
  return true;
}

}  // namespace aaj::journal::heads
