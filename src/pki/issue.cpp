#include "pki/issue.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/ids.h"
#include "pki/certificate.h"

namespace aaj::pki {
namespace {

constexpr const char* kRoleIndividual = "1.2.398.3.3.4.1.1";
constexpr const char* kRoleIsIndividual = "1.2.398.3.3.4.1.1.1";
constexpr const char* kRoleIsLegal = "1.2.398.3.3.4.1.2.6";

std::string bio_string(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  return std::string(p, static_cast<size_t>(n));
}

time_t to_time_t(time::Instant t) {
  return static_cast<time_t>(time::to_micros(t) / 1000000);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// `ca_order`: NCA's CA names put C before CN; end-entity names start with CN.
Result<X509NamePtr> make_name(const SubjectSpec& s, bool ca_order) {
  if (s.common_name.empty()) return Error{"invalid_subject", "empty common name"};
  if (!s.iin.empty() && !ids::is_twelve_digits(s.iin))
    return Error{"invalid_subject", "IIN must be 12 digits"};
  if (!s.bin.empty() && !ids::is_twelve_digits(s.bin))
    return Error{"invalid_subject", "BIN must be 12 digits"};
  X509NamePtr name(X509_NAME_new());
  bool ok = name != nullptr;
  auto add_utf8 = [&](int nid, const std::string& v) {
    if (ok && !v.empty())
      ok = X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), -1, 0) == 1;
  };
  auto add_printable = [&](int nid, const std::string& v) {
    if (ok && !v.empty())
      ok = X509_NAME_add_entry_by_NID(name.get(), nid, V_ASN1_PRINTABLESTRING,
                                      reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), -1, 0) == 1;
  };
  // NCA's order (DER): CN, SURNAME, serialNumber, C, O, OU, G.
  if (ca_order) add_printable(NID_countryName, s.country);
  add_utf8(NID_commonName, s.common_name);
  add_utf8(NID_surname, s.surname);
  if (!s.iin.empty()) add_printable(NID_serialNumber, "IIN" + s.iin);
  if (!ca_order) add_printable(NID_countryName, s.country);
  add_utf8(NID_organizationName, s.organisation);
  if (!s.bin.empty()) add_printable(NID_organizationalUnitName, "BIN" + s.bin);
  add_utf8(NID_givenName, s.given_name);
  if (!ok) return Error{"invalid_subject", "bad subject attribute: " + last_openssl_error()};
  return name;
}

Result<Asn1IntegerPtr> random_serial() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return Error{"issue_failed", "RAND_bytes failed"};
  b[0] = static_cast<unsigned char>((b[0] & 0x7f) | 0x40);  // positive, always 16 bytes
  BignumPtr bn(BN_bin2bn(b, sizeof b, nullptr));
  Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial) return Error{"issue_failed", last_openssl_error()};
  return serial;
}

bool valid_oid(const std::string& oid) {
  Asn1ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
  return obj != nullptr;
}

// Adds a non-critical certificatePolicies extension with one policy OID (no qualifiers).
Status add_policy(X509* x, const std::string& oid) {
  CERTIFICATEPOLICIES* pols = sk_POLICYINFO_new_null();
  POLICYINFO* pi = POLICYINFO_new();
  bool ok = pols != nullptr && pi != nullptr;
  if (ok) {
    ASN1_OBJECT_free(pi->policyid);
    pi->policyid = OBJ_txt2obj(oid.c_str(), 1);
    ok = pi->policyid != nullptr && sk_POLICYINFO_push(pols, pi) > 0;
    if (ok) pi = nullptr;  // owned by the stack
  }
  ok = ok && X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0, X509V3_ADD_DEFAULT) == 1;
  POLICYINFO_free(pi);
  CERTIFICATEPOLICIES_free(pols);
  if (!ok) return Error{"invalid_spec", "certificatePolicies " + oid + ": " + last_openssl_error()};
  return Status::Ok();
}

