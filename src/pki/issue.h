// A certification centre of our own, for the demo installation and for tests: keys, NCA-style
// certificates, CRLs, PKCS#12 stores and CMS signatures. Production users' certificates come
// from NCA; nothing here is used to verify them. Keys are never committed: tests and the demo
// setup generate them.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "pki/openssl_util.h"

namespace aaj::pki {

// An asymmetric key pair. Move-only; owns its EVP_PKEY. Not safe for concurrent mutation, but
// signing with get() from several threads is fine (OpenSSL keys are read-only when signing).
class KeyPair {
 public:
  // RSA key of `bits` (>= 2048). Error "keygen_failed".
  static Result<KeyPair> rsa(int bits = 2048);
  // ECDSA P-256 key. Error "keygen_failed".
  static Result<KeyPair> ec_p256();
  // From an unencrypted PEM private key (PKCS#8 or traditional). Error "malformed_key".
  static Result<KeyPair> from_pem(std::string_view pem);
  // Takes ownership of `key` (must not be null).
  explicit KeyPair(EvpPkeyPtr key) : key_(std::move(key)) {}

  KeyPair(KeyPair&&) = default;
  KeyPair& operator=(KeyPair&&) = default;
  KeyPair(const KeyPair&) = delete;
  KeyPair& operator=(const KeyPair&) = delete;

  // Owned by the KeyPair.
  EVP_PKEY* get() const { return key_.get(); }
  // Unencrypted PKCS#8 PEM. Treat as a secret: write it with write_secret_file().
  std::string private_pem() const;
  std::string public_pem() const;

 private:
  EvpPkeyPtr key_;
};

struct SubjectSpec {
  std::string common_name;  // NCA: "SURNAME NAME"
  std::string surname;
  std::string given_name;  // NCA puts the patronymic in G (givenName)
  std::string iin;         // 12 digits -> serialNumber "IIN…" (check digit not enforced)
  std::string bin;         // 12 digits -> OU "BIN…"
  std::string organisation;
  std::string country = "KZ";
};

enum class CertKind {
  CertificationAuthority,  // basicConstraints CA (critical), KU keyCertSign+cRLSign (critical)
  Authentication,  // KU DS+KE critical, EKU clientAuth + role OIDs, policy 1.2.398.3.3.2.4 (.2.2
                   // when a BIN is set: legal entity)
  Signing,    // KU DS+NR critical, EKU emailProtection + role OIDs, policy 1.2.398.3.3.2.3 (.2.1
              // with a BIN)
  TlsServer,  // KU DS(+KE for RSA) critical, EKU serverAuth, SAN from dns_names/ips
  InformationSystem,  // an NCA-style information-system AUTH certificate: KU DS+KE, EKU
                      // clientAuth + role 1.2.398.3.3.4.1.2.6 (with a BIN) or .4.1.1.1, SAN if
                      // dns_names/ips are given
  Plain,              // no extensions at all, like `openssl x509 -req` (a v1 certificate)
};

struct IssueSpec {
  SubjectSpec subject;
  CertKind kind = CertKind::Plain;
  time::Instant not_before{};
  time::Instant not_after{};
  // Role OIDs added to the EKU. Empty means the default: {"1.2.398.3.3.4.1.1"} (individual) for
  // Authentication/Signing, the information-system role for InformationSystem.
  std::vector<std::string> role_oids;
  std::vector<std::string> dns_names;     // subjectAltName dNSName
  std::vector<std::string> ip_addresses;  // subjectAltName iPAddress ("127.0.0.1", "::1")
};

struct Issued {
  std::string cert_pem;
  std::string serial_hex;  // as CertInfo::serial_hex
  X509Ptr cert;            // owned
};

// A CA: its certificate and private key. Move-only. issue() and make_crl() are const and may be
// called from several threads.
class Authority {
 public:
  // A self-signed root "CN=<name>, C=KZ" with a new RSA-2048 key. Error "keygen_failed" or
  // "issue_failed".
  static Result<Authority> create(const std::string& name, time::Instant not_before,
                                  time::Instant not_after);
  // Loads a CA certificate and its unencrypted private key from PEM files. Errors: "unreadable",
  // "malformed_certificate", "malformed_key", "key_mismatch", "not_a_ca".
  static Result<Authority> load(const std::filesystem::path& cert_pem,
                                const std::filesystem::path& key_pem);

  Authority(Authority&&) = default;
  Authority& operator=(Authority&&) = default;

  // A subordinate CA "CN=<name>, C=KZ" signed by this one, with a new RSA-2048 key.
  Result<Authority> subordinate(const std::string& name, time::Instant not_before,
                                time::Instant not_after) const;

  // Issues a certificate for `subject_key`'s public key: random positive 16-byte serial,
  // SHA-256 signature, SKID/AKID except for Plain. Errors: "invalid_subject" (IIN/BIN not 12
  // digits, empty CN), "invalid_spec" (bad OID, not_after <= not_before, TlsServer without
  // names, bad IP), "issue_failed".
  Result<Issued> issue(const IssueSpec& spec, const KeyPair& subject_key) const;

  // A complete v2 CRL (PEM) listing `revoked` (serial hex as CertInfo::serial_hex or upper
  // case, revocation time), with CRLNumber derived from this_update (so later CRLs have larger
  // numbers) and AKID. Errors: "malformed_serial", "issue_failed".
  Result<std::string> make_crl(const std::vector<std::pair<std::string, time::Instant>>& revoked,
                               time::Instant this_update, time::Instant next_update) const;

  std::string cert_pem() const;
  // Unencrypted PKCS#8 PEM of the CA key: a secret (write_secret_file()).
  std::string key_pem() const;
  X509* cert() const { return cert_.get(); }  // owned by the Authority
  EVP_PKEY* key() const { return key_.get(); }

 private:
  Authority(X509Ptr cert, KeyPair key) : cert_(std::move(cert)), key_(std::move(key)) {}

  X509Ptr cert_;
  KeyPair key_;
};

// Writes a PKCS#12 store (mode 0600) with modern protection: AES-256-CBC with PBKDF2 for key and
// certificates, SHA-256 MAC. `chain` (not owned) is added as CA certificates. Error
// "write_failed" or "pkcs12_failed".
Status write_pkcs12(const std::filesystem::path& path, const std::string& password, X509* cert,
                    EVP_PKEY* key, const std::vector<X509*>& chain,
                    const std::string& friendly_name);

struct KeyStore {
  X509Ptr cert;
  EvpPkeyPtr key;
  std::vector<X509Ptr> chain;  // other certificates in the store
};

// Reads a PKCS#12 store, including NCA's legacy ones (RC2-40 certificates, 3DES key: needs the
// legacy provider, loaded by init_openssl()). Errors: "unreadable", "malformed_pkcs12",
// "bad_password" (MAC check failed), "unsupported_algorithm" (e.g. a Kazakh GOST key, or a
// legacy cipher without the legacy provider; the detail names the algorithm), "no_key".
Result<KeyStore> load_pkcs12(const std::filesystem::path& path, const std::string& password);

// Signs `content` as CMS SignedData (DER): SHA-256, signed attributes contentType,
// messageDigest and signingTime (now), the signer certificate plus `extra_certs` included.
// `attach` = false gives a detached signature (like NCALayer's encapsulate:false).
// Error "sign_failed".
Result<std::string> sign_cms(std::string_view content, X509* cert, EVP_PKEY* key,
                             const std::vector<X509*>& extra_certs, bool attach = true);

}  // namespace aaj::pki
