// Small OpenSSL helpers shared by the PKI module: RAII owners, provider loading, error text,
// hex/base64 and input decoding. No exceptions; all functions are thread-safe.
#pragma once
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"

namespace aaj::pki {

// unique_ptr deleter calling an OpenSSL free function.
template <auto FreeFn>
struct OsslDeleter {
  template <class T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OsslDeleter<X509_CRL_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OsslDeleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OsslDeleter<X509_REVOKED_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OsslDeleter<CMS_ContentInfo_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, OsslDeleter<PKCS12_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OsslDeleter<ASN1_TIME_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OsslDeleter<ASN1_OBJECT_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;

// Owns a STACK_OF(X509) and the certificates in it.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Loads OpenSSL's "default" and "legacy" providers into the default library context, once per
// process (later calls return immediately). The legacy provider is needed for NCA's PKCS#12
// stores (RC2-40 / 3DES). If the legacy module is missing, only the legacy algorithms fail
// later (with "unsupported"); see legacy_provider_loaded(). Thread-safe.
void init_openssl();

// True when init_openssl() managed to load the legacy provider. Thread-safe.
bool legacy_provider_loaded();

// Drains this thread's OpenSSL error queue into one line ("reason (lib) [data]; …").
// Returns "" when the queue is empty. Thread-safe (the queue is per thread).
std::string last_openssl_error();

// Like last_openssl_error(); also sets *unsupported (if not null) when any drained error says an
// algorithm is unsupported (unknown key/cipher/digest, missing provider), so callers can report
// "unsupported_algorithm" instead of a generic failure.
std::string drain_openssl_errors(bool* unsupported);

// Clears this thread's OpenSSL error queue.
void clear_openssl_errors();

// Lower-case hex of bytes, no separators.
std::string to_hex(std::string_view bytes);

// Standard base64 (RFC 4648, with padding), no line breaks.
std::string base64_encode(std::string_view bytes);

// Decodes standard base64; ASCII whitespace anywhere is ignored and padding is optional.
// Fails with code "malformed_base64" on any other character or a truncated quantum.
Result<std::string> base64_decode(std::string_view text);

// Returns the DER bytes of `input`, which may be raw DER/BER (starts with a SEQUENCE tag whose
// length matches the input), base64 with or without whitespace/newlines, or PEM armour such as
// "-----BEGIN CMS-----" / "-----BEGIN PKCS7-----" (any label; the body between BEGIN and END is
// decoded). Fails with code "malformed_encoding" otherwise. The caller still has to parse the
// result.
Result<std::string> decode_der_or_base64(std::string_view input);

// SHA-256 of bytes, lower-case hex.
std::string sha256_hex(std::string_view bytes);

// SHA-256 fetched once for the process: EVP_sha256() makes OpenSSL 3 look the implementation up
// on every digest, which costs more than hashing a short string. Never null (EVP_sha256() if the
// fetch failed). Thread-safe.
const EVP_MD* sha256_md();

// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to an Instant. nullopt when malformed.
std::optional<time::Instant> from_asn1_time(const ASN1_TIME* t);

// Dotted text of an OID ("1.2.398.3.10.1.1.1.2"), "" for nullptr.
std::string oid_text(const ASN1_OBJECT* obj);

// Reads a whole file. Error code "unreadable" (detail names the path and errno text).
Result<std::string> read_file(const std::filesystem::path& path);

// Writes a file that holds a secret (private key, PKCS#12) with mode 0600: the data goes to a
// hidden temporary file (".NAME.tmp.N") in the same folder created with 0600, which is then
// renamed over `path`, so a reader never sees a partial file and the mode never passes through
// a wider one.
// Error code "write_failed".
Status write_secret_file(const std::filesystem::path& path, std::string_view data);

// Like write_secret_file but mode 0644, for certificates and CRLs.
Status write_public_file(const std::filesystem::path& path, std::string_view data);

}  // namespace aaj::pki