// Builds and signs a certificate. `issuer_cert` null means self-signed (issuer = subject, signed
// with `issuer_key`, which must then be the subject key).
Result<Issued> build(const IssueSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                     EVP_PKEY* issuer_key) {
  init_openssl();
  if (subject_key == nullptr || issuer_key == nullptr) return Error{"invalid_spec", "missing key"};
  if (spec.not_after <= spec.not_before)
    return Error{"invalid_spec", "not_after must be after not_before"};
  auto name = make_name(spec.subject, spec.kind == CertKind::CertificationAuthority);
  if (!name.ok()) return name.error();
  std::vector<std::string> roles = spec.role_oids;
  const bool legal = !spec.subject.bin.empty();
  if (roles.empty()) {
    if (spec.kind == CertKind::Authentication || spec.kind == CertKind::Signing)
      roles = {kRoleIndividual};
    else if (spec.kind == CertKind::InformationSystem)
      roles = {legal ? kRoleIsLegal : kRoleIsIndividual};
  }
  for (const auto& r : roles)
    if (!valid_oid(r)) return Error{"invalid_spec", "not an OID: " + r};

  X509Ptr x(X509_new());
  if (!x) return Error{"issue_failed", last_openssl_error()};
  auto serial = random_serial();
  if (!serial.ok()) return serial.error();
  const bool plain = spec.kind == CertKind::Plain;
  bool ok =
      X509_set_version(x.get(), plain ? X509_VERSION_1 : X509_VERSION_3) == 1 &&
      X509_set_serialNumber(x.get(), serial->get()) == 1 &&
      X509_set_subject_name(x.get(), name->get()) == 1 &&
      X509_set_issuer_name(x.get(), issuer_cert != nullptr ? X509_get_subject_name(issuer_cert)
                                                           : name->get()) == 1 &&
      ASN1_TIME_set(X509_getm_notBefore(x.get()), to_time_t(spec.not_before)) != nullptr &&
      ASN1_TIME_set(X509_getm_notAfter(x.get()), to_time_t(spec.not_after)) != nullptr &&
      X509_set_pubkey(x.get(), subject_key) == 1;
  if (!ok) return Error{"issue_failed", last_openssl_error()};

  if (!plain) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert != nullptr ? issuer_cert : x.get(), x.get(), nullptr, nullptr,
                   0);
    std::vector<std::pair<int, std::string>> exts;
    const bool rsa_key = EVP_PKEY_is_a(subject_key, "RSA") == 1;
    const std::string roles_csv = roles.empty() ? "" : "," + join(roles, ",");
    switch (spec.kind) {
      case CertKind::CertificationAuthority:
        exts = {{NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,keyCertSign,cRLSign"}};
        break;
      case CertKind::Authentication:
      case CertKind::InformationSystem:  // an authentication certificate with the IS role OID
        exts = {{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                {NID_ext_key_usage, "clientAuth" + roles_csv},
                {NID_certificate_policies, legal ? "1.2.398.3.3.2.2" : "1.2.398.3.3.2.4"}};
        break;
      case CertKind::Signing:
        exts = {{NID_key_usage, "critical,digitalSignature,nonRepudiation"},
                {NID_ext_key_usage, "emailProtection" + roles_csv},
                {NID_certificate_policies, legal ? "1.2.398.3.3.2.1" : "1.2.398.3.3.2.3"}};
        break;
      case CertKind::TlsServer:
        if (spec.dns_names.empty() && spec.ip_addresses.empty())
          return Error{"invalid_spec", "a TLS server certificate needs DNS names or IPs"};
        exts = {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, rsa_key ? "critical,digitalSignature,keyEncipherment"
                                        : "critical,digitalSignature"},
                {NID_ext_key_usage, "serverAuth"}};
        break;
      case CertKind::Plain:
        break;
    }
    if (!spec.dns_names.empty() || !spec.ip_addresses.empty()) {
      std::vector<std::string> alt;
      for (const auto& d : spec.dns_names) alt.push_back("DNS:" + d);
      for (const auto& ip : spec.ip_addresses) alt.push_back("IP:" + ip);
      exts.emplace_back(NID_subject_alt_name, join(alt, ","));
    }
    exts.emplace_back(NID_subject_key_identifier, "hash");
    exts.emplace_back(NID_authority_key_identifier, "keyid:always");
    for (const auto& [nid, value] : exts) {
      if (nid == NID_certificate_policies) {
        // The config-string form needs a config database for policies; build it directly.
        Status st = add_policy(x.get(), value);
        if (!st.ok()) return st.error();
        continue;
      }
      X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
      if (!ext)
        return Error{"invalid_spec",
                     std::string(OBJ_nid2sn(nid)) + "=" + value + ": " + last_openssl_error()};
      if (X509_add_ext(x.get(), ext.get(), -1) != 1)
        return Error{"issue_failed", last_openssl_error()};
    }
  }
  if (X509_sign(x.get(), issuer_key, EVP_sha256()) <= 0)
    return Error{"issue_failed", "signing failed: " + last_openssl_error()};
  Issued out;
  out.cert_pem = to_pem(x.get());
  out.serial_hex = serial_to_hex(X509_get0_serialNumber(x.get()));
  out.cert = std::move(x);
  return out;
}

}  // namespace

// ---- KeyPair ----

Result<KeyPair> KeyPair::rsa(int bits) {
  init_openssl();
  if (bits < 2048) return Error{"keygen_failed", "RSA keys must have at least 2048 bits"};
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!key) return Error{"keygen_failed", last_openssl_error()};
  return KeyPair(std::move(key));
}

