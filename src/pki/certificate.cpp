#include "pki/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cctype>

#include "core/ids.h"

namespace aaj::pki {
namespace {

constexpr std::string_view kRoleArc = "1.2.398.3.3.4.";

std::string asn1_string_utf8(const ASN1_STRING* s) {
  if (s == nullptr) return "";
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return "";
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return r;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// "IIN123456789011" -> "123456789011" when the value is prefix + exactly 12 digits.
std::string prefixed_id(std::string_view value, std::string_view prefix) {
  if (!starts_with_ci(value, prefix)) return "";
  std::string_view rest = value.substr(prefix.size());
  return ids::is_twelve_digits(rest) ? std::string(rest) : "";
}

}  // namespace

std::string_view to_string(KeyProfile p) {
  switch (p) {
    case KeyProfile::Unspecified:
      return "unspecified";
    case KeyProfile::Authentication:
      return "authentication";
    case KeyProfile::Signing:
      return "signing";
    case KeyProfile::Other:
      return "other";
  }
  return "other";
}

bool is_gost_oid(std::string_view oid) {
  return oid.rfind("1.2.398.3.10.", 0) == 0 || oid.rfind("1.2.643.", 0) == 0;
}

std::string key_algorithm_name(std::string_view oid) {
  if (oid == "1.2.840.113549.1.1.1" || oid == "1.2.840.113549.1.1.10") return "rsa";
  if (oid == "1.2.840.10045.2.1") return "ec";
  if (oid == "1.3.101.112") return "ed25519";
  if (oid == "1.3.101.113") return "ed448";
  if (is_gost_oid(oid)) return "gost";
  return std::string(oid);
}

std::string name_to_string(const X509_NAME* name) {
  if (name == nullptr) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  // RFC 2253 without escaping non-ASCII bytes, so Cyrillic/Kazakh text stays readable UTF-8.
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    return "";
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

std::string serial_to_hex(const ASN1_INTEGER* serial) {
  if (serial == nullptr) return "";
  const unsigned char* d = ASN1_STRING_get0_data(serial);
  int len = ASN1_STRING_length(serial);
  std::string hex =
      len > 0 ? to_hex(std::string_view(reinterpret_cast<const char*>(d), static_cast<size_t>(len)))
              : "00";
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) hex = "-" + hex;
  return hex;
}

Result<Asn1IntegerPtr> serial_from_hex(std::string_view hex) {
  std::string clean;
  bool negative = false;
  size_t i = 0;
  while (i < hex.size() && std::isspace(static_cast<unsigned char>(hex[i]))) ++i;
  if (i < hex.size() && hex[i] == '-') {
    negative = true;
    ++i;
  }
  if (hex.size() >= i + 2 && hex[i] == '0' && (hex[i + 1] == 'x' || hex[i + 1] == 'X')) i += 2;
  for (; i < hex.size(); ++i) {
    char c = hex[i];
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return Error{"malformed_serial", "not a hex serial: " + std::string(hex)};
    clean.push_back(c);
  }
  if (clean.empty()) return Error{"malformed_serial", "empty serial"};
  BIGNUM* raw = nullptr;
  if (BN_hex2bn(&raw, clean.c_str()) == 0) return Error{"malformed_serial", last_openssl_error()};
  BignumPtr bn(raw);
  if (negative) BN_set_negative(bn.get(), 1);
  Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return Error{"malformed_serial", last_openssl_error()};
  return out;
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

std::string to_der(X509* cert) {
  unsigned char* out = nullptr;
  int n = i2d_X509(cert, &out);
  if (n <= 0) return "";
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return r;
}

Result<std::vector<X509Ptr>> parse_certificates(std::string_view data) {
  init_openssl();
  std::vector<X509Ptr> out;
  if (data.find("-----BEGIN") != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) return Error{"malformed_certificate", "out of memory"};
    for (;;) {
      X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
      if (x == nullptr) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE &&
            !out.empty()) {
          ERR_clear_error();  // normal end of input
          break;
        }
        return Error{"malformed_certificate",
                     out.empty() ? "no PEM certificate: " + last_openssl_error()
                                 : "corrupt PEM certificate #" + std::to_string(out.size() + 1) +
                                       ": " + last_openssl_error()};
      }
      out.emplace_back(x);
    }
    return out;
  }
  auto der = decode_der_or_base64(data);
  if (!der.ok()) return Error{"malformed_certificate", der.error().detail};
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
  if (!x) return Error{"malformed_certificate", "not a DER certificate: " + last_openssl_error()};
  if (p != reinterpret_cast<const unsigned char*>(der->data()) + der->size())
    return Error{"malformed_certificate", "trailing bytes after the DER certificate"};
  out.push_back(std::move(x));
  return out;
}

Result<std::vector<X509Ptr>> load_certificates(const std::filesystem::path& path) {
  auto data = read_file(path);
  if (!data.ok()) return data.error();
  auto certs = parse_certificates(*data);
  if (!certs.ok()) return Error{certs.error().code, path.string() + ": " + certs.error().detail};
  return certs;
}

Result<X509Ptr> parse_certificate(std::string_view data) {
  auto certs = parse_certificates(data);
  if (!certs.ok()) return certs.error();
  return std::move(certs->front());
}

