// Offline verification of the event log's evidence (docs/journal-format.md) with the trust
// anchors alone: the system's signatures on tree heads, answer seals and sealed segments. The
// journal module keeps these structures without any PKI; this module brings the PKI. Pure
// apart from the verifier given; thread-safe.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "journal/journal.h"
#include "pki/cms.h"

namespace aaj::evidence {

// The BIN a log id names ("aaj:<BIN>:<installation>"), or "" when it names none.
std::string operator_bin(std::string_view log_id);

// Checks the system's detached CMS over canonical bytes of a signed object (a head, a segment
// seal): a signing certificate that chains to the verifier's anchors, valid as of the object's
// own time ("at" or "sealed_at"), not revoked then when the verifier has CRLs, and naming the
// BIN of the object's log id. Errors: "bad_signature" (with the verifier's reason),
// "malformed" (the object or the signature cannot be read).
Status check_system_signature(const pki::CmsVerifier& verifier, std::string_view canonical,
                              std::string_view signature_b64);

// The types of a signed head as a proof file or a package gives it: null (none) or
// {"head": {…}, "signature": "…"}. Error "malformed" otherwise; nothing is verified.
Status check_signed_head_shape(const nlohmann::json& signed_head);

// A signed head {"head","signature"} given with a proof: of this size and root (hex), signed by
// the system (check_system_signature). A null signed head is refused ("unsigned"): a proof
// against an unsigned root proves nothing. Errors: "malformed" (check_signed_head_shape),
// "unsigned", "bad_proof" (another size or root), check_system_signature's.
Status check_signed_head(const pki::CmsVerifier& verifier, const nlohmann::json& signed_head,
                         uint64_t size, const std::string& root);

// Type-checked reads of JSON members that never throw: the string (or "") and the unsigned
// integer (or nullopt) at `key` of `obj`, whatever obj is.
std::string string_of(const nlohmann::json& obj, const char* key);
std::optional<uint64_t> uint_of(const nlohmann::json& obj, const char* key);

// Verifies an answer's seal (§4) against the answer's data text (the exact bytes of "data";
// nullopt when the answer carries none): the data's SHA-256 is the leaf's answer_sha256, the leaf
// reaches the batch root, and the head is signed by the system (check_system_signature). A leaf
// that names an answer_sha256 needs the data: without it the seal proves nothing about the
// answer ("answer_missing"). Errors: "bad_seal" naming what failed, "answer_missing", or
// check_system_signature's.
Status verify_seal(const pki::CmsVerifier& verifier, const nlohmann::json& seal,
                   std::optional<std::string_view> data_text);
// The same without the answer (a seal checked for its record only, e.g. in an evidence package,
// which checks the answers against the records itself).
Status verify_record_seal(const pki::CmsVerifier& verifier, const nlohmann::json& seal);

}  // namespace aaj::evidence