Result<KeyPair> KeyPair::ec_p256() {
  init_openssl();
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Error{"keygen_failed", last_openssl_error()};
  return KeyPair(std::move(key));
}

Result<KeyPair> KeyPair::from_pem(std::string_view pem) {
  init_openssl();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key)
    return Error{"malformed_key", "not an unencrypted PEM private key: " + last_openssl_error()};
  return KeyPair(std::move(key));
}

std::string KeyPair::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return "";
  return bio_string(bio.get());
}

std::string KeyPair::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return "";
  return bio_string(bio.get());
}

// ---- Authority ----

namespace {
// A CA certificate "CN=<name>, C=KZ" with a new RSA-2048 key, signed by `issuer`/`issuer_key`,
// or self-signed when they are null.
Result<std::pair<X509Ptr, KeyPair>> new_ca(const std::string& name, time::Instant not_before,
                                           time::Instant not_after, X509* issuer,
                                           EVP_PKEY* issuer_key) {
  auto key = KeyPair::rsa(2048);
  if (!key.ok()) return key.error();
  IssueSpec spec;
  spec.subject.common_name = name;
  spec.kind = CertKind::CertificationAuthority;
  spec.not_before = not_before;
  spec.not_after = not_after;
  auto issued = build(spec, key->get(), issuer, issuer_key ? issuer_key : key->get());
  if (!issued.ok()) return issued.error();
  return std::make_pair(std::move(issued->cert), std::move(key).value());
}
}  // namespace

Result<Authority> Authority::create(const std::string& name, time::Instant not_before,
                                    time::Instant not_after) {
  auto ca = new_ca(name, not_before, not_after, nullptr, nullptr);
  if (!ca.ok()) return ca.error();
  return Authority(std::move(ca->first), std::move(ca->second));
}

Result<Authority> Authority::load(const std::filesystem::path& cert_pem,
                                  const std::filesystem::path& key_pem) {
  auto certs = load_certificates(cert_pem);
  if (!certs.ok()) return certs.error();
  auto key_text = read_file(key_pem);
  if (!key_text.ok()) return key_text.error();
  auto key = KeyPair::from_pem(*key_text);
  if (!key.ok()) return key.error();
  X509Ptr cert = std::move(certs->front());
  if (X509_check_private_key(cert.get(), key->get()) != 1) {
    clear_openssl_errors();
    return Error{"key_mismatch", "the key does not belong to " + cert_pem.string()};
  }
  if (X509_check_ca(cert.get()) == 0) return Error{"not_a_ca", cert_pem.string()};
  return Authority(std::move(cert), std::move(key).value());
}

Result<Authority> Authority::subordinate(const std::string& name, time::Instant not_before,
                                         time::Instant not_after) const {
  auto ca = new_ca(name, not_before, not_after, cert_.get(), key_.get());
  if (!ca.ok()) return ca.error();
  return Authority(std::move(ca->first), std::move(ca->second));
}

Result<Issued> Authority::issue(const IssueSpec& spec, const KeyPair& subject_key) const {
  return build(spec, subject_key.get(), cert_.get(), key_.get());
}

Result<std::string> Authority::make_crl(
    const std::vector<std::pair<std::string, time::Instant>>& revoked, time::Instant this_update,
    time::Instant next_update) const {
  X509CrlPtr crl(X509_CRL_new());
  Asn1TimePtr tu(ASN1_TIME_set(nullptr, to_time_t(this_update)));
  Asn1TimePtr nu(ASN1_TIME_set(nullptr, to_time_t(next_update)));
  if (!crl || !tu || !nu || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), tu.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), nu.get()) != 1)
    return Error{"issue_failed", last_openssl_error()};
  for (const auto& [serial_hex, when] : revoked) {
    auto serial = serial_from_hex(serial_hex);
    if (!serial.ok()) return serial.error();
    X509RevokedPtr rev(X509_REVOKED_new());
    Asn1TimePtr t(ASN1_TIME_set(nullptr, to_time_t(when)));
    if (!rev || !t || X509_REVOKED_set_serialNumber(rev.get(), serial->get()) != 1 ||
        X509_REVOKED_set_revocationDate(rev.get(), t.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), rev.get()) != 1)
      return Error{"issue_failed", last_openssl_error()};
    rev.release();  // owned by the CRL now
  }
  X509_CRL_sort(crl.get());
  // CRLNumber grows with thisUpdate (seconds since the epoch), so "newer" agrees on both.
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), to_time_t(this_update)) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1)
    return Error{"issue_failed", last_openssl_error()};
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert_.get(), nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr akid(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!akid || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1)
    return Error{"issue_failed", last_openssl_error()};
  if (X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()) <= 0)
    return Error{"issue_failed", "CRL signing failed: " + last_openssl_error()};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1)
    return Error{"issue_failed", last_openssl_error()};
  return bio_string(bio.get());
}

