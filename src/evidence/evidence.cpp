#include "evidence/evidence.h"

#include "journal/heads.h"
#include "journal/merkle.h"
#include "pki/openssl_util.h"

namespace aaj::evidence {

using nlohmann::json;

std::string operator_bin(std::string_view log_id) {
  // "aaj:<BIN>:<installation>"
  if (log_id.rfind("aaj:", 0) != 0) return "";
  auto rest = log_id.substr(4);
  auto colon = rest.find(':');
  return std::string(rest.substr(0, colon));
}

Status check_system_signature(const pki::CmsVerifier& verifier, std::string_view canonical,
                              std::string_view signature_b64) {
  json obj = json::parse(canonical, nullptr, false);
  if (!obj.is_object()) return Error{"malformed", "the signed object is not JSON"};
  std::string when = string_of(obj, "at");
  if (when.empty()) when = string_of(obj, "sealed_at");
  auto at = time::parse_iso8601(when);
  if (!at) return Error{"malformed", "the signed object states no time (at / sealed_at)"};
  pki::VerifyResult v =
      verifier.verify_detached(signature_b64, canonical, {*at, pki::Usage::Signing, true});
  if (!v.valid) return Error{"bad_signature", v.reason + (v.detail.empty() ? "" : ": " + v.detail)};
  const std::string bin = operator_bin(string_of(obj, "log"));
  if (!bin.empty() && v.signer.bin != bin)
    return Error{"bad_signature", "signed by BIN " + v.signer.bin + ", the log belongs to " + bin};
  return {};
}

std::string string_of(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<uint64_t> uint_of(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

Status check_signed_head_shape(const json& signed_head) {
  if (signed_head.is_null() ||
      (signed_head.is_object() && signed_head.contains("head") && signed_head["head"].is_object() &&
       signed_head.contains("signature") && signed_head["signature"].is_string()))
    return {};
  return Error{"malformed", "signed_head is not {head, signature}"};
}

Status check_signed_head(const pki::CmsVerifier& verifier, const json& signed_head, uint64_t size,
                         const std::string& root) {
  if (signed_head.is_null())
    return Error{"unsigned", "no signed head of size " + std::to_string(size) +
                                 ": the root is not one the system signed"};
  if (Status s = check_signed_head_shape(signed_head); !s) return s;
  const json& h = signed_head["head"];
  if (uint_of(h, "size") != size || string_of(h, "root") != root)
    return Error{"bad_proof", "the signed head is of another size or root"};
  return check_system_signature(verifier, h.dump(), signed_head["signature"].get<std::string>());
}

namespace {

Status check_seal(const pki::CmsVerifier& verifier, const json& seal,
                  std::optional<std::string_view> data_text, bool check_answer) {
  auto fail = [](const std::string& what) { return Error{"bad_seal", what}; };
  if (!seal.is_object() || !seal.contains("leaf") || !seal["leaf"].is_object() ||
      !seal.contains("head") || !seal["head"].is_object() || !seal.contains("proof") ||
      !seal["proof"].is_array() || !seal.contains("signature") || !seal["signature"].is_string())
    return fail("not a seal (leaf, head, proof, signature)");
  const json& leaf = seal["leaf"];
  const json& head = seal["head"];
  if (check_answer) {
    const bool answered = leaf.contains("answer_sha256");
    if (answered && !data_text)
      return Error{"answer_missing",
                   "the seal names an answer (answer_sha256) but the answer carries no data"};
    if (data_text && (!answered || leaf["answer_sha256"] != pki::sha256_hex(*data_text)))
      return fail("the data's SHA-256 is not the sealed answer_sha256");
  }
  const json batch = head.contains("batch") ? head["batch"] : json();
  const auto seq = uint_of(leaf, "log_seq");
  const auto first = uint_of(batch, "first_seq"), last = uint_of(batch, "last_seq");
  if (!seq || !first || !last || !batch.contains("root") || !batch["root"].is_string())
    return fail("the head's batch or the leaf's log_seq is missing");
  if (*seq < *first || *seq > *last || *last < *first)
    return fail("log_seq is outside the head's batch");
  auto proof = journal::heads::unhex_list(seal["proof"]);
  if (!proof) return fail(proof.error().detail);
  auto root = journal::merkle::from_hex(batch["root"].get<std::string>());
  if (!root) return fail("the batch root is not 64 hex characters");
  Status inside = journal::merkle::check_record(*proof, static_cast<int64_t>(*last - *first + 1),
                                                *root, static_cast<int64_t>(*seq - *first),
                                                journal::merkle::leaf_hash(leaf.dump()));
  if (!inside) return fail("the leaf is not in the signed batch: " + inside.error().detail);
  return check_system_signature(verifier, head.dump(), seal["signature"].get<std::string>());
}

}  // namespace

Status verify_seal(const pki::CmsVerifier& verifier, const json& seal,
                   std::optional<std::string_view> data_text) {
  return check_seal(verifier, seal, data_text, true);
}

Status verify_record_seal(const pki::CmsVerifier& verifier, const json& seal) {
  return check_seal(verifier, seal, std::nullopt, false);
}

}  // namespace aaj::evidence
