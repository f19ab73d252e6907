// Verification of a bare certificate (a TLS client certificate of an information system): the
// same rules as for a CMS signer — chain to a configured anchor as of a time, key usage for the
// operation, revocation of the leaf — without a signature to check.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "pki/cms.h"

namespace aaj::pki {

// Verifies `leaf_der` with `intermediates_der` as untrusted helpers. The result uses
// VerifyResult's fields and reasons (untrusted, expired, not_yet_valid, revoked,
// revocation_unavailable, wrong_key_usage, and malformed_certificate for undecodable input);
// `content` and `signing_time` stay empty. `crls` may be null (revocation "not_checked").
// Never throws. Thread-safe (shares only immutable or internally synchronised stores).
VerifyResult verify_certificate(std::string_view leaf_der,
                                const std::vector<std::string>& intermediates_der,
                                const TrustStore& trust, const CrlStore* crls,
                                const VerifyOptions& opts);

}  // namespace aaj::pki
