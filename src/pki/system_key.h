// The system's own signing key (docs/journal-format.md §3, §5): an organisation signing
// certificate of the operator with its private key, used to sign the event log's tree heads and
// sealed segments as detached CMS. Immutable after load; signing is thread-safe.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pki/openssl_util.h"

namespace aaj::pki {

class SystemKey {
 public:
  // Loads the certificate (PEM; further certificates in the file are its chain, sent along in
  // each signature) and the unencrypted PEM private key. Errors: "unreadable",
  // "malformed_certificate", "malformed_key", "key_mismatch".
  static Result<std::shared_ptr<const SystemKey>> load(const std::filesystem::path& cert_pem,
                                                       const std::filesystem::path& key_pem);

  // A detached CMS SignedData over `content` (SHA-256, signing time, the certificate and its
  // chain embedded), base64. Error "sign_failed". The event log signs a head per group commit:
  // this is written from a template of OpenSSL's own output (the parts that never change, DER
  // copied as is), with only the signing time, the message digest and the signature new, and
  // the signature made with a copy of a context prepared at load; CMS_sign builds and encodes
  // the whole structure every time at several times the cost of the signature itself.
  Result<std::string> sign_base64(std::string_view content) const;

  X509* cert() const { return cert_.get(); }

  // Whether sign_base64() writes the CMS from the template (see Template) rather than through
  // OpenSSL's CMS_sign; false when the template could not be built at load, or OpenSSL's
  // CMS_verify refused a signature it wrote then (the key then signs through CMS_sign).
  bool templated() const { return template_ != nullptr; }

  // The same CMS through OpenSSL's CMS_sign (the reference the template is built from and
  // checked against). Error "sign_failed".
  Result<std::string> sign_base64_reference(std::string_view content) const;

 private:
  struct Template;
  SystemKey() = default;
  X509Ptr cert_;
  std::vector<X509Ptr> chain_;
  EvpPkeyPtr key_;
  std::shared_ptr<const Template> template_;
};

}  // namespace aaj::pki