std::string Authority::cert_pem() const {
  return to_pem(cert_.get());
}
std::string Authority::key_pem() const {
  return key_.private_pem();
}

// ---- PKCS#12 ----

Status write_pkcs12(const std::filesystem::path& path, const std::string& password, X509* cert,
                    EVP_PKEY* key, const std::vector<X509*>& chain,
                    const std::string& friendly_name) {
  init_openssl();
  X509StackPtr ca(sk_X509_new_null());
  if (!ca) return Error{"pkcs12_failed", "out of memory"};
  for (X509* c : chain) {
    if (X509_up_ref(c) != 1 || sk_X509_push(ca.get(), c) <= 0)
      return Error{"pkcs12_failed", last_openssl_error()};
  }
  // AES-256-CBC (PBES2/PBKDF2) for both bags; the MAC is added separately to pin SHA-256.
  Pkcs12Ptr p12(PKCS12_create_ex(
      password.c_str(), friendly_name.empty() ? nullptr : friendly_name.c_str(), key, cert,
      ca.get(), NID_aes_256_cbc, NID_aes_256_cbc, PKCS12_DEFAULT_ITER, -1, 0, nullptr, nullptr));
  if (!p12) return Error{"pkcs12_failed", last_openssl_error()};
  if (PKCS12_set_mac(p12.get(), password.c_str(), -1, nullptr, 0, PKCS12_DEFAULT_ITER,
                     EVP_sha256()) != 1)
    return Error{"pkcs12_failed", last_openssl_error()};
  unsigned char* der = nullptr;
  int n = i2d_PKCS12(p12.get(), &der);
  if (n <= 0) return Error{"pkcs12_failed", last_openssl_error()};
  std::string data(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_clear_free(der, static_cast<size_t>(n));
  return write_secret_file(path, data);
}

Result<KeyStore> load_pkcs12(const std::filesystem::path& path, const std::string& password) {
  init_openssl();
  auto data = read_file(path);
  if (!data.ok()) return data.error();
  const auto* p = reinterpret_cast<const unsigned char*>(data->data());
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data->size())));
  if (!p12) return Error{"malformed_pkcs12", path.string() + ": " + last_openssl_error()};
  if (PKCS12_mac_present(p12.get()) &&
      PKCS12_verify_mac(p12.get(), password.c_str(), static_cast<int>(password.size())) != 1) {
    bool unsupported = false;
    std::string why = drain_openssl_errors(&unsupported);
    if (unsupported) return Error{"unsupported_algorithm", path.string() + ": MAC: " + why};
    return Error{"bad_password", path.string() + ": the password does not match the store"};
  }
  EVP_PKEY* pkey = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), password.c_str(), &pkey, &cert, &ca) != 1) {
    bool unsupported = false;
    std::string why = drain_openssl_errors(&unsupported);
    if (unsupported)
      return Error{"unsupported_algorithm",
                   path.string() + ": the store uses an algorithm OpenSSL cannot handle (" + why +
                       ")" + (legacy_provider_loaded() ? "" : "; the legacy provider is missing")};
    return Error{"malformed_pkcs12", path.string() + ": " + why};
  }
  KeyStore ks;
  ks.key.reset(pkey);
  ks.cert.reset(cert);
  X509StackPtr chain(ca);
  while (chain && sk_X509_num(chain.get()) > 0) ks.chain.emplace_back(sk_X509_shift(chain.get()));
  if (!ks.key || !ks.cert)
    return Error{"no_key", path.string() + ": no private key with a certificate"};
  return ks;
}

// ---- CMS ----

Result<std::string> sign_cms(std::string_view content, X509* cert, EVP_PKEY* key,
                             const std::vector<X509*>& extra_certs, bool attach) {
  init_openssl();
  if (cert == nullptr || key == nullptr) return Error{"sign_failed", "missing certificate or key"};
  const unsigned int flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP |
                             (attach ? 0u : static_cast<unsigned>(CMS_DETACHED));
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  if (!cms) return Error{"sign_failed", last_openssl_error()};
  // CMS_add1_signer adds contentType, messageDigest and signingTime, and includes the cert.
  if (CMS_add1_signer(cms.get(), cert, key, EVP_sha256(), flags) == nullptr)
    return Error{"sign_failed", last_openssl_error()};
  for (X509* extra : extra_certs) {
    if (X509_cmp(extra, cert) == 0) continue;
    if (CMS_add1_cert(cms.get(), extra) != 1) return Error{"sign_failed", last_openssl_error()};
  }
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  if (!in || CMS_final(cms.get(), in.get(), nullptr, flags) != 1)
    return Error{"sign_failed", last_openssl_error()};
  unsigned char* der = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &der);
  if (n <= 0) return Error{"sign_failed", last_openssl_error()};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace aaj::pki
