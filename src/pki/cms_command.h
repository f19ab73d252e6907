// The body of the public CLI command `aaj cms verify FILE --trust CA.pem… [--crl FILE…]
// [--at TIME]`, kept in the PKI module so it is testable without the CLI.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace aaj::pki {

// Verifies the CMS in `file` (DER, base64 or PEM) with Usage::Any against the anchors in
// `trust` (PEM/DER files), as of `at` (ISO 8601; "" = now; a bare date or a time without
// offset is Astana time). With `crls` given, revocation is checked against exactly those files
// (same freshness rules as the server: a stale CRL makes the result invalid with
// "revocation_unavailable"); without, revocation is "not_checked".
// Prints ONE JSON object to `out`: to_json(VerifyResult) on a verification, or
// {"valid": false, "reason": "usage"|"unreadable"|"bad_crl", "message": …} on a usage error
// (also echoed as text on `err`). Returns 0 when valid, 1 when invalid, 2 on usage errors
// (bad --at, no --trust, unreadable or unusable trust/CRL/CMS files). Thread-safe.
int cms_verify_command(const std::string& file, const std::vector<std::string>& trust,
                       const std::vector<std::string>& crls, const std::string& at,
                       std::ostream& out, std::ostream& err);

}  // namespace aaj::pki
