// A WebAuthn platform authenticator plus the browser's part of a ceremony, in software, for
// tests: it holds a real private key, writes real CTAP2-canonical CBOR with libcbor, and signs
// real attestations and assertions. It is deliberately independent of auth/webauthn.cpp (own
// CBOR writing, own client data) so the verifier is tested against a second implementation.
//
// Not thread-safe (one instance per test). Throws std::runtime_error only when OpenSSL or
// libcbor fail (out of memory, missing provider).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "pki/openssl_util.h"

namespace aaj::auth::test {

class SoftAuthenticator {
 public:
  // ES256 / RS256 are what the server accepts; ES384 (P-384, COSE -35) and EdDSA (Ed25519,
  // COSE -8) exist to check that other real keys are refused.
  enum class Alg { ES256, RS256, ES384, EdDSA };

  // Generates the credential key (RSA of `rsa_bits` for RS256) and a random 32-byte credential
  // id. `rp_id` is what the authenticator hashes into rpIdHash.
  explicit SoftAuthenticator(std::string rp_id, Alg alg = Alg::ES256, int rsa_bits = 2048);

  struct Created {
    std::string credential_id, client_data_json, attestation_object;
  };
  // Registration (navigator.credentials.create) of this instance's one credential, reporting the
  // current counter. `fmt`: "none"; "packed" (self attestation); "packed+x5c" (packed with a
  // freshly made self-signed P-256 attestation certificate: OU "Authenticator Attestation",
  // CA:FALSE, AAGUID extension); any other name is emitted as-is with an empty attStmt.
  Created create(std::string_view challenge, const std::string& origin, bool user_verified = true,
                 const std::string& fmt = "none");

  struct Asserted {
    std::string credential_id, client_data_json, authenticator_data, signature;
  };
  // Authentication (navigator.credentials.get). Increments the counter by 1 first (unless
  // frozen) and signs authenticatorData || SHA-256(clientDataJSON).
  Asserted get(std::string_view challenge, const std::string& origin, bool user_verified = true);

  void set_counter(uint32_t c) { counter_ = c; }
  uint32_t counter() const { return counter_; }

  // Test knobs.
  void set_counter_frozen(bool f) { frozen_ = f; }  // get() stops incrementing (no counter)
  void set_user_present(bool up) { user_present_ = up; }
  void set_backup_flags(bool eligible, bool state) { be_ = eligible, bs_ = state; }
  void set_credential_id(std::string id) { credential_id_ = std::move(id); }
  const std::string& credential_id() const { return credential_id_; }
  const std::string& aaguid() const { return aaguid_; }  // 16 raw bytes
  std::string public_key_der() const;                    // SubjectPublicKeyInfo DER

 private:
  std::string auth_data(bool user_verified, bool with_credential) const;
  std::string cose_key() const;
  std::string client_data(std::string_view type, std::string_view challenge,
                          const std::string& origin) const;
  std::string sign(EVP_PKEY* key, std::string_view data) const;

  std::string rp_id_;
  Alg alg_;
  pki::EvpPkeyPtr key_;
  std::string credential_id_;
  std::string aaguid_;
  uint32_t counter_ = 0;
  bool frozen_ = false;
  bool user_present_ = true;
  bool be_ = false, bs_ = false;
};

}  // namespace aaj::auth::test
