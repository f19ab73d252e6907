// Internal to aaj_journal: the pieces of signed tree heads and answer seals
// (docs/journal-format.md §3–§4). Pure; thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "journal/merkle.h"

namespace aaj::journal::heads {

// The body fields a seal leaf names when they are strings.
inline constexpr const char* kSealLeafFields[] = {"request_id", "answer_sha256", "cms_sha256"};

// The seal leaf object of a record (§4): log_seq, record_hash, and the body's request_id,
// answer_sha256 and cms_sha256 when they are strings in `body_json` (the record body's
// canonical text).
nlohmann::json seal_leaf(uint64_t seq, std::string_view record_hash, std::string_view body_json);

// The head object (§3).
nlohmann::json make_head(std::string_view log_id, uint64_t size, const merkle::Hash& root,
                         uint64_t first_seq, uint64_t last_seq, const merkle::Hash& batch_root,
                         time::Instant at);

// Canonical JSON text (dump()).
std::string canonical(const nlohmann::json& j);

std::vector<std::string> hex_list(const std::vector<merkle::Hash>& hashes);

}  // namespace aaj::journal::heads
