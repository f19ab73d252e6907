// Verification of the CMS SignedData that officers produce with their EDS (NCALayer) — the
// signature, the signer's chain to a configured anchor as of a given time, key usage per
// operation, and revocation. Every refusal has a stable reason code (see VerifyResult::reason).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "pki/certificate.h"
#include "pki/crl.h"
#include "pki/trust.h"

namespace aaj::pki {

enum class Usage {
  Any,             // digitalSignature, or no KeyUsage at all
  Authentication,  // login challenge: NCA AUTH certificate (or one without NCA markings)
  Signing,         // signed requests: NCA SIGN certificate (nonRepudiation) or unmarked
};

struct VerifyOptions {
  time::Instant at;  // the time the chain and revocation are checked as of (now, or the
                     // recorded receipt time when re-checking old evidence)
  Usage usage = Usage::Any;
  bool check_revocation = true;  // ignored when the verifier has no CrlStore
};

struct VerifyResult {
  bool valid = false;
  // "" when valid, otherwise one of: malformed_cms, not_signed_data, no_content,
  // multiple_signers, bad_signature, untrusted, expired, not_yet_valid, revoked,
  // revocation_unavailable, wrong_key_usage, unsupported_algorithm.
  std::string reason;
  std::string detail;  // English explanation for logs/operators; may be set when valid too
  CertInfo signer;     // filled once the signer certificate is found, even when invalid
  std::optional<time::Instant> signing_time;  // the signer's own (unauthenticated) claim
  std::string content;         // attached content bytes (filled once the signature verified)
  std::string revocation;      // "good", "revoked", "unknown", "not_checked"
  std::string cms_sha256_hex;  // of the CMS DER (of the raw input when it could not be decoded)
};

// {"valid", "reason", "signer": {"iin","bin","common_name","serial"}, "signing_time" (ISO UTC or
// null), "content" (base64), "revocation", "detail", "cms_sha256"}.
nlohmann::json to_json(const VerifyResult& r);

// The key-usage rule of `usage` ("honour Kazakh markings where present, never refuse standard
// certificates that lack them"): Authentication needs profile Authentication or Unspecified and,
// if the certificate has an EKU, clientAuth or anyExtendedKeyUsage; Signing needs profile
// Signing or Unspecified and, with an EKU, emailProtection or anyExtendedKeyUsage; Any needs
// digitalSignature or no KeyUsage. Returns "" when allowed, else why not.
std::string key_usage_problem(const CertInfo& signer, Usage usage);

// The signer cache behind CmsVerifier's fast path.
struct SignerCacheOptions {
  bool enabled = true;      // false: every call takes the reference path (OpenSSL decodes all)
  size_t capacity = 10000;  // entries; when full, the oldest entry of a shard is dropped
};

// Counters of the fast path, for tests and metrics (monotonic, except `entries`).
struct SignerCacheStats {
  uint64_t fast = 0;      // results decided by the fast path
  uint64_t fallback = 0;  // calls the fast path handed to the reference path
  uint64_t built = 0;     // cache entries built (cache misses), including "always fall back"
  size_t entries = 0;     // entries held now
};

namespace detail {
class SignerCache;
struct SignerEntry;
struct FastCms;
}  // namespace detail

class CmsVerifier {
 public:
  // `trust` must not be null. `crls` may be null: revocation is then "not_checked".
  // Copies share the signer cache (same trust store, so the cached chains stay valid).
  CmsVerifier(std::shared_ptr<const TrustStore> trust, std::shared_ptr<const CrlStore> crls,
              SignerCacheOptions cache = {});

  // Verifies a CMS SignedData with attached content, given as DER, base64 or PEM. Exactly one
  // SignerInfo; the signer certificate must be inside the CMS; the signature is checked first,
  // then the chain as of opts.at (purpose ANY, partial chains end at any anchor), then key
  // usage, then revocation of the signer certificate (intermediates are not revocation-checked:
  // anchors are trusted by configuration). Unsupported algorithms (Kazakh GOST, Ed25519 in CMS,
  // SHA-1/MD5 digests) are refused before any verification is attempted. Never throws.
  // Thread-safe: const, shares only the immutable trust store and the CrlStore snapshot.
  VerifyResult verify(std::string_view cms, const VerifyOptions& opts) const;

  // The same for a detached CMS (NCALayer with encapsulate:false, as used for login
  // challenges) over `content`. A CMS that carries attached content is accepted only when
  // that content equals `content`.
  VerifyResult verify_detached(std::string_view cms, std::string_view content,
                               const VerifyOptions& opts) const;

  // FAST PATH. verify() and verify_detached() first walk the CMS DER themselves (strict DER,
  // one SignerInfo with signed attributes, signer certificate inside the CMS, RSA PKCS#1 v1.5
  // or ECDSA, SHA-2/SHA-3) and look the signer up in a cache keyed by SHA-256 of the CMS's
  // certificate set plus the signer identifier; an entry holds the decoded signer certificate
  // and key, its CertInfo, and the chain outcome that does not depend on time. The signature,
  // messageDigest, validity as of opts.at, key usage and revocation (current CrlStore
  // snapshot) are still checked per call. Whatever the fast path does not understand, and
  // every bad signature, is handed to the reference path below, so the result is identical to
  // verify_uncached() for every input (tests/pki/cms_fast_test.cpp checks this).

  // The reference path: OpenSSL decodes the whole CMS on every call (no cache). Same contract.
  VerifyResult verify_uncached(std::string_view cms, const VerifyOptions& opts) const;
  VerifyResult verify_detached_uncached(std::string_view cms, std::string_view content,
                                        const VerifyOptions& opts) const;

  // A snapshot of the cache counters (all zero when the cache is disabled). Thread-safe.
  SignerCacheStats cache_stats() const;

 private:
  struct ChainOutcome {
    std::string reason;  // "" when the chain verified
    std::string detail;
    X509Ptr issuer;  // the signer's issuer in the verified chain (up-ref'd)
  };

  // Decodes the input and hashes it, then runs the fast path (when `allow_fast` and the cache
  // is on) or the reference path.
  VerifyResult run(std::string_view cms, std::optional<std::string_view> detached,
                   const VerifyOptions& opts, bool allow_fast) const;

  // The reference path over decoded DER; `r` already holds cms_sha256_hex and revocation.
  VerifyResult run_slow(const std::string& der, std::optional<std::string_view> detached,
                        const VerifyOptions& opts, VerifyResult r) const;

  // The fast path (cms_fast.cpp). nullopt when the input must go to run_slow(); otherwise
  // exactly what run_slow() would return. `base` holds cms_sha256_hex and revocation.
  std::optional<VerifyResult> run_fast(const std::string& der,
                                       std::optional<std::string_view> detached,
                                       const VerifyOptions& opts, const VerifyResult& base) const;

  // Builds the cache entry for a CMS's certificate set and signer identifier (a miss).
  std::shared_ptr<const detail::SignerEntry> build_entry(const detail::FastCms& cms) const;

  // Builds and verifies the signer's chain with the trust store as of `at`. The fast path
  // caches the part of this that does not depend on `at` (see build_entry) and otherwise calls
  // it with the cached certificates, so both paths reach the same verdict.
  ChainOutcome verify_chain(X509* signer, STACK_OF(X509) * untrusted, time::Instant at) const;

  std::shared_ptr<const TrustStore> trust_;
  std::shared_ptr<const CrlStore> crls_;
  // Per verifier (and so per TrustStore instance): a cached chain is never reused with another
  // trust store. Null when disabled.
  std::shared_ptr<detail::SignerCache> cache_;
};

}  // namespace aaj::pki
