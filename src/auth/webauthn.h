// Entry, second factor: server-side WebAuthn (Level 2) verification for platform authenticators
// (fingerprint / Face ID). Two ceremonies: registration (navigator.credentials.create) yields a
// Credential the caller stores; authentication (navigator.credentials.get) checks an assertion
// against that stored Credential.
//
// Scope and policy:
//  - Algorithms: ES256 (COSE -7, P-256) and RS256 (COSE -257, RSA >= 2048 bits). Anything else
//    is "unsupported_algorithm"; the browser's pubKeyCredParams should list exactly these two.
//  - Attestation: "none", and "packed" (self attestation, or x5c whose leaf signature is checked).
//    The x5c chain is NOT built or trusted: policy does not require knowing the authenticator
//    model, so attestation only proves internal consistency. Other formats ("tpm", "apple",
//    "android-key", ...) are "unsupported_attestation": the browser should ask with
//    attestation: "none" (the default), which makes it strip them.
//  - Not checked here (the caller's job): that the challenge was issued by us, is fresh and is
//    used once; that the credential id is not already registered (registration) and that the
//    assertion's credential id / userHandle belong to the user (authentication); storing the new
//    sign_count after a successful assertion.
//
// Every function is pure (no I/O, no global state besides OpenSSL's) and thread-safe. Failures
// are Error values with these stable codes:
//   malformed               input not decodable: CBOR, JSON, base64url, lengths, missing fields
//   wrong_type              clientDataJSON.type is not the ceremony's
//   challenge_mismatch      clientDataJSON.challenge != base64url(expected_challenge)
//   origin_mismatch         origin not in RelyingParty::origins, or a cross-origin ceremony
//   rp_mismatch             rpIdHash != SHA-256(RelyingParty::id)
//   user_not_present        UP flag clear
//   user_not_verified       UV flag clear while user verification is required
//   bad_signature           attestation or assertion signature does not verify
//   counter_regression      signature counter did not grow (a cloned authenticator)
//   unsupported_algorithm   credential or attestation key/alg outside ES256/RS256
//   unsupported_attestation attestation format other than "none"/"packed", or ECDAA
// Error::detail is English text for logs; untrusted strings appear in it only JSON-escaped and
// cut to 64 bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace aaj::auth::webauthn {

// COSE algorithm identifiers accepted for credentials and packed attestation.
inline constexpr int kEs256 = -7;
inline constexpr int kRs256 = -257;

// Input caps (checked before any parsing).
inline constexpr size_t kMaxAttestationObject = 64 * 1024;
inline constexpr size_t kMaxAuthenticatorData = 64 * 1024;
inline constexpr size_t kMaxClientDataJson = 16 * 1024;
inline constexpr size_t kMaxSignature = 1024;     // RSA-8192
inline constexpr size_t kMaxCredentialId = 1023;  // WebAuthn L2 §5.8.3
inline constexpr int kMaxCborDepth = 16;          // nesting of arrays/maps

// base64url (RFC 4648 §5) without padding, as WebAuthn uses for challenges and credential ids.
std::string base64url_encode(std::string_view bytes);

// Strict inverse of base64url_encode: only [A-Za-z0-9_-], no padding, no whitespace, and the
// encoding must be canonical (unused trailing bits zero), so each byte string has exactly one
// accepted text. Fails with "malformed".
Result<std::string> base64url_decode(std::string_view text);

struct RelyingParty {
  std::string id;                    // RP ID, a registrable domain, e.g. "localhost"
  std::vector<std::string> origins;  // exact origins accepted, e.g. "https://localhost:8443"
};

// What the server stores per registered authenticator.
struct Credential {
  std::string id;                // raw credential id bytes (1..1023)
  std::string public_key_der;    // SubjectPublicKeyInfo DER
  int alg = 0;                   // kEs256 or kRs256
  uint32_t sign_count = 0;       // last signature counter seen
  std::string aaguid_hex;        // 32 lower-case hex digits; all zeros when the browser hides it
  bool backup_eligible = false;  // BE flag (synced passkey); fixed for a credential's lifetime
};

// Registration ceremony. `expected_challenge` is the raw challenge the server sent;
// `client_data_json` and `attestation_object` are the raw (base64url-decoded) bytes from
// AuthenticatorAttestationResponse. Checks, in order: clientDataJSON (type "webauthn.create",
// challenge, origin, no crossOrigin/topOrigin), attestationObject CBOR {fmt, attStmt, authData},
// rpIdHash, UP, UV when `require_user_verification`, BE/BS consistency, AT with attested
// credential data, the COSE key, then the attestation statement.
// On success returns the Credential (sign_count from authData); on failure an Error (codes
// above). Thread-safe.
Result<Credential> verify_registration(const RelyingParty& rp, std::string_view expected_challenge,
                                       std::string_view client_data_json,
                                       std::string_view attestation_object,
                                       bool require_user_verification);

struct AssertionResult {
  uint32_t sign_count = 0;  // store this in Credential::sign_count
  bool user_verified = false;
  bool backup_state = false;  // BS flag: the credential is currently backed up (synced)
};

// Authentication ceremony against a stored `credential`. Checks, in order: clientDataJSON (type
// "webauthn.get", challenge, origin, no crossOrigin/topOrigin), authenticatorData layout,
// rpIdHash, UP, UV when required, BE equal to credential.backup_eligible (else "malformed"), the
// signature over authenticatorData || SHA-256(clientDataJSON) with credential.public_key_der
// (ES256: DER ECDSA; RS256: PKCS#1 v1.5), and the counter: 0 and 0 is accepted (authenticators
// without a counter), otherwise the new value must exceed credential.sign_count, else
// "counter_regression". Returns the new counter and UV on success. Thread-safe.
Result<AssertionResult> verify_assertion(
    const RelyingParty& rp, std::string_view expected_challenge, const Credential& credential,
    std::string_view client_data_json, std::string_view authenticator_data,
    std::string_view signature, bool require_user_verification);

}  // namespace aaj::auth::webauthn
