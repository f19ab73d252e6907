#include "evidence/evidence.h"

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
  std::string when = obj.contains("at") && obj["at"].is_string() ? obj["at"].get<std::string>()
                     : obj.contains("sealed_at") && obj["sealed_at"].is_string()
                         ? obj["sealed_at"].get<std::string>()
                         : "";
  auto at = time::parse_iso8601(when);
  if (!at) return Error{"malformed", "the signed object states no time (at / sealed_at)"};
  pki::VerifyResult v =
      verifier.verify_detached(signature_b64, canonical, {*at, pki::Usage::Signing, true});
  if (!v.valid) return Error{"bad_signature", v.reason + (v.detail.empty() ? "" : ": " + v.detail)};
  const std::string bin = operator_bin(obj.value("log", std::string()));
  if (!bin.empty() && v.signer.bin != bin)
    return Error{"bad_signature", "signed by BIN " + v.signer.bin + ", the log belongs to " + bin};
  return {};
}

journal::VerifyOptions signature_checks(std::shared_ptr<const pki::CmsVerifier> verifier) {
  journal::VerifyOptions o;
  o.check_signature = [verifier](std::string_view canonical, std::string_view sig) {
    return check_system_signature(*verifier, canonical, sig);
  };
  return o;
}

Status verify_seal(const pki::CmsVerifier& verifier, const json& seal, std::string_view data_text) {
  auto fail = [](const std::string& what) { return Error{"bad_seal", what}; };
  if (!seal.is_object() || !seal.contains("leaf") || !seal["leaf"].is_object() ||
      !seal.contains("head") || !seal["head"].is_object() || !seal.contains("proof") ||
      !seal["proof"].is_array() || !seal.contains("signature") || !seal["signature"].is_string())
    return fail("not a seal (leaf, head, proof, signature)");
  const json& leaf = seal["leaf"];
  const json& head = seal["head"];
  if (!data_text.empty()) {
    if (!leaf.contains("answer_sha256") || leaf["answer_sha256"] != pki::sha256_hex(data_text))
      return fail("the data's SHA-256 is not the sealed answer_sha256");
  }
  const json& batch = head.value("batch", json::object());
  if (!leaf.contains("log_seq") || !leaf["log_seq"].is_number_unsigned() ||
      !batch.contains("first_seq") || !batch["first_seq"].is_number_unsigned() ||
      !batch.contains("last_seq") || !batch["last_seq"].is_number_unsigned() ||
      !batch.contains("root") || !batch["root"].is_string())
    return fail("the head's batch or the leaf's log_seq is missing");
  const auto seq = leaf["log_seq"].get<uint64_t>();
  const auto first = batch["first_seq"].get<uint64_t>(), last = batch["last_seq"].get<uint64_t>();
  if (seq < first || seq > last || last < first) return fail("log_seq is outside the head's batch");
  std::vector<journal::merkle::Hash> proof;
  for (const auto& h : seal["proof"]) {
    auto v = h.is_string() ? journal::merkle::from_hex(h.get<std::string>()) : std::nullopt;
    if (!v) return fail("a proof hash is not 64 hex characters");
    proof.push_back(*v);
  }
  auto root = journal::merkle::from_hex(batch["root"].get<std::string>());
  if (!root) return fail("the batch root is not 64 hex characters");
  Status inside = journal::merkle::check_record(proof, static_cast<int64_t>(last - first + 1),
                                                *root, static_cast<int64_t>(seq - first),
                                                journal::merkle::leaf_hash(leaf.dump()));
  if (!inside) return fail("the leaf is not in the signed batch: " + inside.error().detail);
  return check_system_signature(verifier, head.dump(), seal["signature"].get<std::string>());
}

}  // namespace aaj::evidence
