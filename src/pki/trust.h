// The configured trust anchors (NCA root and intermediate CA certificates, or our own demo CA)
// and the OpenSSL X509_STORE built from them once.
#pragma once
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pki/certificate.h"
#include "pki/openssl_util.h"

namespace aaj::pki {

class TrustStore {
 public:
  // Loads CA certificates from PEM (one or more per file) or DER files. Every certificate
  // becomes a trust anchor: the store uses X509_V_FLAG_PARTIAL_CHAIN, so a configured
  // intermediate such as NCA's "ҰКО 3.0 (RSA TEST)" ends a chain without its root, and purpose
  // ANY, because NCA AUTH certificates carry only clientAuth (the caller checks key usage per
  // operation instead). Duplicates are dropped.
  // Errors: "unreadable" (a file cannot be read), "malformed_certificate" (a file holds no
  // parsable certificate), "not_a_ca" (a certificate is not a CA: pinning an end-entity
  // certificate as an anchor would trust whatever it signs; refused as a misconfiguration),
  // "trust_store_empty" (no files).
  static Result<std::shared_ptr<const TrustStore>> load(
      const std::vector<std::filesystem::path>& pem_or_der_files);

  // Same rules, from certificates already parsed (ownership moves into the store).
  static Result<std::shared_ptr<const TrustStore>> from_certificates(std::vector<X509Ptr> anchors);

  // Same rules, from PEM text in memory (tests, embedded configuration).
  static Result<std::shared_ptr<const TrustStore>> from_pem(std::string_view pem);

  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  // The anchors, in load order, owned by the store and alive as long as it is.
  const std::vector<X509Ptr>& anchors() const { return anchors_; }
  const std::vector<CertInfo>& anchor_info() const { return info_; }

  // The anchor that issued `cert`, or nullptr: its subject equals cert's issuer name, its key
  // identifier matches cert's AuthorityKeyIdentifier when present (compared as bytes of any
  // length: NCA uses 4-byte key ids), it may sign certificates, and its key verifies cert's
  // signature. For an anchor whose key OpenSSL cannot decode (GOST) the name/key-id match alone
  // is reported. A self-signed anchor is its own issuer. The result is owned by the store.
  const X509* find_issuer(X509* cert) const;

  // The X509_STORE to pass to X509_STORE_CTX_init. Owned by the store; never modified after
  // load (per-verification settings such as the time go on the X509_STORE_CTX), and OpenSSL
  // locks its internal lookups, so concurrent verifications may share it.
  X509_STORE* store() const { return store_.get(); }

 private:
  TrustStore() = default;

  std::vector<X509Ptr> anchors_;
  std::vector<CertInfo> info_;
  X509StorePtr store_;
};

}  // namespace aaj::pki
