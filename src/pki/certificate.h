// Reading X.509 certificates the way the exchange needs them: who the holder is (IIN/BIN from
// NCA's subject conventions), what the key may be used for (NCA's AUTH/SIGN split) and which
// Kazakh role OIDs it carries. Pure functions over OpenSSL objects; thread-safe as long as the
// caller does not mutate the X509 concurrently.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "pki/openssl_util.h"

namespace aaj::pki {

enum class KeyProfile {
  Unspecified,     // no KeyUsage extension (e.g. `openssl x509 -req` output)
  Authentication,  // digitalSignature (+keyEncipherment), no nonRepudiation: NCA AUTH key
  Signing,         // digitalSignature + nonRepudiation: NCA SIGN key
  Other,           // KeyUsage present without digitalSignature, or a CA certificate
};

// "unspecified", "authentication", "signing", "other".
std::string_view to_string(KeyProfile p);

struct CertInfo {
  std::string subject;        // RFC 2253, UTF-8 (not escaped), most-significant RDN last
  std::string issuer;         // same format
  std::string common_name;    // first CN, UTF-8
  std::string iin;            // from subject serialNumber "IIN" + 12 digits; "" if none
  std::string bin;            // from OU "BIN" + 12 digits, or serialNumber "BIN…"; "" if none
  std::string organisation;   // first O, UTF-8
  std::string serial_hex;     // lower-case hex of the serial's magnitude bytes; "-" prefix if < 0
  std::string sha256_hex;     // of the certificate DER
  std::string key_algorithm;  // "rsa", "ec", "ed25519", "gost", or the SPKI algorithm OID
  std::string signature_algorithm;  // OID of the certificate's own signature algorithm
  time::Instant not_before{};
  time::Instant not_after{};
  KeyProfile profile = KeyProfile::Unspecified;
  bool has_key_usage = false;
  bool digital_signature = false;      // KeyUsage bit (false when there is no KeyUsage)
  bool is_ca = false;                  // basicConstraints cA = TRUE
  std::vector<std::string> ekus;       // dotted OIDs, in certificate order
  std::vector<std::string> role_oids;  // the EKU entries under 1.2.398.3.3.4.
  std::vector<std::string> policies;   // certificatePolicies OIDs (1.2.398.3.3.2.x for NCA)
  bool information_system = false;     // role 1.2.398.3.3.4.1.1.1 or 1.2.398.3.3.4.1.2.6
  bool iin_checksum_ok = false;        // IIN check digit; false when there is no IIN
};

// Describes `cert` (not owned, not modified except for OpenSSL's internal extension cache).
// Works on certificates whose key OpenSSL cannot decode (Kazakh GOST): the key algorithm is read
// from the SPKI algorithm OID. Never refuses because of the IIN check digit (NCA test
// certificates fail it; see iin_checksum_ok). Fails with "malformed_certificate" when cert is
// null or its validity dates cannot be read. Thread-safe.
Result<CertInfo> describe(X509* cert);

// All CertInfo fields; times as ISO 8601 UTC, profile as to_string().
nlohmann::json to_json(const CertInfo& info);

// True for the Kazakh GOST arc 1.2.398.3.10.* (and the Russian 1.2.643.* GOST arc), which this
// build of OpenSSL cannot verify.
bool is_gost_oid(std::string_view dotted_oid);

// "rsa" / "ec" / "ed25519" / "ed448" / "gost" for a SPKI algorithm OID, otherwise the OID.
std::string key_algorithm_name(std::string_view dotted_oid);

// Parses every certificate in `data`: one or more PEM "CERTIFICATE" blocks, one DER
// certificate, or base64 of a DER certificate. Fails with "malformed_certificate" when nothing
// parses or a PEM block is corrupt. The returned certificates are owned by the caller.
Result<std::vector<X509Ptr>> parse_certificates(std::string_view data);

// parse_certificates() of a file; "unreadable" when the file cannot be read.
Result<std::vector<X509Ptr>> load_certificates(const std::filesystem::path& path);

// The first certificate of parse_certificates().
Result<X509Ptr> parse_certificate(std::string_view data);

// PEM / DER encodings of a certificate ("" on an encoding failure, which needs a corrupt object).
std::string to_pem(X509* cert);
std::string to_der(X509* cert);

// Serial number formatting as in CertInfo::serial_hex, and parsing back (accepts upper or lower
// case, optional "0x", optional ':' separators). Parsing fails with "malformed_serial".
std::string serial_to_hex(const ASN1_INTEGER* serial);
Result<Asn1IntegerPtr> serial_from_hex(std::string_view hex);

// RFC 2253 UTF-8 rendering of a name, as in CertInfo::subject.
std::string name_to_string(const X509_NAME* name);

}  // namespace aaj::pki
