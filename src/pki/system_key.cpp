#include "pki/system_key.h"

#include "pki/certificate.h"
#include "pki/issue.h"

namespace aaj::pki {

Result<std::shared_ptr<const SystemKey>> SystemKey::load(const std::filesystem::path& cert_pem,
                                                         const std::filesystem::path& key_pem) {
  init_openssl();
  auto certs = load_certificates(cert_pem);
  if (!certs) return certs.error();
  if (certs->empty())
    return Error{"malformed_certificate", cert_pem.string() + " holds no certificate"};
  auto key_text = read_file(key_pem);
  if (!key_text) return key_text.error();
  auto key = KeyPair::from_pem(*key_text);
  if (!key) return key.error();
  std::shared_ptr<SystemKey> k(new SystemKey());
  k->cert_ = std::move((*certs)[0]);
  for (size_t i = 1; i < certs->size(); ++i) k->chain_.push_back(std::move((*certs)[i]));
  if (X509_check_private_key(k->cert_.get(), key->get()) != 1)
    return Error{"key_mismatch", key_pem.string() + " is not the key of " + cert_pem.string()};
  if (EVP_PKEY_up_ref(key->get()) != 1) return Error{"malformed_key", "cannot hold the key"};
  k->key_.reset(key->get());
  return std::shared_ptr<const SystemKey>(std::move(k));
}

Result<std::string> SystemKey::sign_base64(std::string_view content) const {
  std::vector<X509*> extra;
  for (const auto& c : chain_) extra.push_back(c.get());
  auto der = sign_cms(content, cert_.get(), key_.get(), extra, /*attach=*/false);
  if (!der) return der.error();
  return base64_encode(*der);
}

}  // namespace aaj::pki