Result<CertInfo> describe(X509* cert) {
  if (cert == nullptr) return Error{"malformed_certificate", "null certificate"};
  CertInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  info.subject = name_to_string(subject);
  info.issuer = name_to_string(X509_get_issuer_name(cert));

  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    std::string value = asn1_string_utf8(X509_NAME_ENTRY_get_data(e));
    switch (nid) {
      case NID_commonName:
        if (info.common_name.empty()) info.common_name = value;
        break;
      case NID_organizationName:
        if (info.organisation.empty()) info.organisation = value;
        break;
      case NID_serialNumber:
        if (info.iin.empty()) info.iin = prefixed_id(value, "IIN");
        // NCANode also reads a serialNumber "BIN…" as the BIN (legal-entity IS certificates).
        if (info.bin.empty()) info.bin = prefixed_id(value, "BIN");
        break;
      case NID_organizationalUnitName:
        if (info.bin.empty()) info.bin = prefixed_id(value, "BIN");
        break;
      default:
        break;
    }
  }
  info.iin_checksum_ok = !info.iin.empty() && ids::has_valid_check_digit(info.iin);

  info.serial_hex = serial_to_hex(X509_get0_serialNumber(cert));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1)
    return Error{"malformed_certificate", "cannot encode certificate: " + last_openssl_error()};
  info.sha256_hex = to_hex(std::string_view(reinterpret_cast<char*>(md), md_len));

  // The key algorithm comes from the SPKI OID, without decoding the key: OpenSSL cannot decode
  // Kazakh GOST keys, and describing such a certificate must still work.
  ASN1_OBJECT* key_oid = nullptr;
  if (X509_PUBKEY* pk = X509_get_X509_PUBKEY(cert))
    X509_PUBKEY_get0_param(&key_oid, nullptr, nullptr, nullptr, pk);
  const X509_ALGOR* sig_alg = nullptr;
  X509_get0_signature(nullptr, &sig_alg, cert);
  const ASN1_OBJECT* sig_oid = nullptr;
  if (sig_alg != nullptr) X509_ALGOR_get0(&sig_oid, nullptr, nullptr, sig_alg);
  info.signature_algorithm = oid_text(sig_oid);
  info.key_algorithm = key_algorithm_name(oid_text(key_oid));
  if (info.key_algorithm.empty() && is_gost_oid(info.signature_algorithm))
    info.key_algorithm = "gost";

  auto nb = from_asn1_time(X509_get0_notBefore(cert));
  auto na = from_asn1_time(X509_get0_notAfter(cert));
  if (!nb || !na) return Error{"malformed_certificate", "unreadable validity dates"};
  info.not_before = *nb;
  info.not_after = *na;

  uint32_t flags = X509_get_extension_flags(cert);  // also caches the extensions
  info.is_ca = (flags & EXFLAG_CA) != 0;
  info.has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  uint32_t ku = info.has_key_usage ? X509_get_key_usage(cert) : 0;
  info.digital_signature = (ku & KU_DIGITAL_SIGNATURE) != 0;
  if (info.is_ca) {
    info.profile = KeyProfile::Other;
  } else if (!info.has_key_usage) {
    info.profile = KeyProfile::Unspecified;
  } else if (!info.digital_signature) {
    info.profile = KeyProfile::Other;
  } else if (ku & KU_NON_REPUDIATION) {
    info.profile = KeyProfile::Signing;
  } else {
    // digitalSignature without nonRepudiation: NCA AUTH keys carry keyEncipherment too, but an
    // EC authentication key cannot, so keyEncipherment is not required.
    info.profile = KeyProfile::Authentication;
  }

  if (auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
          X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr))) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
      std::string oid = oid_text(sk_ASN1_OBJECT_value(eku, i));
      if (oid.rfind(kRoleArc, 0) == 0) {
        info.role_oids.push_back(oid);
        if (oid == "1.2.398.3.3.4.1.1.1" || oid == "1.2.398.3.3.4.1.2.6")
          info.information_system = true;
      }
      info.ekus.push_back(std::move(oid));
    }
    EXTENDED_KEY_USAGE_free(eku);
  }
  if (auto* pols = static_cast<CERTIFICATEPOLICIES*>(
          X509_get_ext_d2i(cert, NID_certificate_policies, nullptr, nullptr))) {
    for (int i = 0; i < sk_POLICYINFO_num(pols); ++i)
      info.policies.push_back(oid_text(sk_POLICYINFO_value(pols, i)->policyid));
    CERTIFICATEPOLICIES_free(pols);
  }
  ERR_clear_error();  // absent extensions leave nothing useful on the queue
  return info;
}

nlohmann::json to_json(const CertInfo& i) {
  return {
      {"subject", i.subject},
      {"issuer", i.issuer},
      {"common_name", i.common_name},
      {"iin", i.iin},
      {"bin", i.bin},
      {"organisation", i.organisation},
      {"serial", i.serial_hex},
      {"sha256", i.sha256_hex},
      {"key_algorithm", i.key_algorithm},
      {"signature_algorithm", i.signature_algorithm},
      {"not_before", time::format_utc(i.not_before)},
      {"not_after", time::format_utc(i.not_after)},
      {"profile", std::string(to_string(i.profile))},
      {"is_ca", i.is_ca},
      {"ekus", i.ekus},
      {"role_oids", i.role_oids},
      {"policies", i.policies},
      {"information_system", i.information_system},
      {"iin_checksum_ok", i.iin_checksum_ok},
  };
}

}  // namespace aaj::pki
