#include "pki/trust.h"

#include <openssl/x509v3.h>

#include <set>

namespace aaj::pki {

Result<std::shared_ptr<const TrustStore>> TrustStore::load(
    const std::vector<std::filesystem::path>& files) {
  if (files.empty()) return Error{"trust_store_empty", "no trust anchor files configured"};
  std::vector<X509Ptr> all;
  for (const auto& f : files) {
    auto certs = load_certificates(f);
    if (!certs.ok()) return certs.error();
    for (auto& c : *certs) all.push_back(std::move(c));
  }
  return from_certificates(std::move(all));
}

Result<std::shared_ptr<const TrustStore>> TrustStore::from_pem(std::string_view pem) {
  auto certs = parse_certificates(pem);
  if (!certs.ok()) return certs.error();
  return from_certificates(std::move(certs).value());
}

Result<std::shared_ptr<const TrustStore>> TrustStore::from_certificates(
    std::vector<X509Ptr> anchors) {
  init_openssl();
  if (anchors.empty()) return Error{"trust_store_empty", "no trust anchors"};
  std::shared_ptr<TrustStore> ts(new TrustStore());
  ts->store_.reset(X509_STORE_new());
  if (!ts->store_) return Error{"internal_error", last_openssl_error()};
  X509_STORE_set_flags(ts->store_.get(), X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_set_purpose(ts->store_.get(), X509_PURPOSE_ANY);
  std::set<std::string> seen;
  for (auto& a : anchors) {
    auto info = describe(a.get());
    if (!info.ok()) return info.error();
    if (!seen.insert(info->sha256_hex).second) continue;
    if (X509_check_ca(a.get()) == 0)
      return Error{"not_a_ca", "trust anchor is not a CA certificate: " + info->subject};
    if (X509_STORE_add_cert(ts->store_.get(), a.get()) != 1)
      return Error{"internal_error", "X509_STORE_add_cert: " + last_openssl_error()};
    ts->info_.push_back(std::move(info).value());
    ts->anchors_.push_back(std::move(a));
  }
  return std::shared_ptr<const TrustStore>(std::move(ts));
}

const X509* TrustStore::find_issuer(X509* cert) const {
  if (cert == nullptr) return nullptr;
  const X509* unverifiable = nullptr;
  for (const auto& a : anchors_) {
    if (X509_check_issued(a.get(), cert) != X509_V_OK) continue;
    EVP_PKEY* key = X509_get0_pubkey(a.get());  // nullptr for keys OpenSSL cannot decode (GOST)
    if (key == nullptr) {
      if (unverifiable == nullptr) unverifiable = a.get();
      continue;
    }
    if (X509_verify(cert, key) == 1) {
      clear_openssl_errors();
      return a.get();
    }
  }
  clear_openssl_errors();
  // A name/key-id match whose signature OpenSSL cannot check (GOST) is still reported as the
  // issuer: callers that need proof verify the chain and get "unsupported_algorithm" there.
  return unverifiable;
}

}  // namespace aaj::pki
