// Offline verification of the event log's evidence (docs/journal-format.md) with the trust
// anchors alone: the system's signatures on tree heads, answer seals and sealed segments. The
// journal module keeps these structures without any PKI; this module brings the PKI. Pure
// apart from the verifier given; thread-safe.
#pragma once
#include <memory>
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

// journal::VerifyOptions that check every signature with check_system_signature.
journal::VerifyOptions signature_checks(std::shared_ptr<const pki::CmsVerifier> verifier);

// Verifies an answer's seal (§4) against the answer's data text (the exact bytes of "data"; "" to
// skip the data check, e.g. for a refusal): the data's SHA-256 is the leaf's answer_sha256, the
// leaf reaches the batch root, and the head is signed by the system (check_system_signature).
// Errors: "bad_seal" naming what failed, or check_system_signature's.
Status verify_seal(const pki::CmsVerifier& verifier, const nlohmann::json& seal,
                   std::string_view data_text);

}  // namespace aaj::evidence
