// The fast path of CmsVerifier (see "FAST PATH" in cms.h).
//
// Why: OpenSSL 3.0 spends most of a CMS verification decoding the embedded certificates and
// their public keys (research-perf.md §1b: ~200 of ~284 µs for RSA-2048, and it does not scale
// across threads). Officers sign thousands of requests with the same certificate, so the
// decoded signer, its key, its CertInfo and the time-independent part of its chain validation
// are cached, and the CMS itself is walked with a strict DER reader instead of d2i.
//
// Equivalence with the reference path (run_slow) rests on three rules:
//  * The fast path only answers for inputs in a narrow, strict-DER shape that OpenSSL's decoder
//    certainly accepts and re-encodes byte for byte (the signature covers the re-encoded signed
//    attributes). Everything else returns nullopt and run_slow decides.
//  * Every negative outcome of the cryptographic checks (messageDigest, signature) is handed to
//    run_slow too, so error details stay OpenSSL's own.
//  * The cached chain outcome is used only when it provably does not depend on the time: the
//    chain verified with X509_V_FLAG_NO_CHECK_TIME, every certificate in it had exactly one
//    candidate issuer (OpenSSL prefers issuers valid "now" among several), and all validity
//    dates have the strict form X509_cmp_time accepts. Validity as of opts.at is then decided
//    per call, top of the chain first, as internal_verify() does. Otherwise the chain is
//    verified per call with the cached certificates (same function as run_slow).
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "pki/cms.h"
#include "pki/der.h"

namespace aaj::pki {
namespace detail {

struct DigestAlg {
  int nid = 0;
  std::string oid;  // content octets
  EVP_MD* md = nullptr;
};

struct SigAlg {
  int nid = 0;
  std::string oid;
  bool rsa = false;  // an RSA PKCS#1 v1.5 OID, else an ECDSA one
};

// OIDs and digests, resolved once per process (OBJ_* gives the exact DER content octets).
struct Known {
  std::string signed_data, data, content_type, message_digest, signing_time, countersignature;
  std::vector<DigestAlg> digests;  // the digests digest_problem() accepts
  std::vector<SigAlg> sigs;        // RSA PKCS#1 v1.5 and ECDSA (PSS goes to the slow path)
  EVP_MD* sha256 = nullptr;        // for cache keys, fetched once (implicit fetches lock)

  static std::string oid_of(int nid) {
    const ASN1_OBJECT* obj = OBJ_nid2obj(nid);
    if (obj == nullptr || OBJ_length(obj) == 0) return {};
    return std::string(reinterpret_cast<const char*>(OBJ_get0_data(obj)), OBJ_length(obj));
  }

  Known() {
    signed_data = oid_of(NID_pkcs7_signed);
    data = oid_of(NID_pkcs7_data);
    content_type = oid_of(NID_pkcs9_contentType);
    message_digest = oid_of(NID_pkcs9_messageDigest);
    signing_time = oid_of(NID_pkcs9_signingTime);
    countersignature = oid_of(NID_pkcs9_countersignature);
    for (int nid : {NID_sha224, NID_sha256, NID_sha384, NID_sha512, NID_sha512_224, NID_sha512_256,
                    NID_sha3_224, NID_sha3_256, NID_sha3_384, NID_sha3_512}) {
      EVP_MD* md = EVP_MD_fetch(nullptr, OBJ_nid2sn(nid), nullptr);
      if (md != nullptr) digests.push_back({nid, oid_of(nid), md});  // kept for the process
    }
    for (int nid : {NID_rsaEncryption, NID_sha224WithRSAEncryption, NID_sha256WithRSAEncryption,
                    NID_sha384WithRSAEncryption, NID_sha512WithRSAEncryption})
      sigs.push_back({nid, oid_of(nid), true});
    for (int nid : {NID_X9_62_id_ecPublicKey, NID_ecdsa_with_SHA224, NID_ecdsa_with_SHA256,
                    NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512})
      sigs.push_back({nid, oid_of(nid), false});
    sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    ERR_clear_error();
  }
};

const Known& known() {
  static const Known k;
  return k;
}

// The parts of a CMS SignedData the fast path uses; views into the DER buffer.
struct FastCms {
  std::string_view certs_field;         // the whole certificates [0] element
  std::vector<std::string_view> certs;  // each certificate's DER
  std::string_view sid;                 // the whole SignerIdentifier element
  bool sid_is_keyid = false;
  std::string_view sid_issuer;  // issuerAndSerialNumber: the whole Name element
  std::string_view sid_serial;  // ... and the whole INTEGER element
  std::string_view sid_keyid;   // subjectKeyIdentifier: the key id octets
  const DigestAlg* digest = nullptr;
  const SigAlg* sig = nullptr;
  std::string_view signed_attrs;  // the whole [0] IMPLICIT element
  std::string_view signature;
  bool attached = false;
  std::string_view content;  // eContent octets when attached
  std::string_view message_digest;
  uint8_t signing_time_tag = 0;  // tag of the signingTime value, 0 when absent
  std::string_view signing_time;
};

// The time-independent outcome for one certificate set + signer identifier.
struct SignerEntry {
  bool usable = false;  // false: this CMS shape always goes to the reference path
  X509Ptr signer;
  EVP_PKEY* key = nullptr;  // owned by `signer`
  bool rsa = false;         // else EC
  // A verification context initialised once for the key and the digest the entry was built with;
  // signature_ok() copies it. EVP_DigestVerifyInit fetches the algorithms and prepares the key
  // each time (about a fifth of an RSA verification); the copy only duplicates state. Read-only
  // after build_entry, so concurrent copies are safe.
  EvpMdCtxPtr prepared;
  const EVP_MD* prepared_md = nullptr;
  CertInfo info;
  // Chain decided once (chain_cached) or per call with `untrusted`.
  bool chain_cached = false;
  X509Ptr issuer;          // the signer's issuer in the chain (for revocation)
  std::string issuer_key;  // CrlStore::issuer_key_of(issuer), when chain_cached
  struct Level {
    int depth = 0;
    int64_t not_before = 0;  // seconds since the epoch
    int64_t not_after = 0;
    std::string subject;
  };
  std::vector<Level> levels;  // top of the chain first, the order OpenSSL checks times in
  X509StackPtr untrusted;     // the CMS's certificates, when !chain_cached
};

using CacheKey = std::array<unsigned char, 32>;

// Frees a STACK_OF(X509) but not the certificates (a shallow copy).
struct ShallowStackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

// Bounded, sharded map of immutable entries. Readers take a shared lock on one shard; a miss
// inserts under that shard's exclusive lock and drops the shard's oldest entry when full.
class SignerCache {
 public:
  explicit SignerCache(size_t capacity)
      : n_shards_(std::clamp<size_t>(capacity, 1, 16)),
        per_shard_(std::max<size_t>(1, capacity / n_shards_)),
        shards_(new Shard[n_shards_]) {}

  std::shared_ptr<const SignerEntry> find(const CacheKey& k) const {
    const Shard& s = shard(k);
    std::shared_lock lock(s.mu);
    auto it = s.map.find(k);
    return it == s.map.end() ? nullptr : it->second;
  }

  void insert(const CacheKey& k, std::shared_ptr<const SignerEntry> e) {
    Shard& s = shard(k);
    std::shared_ptr<const SignerEntry> evicted;  // released after the lock
    std::unique_lock lock(s.mu);
    if (!s.map.try_emplace(k, std::move(e)).second) return;  // another thread was first
    s.order.push_back(k);
    if (s.order.size() > per_shard_) {
      auto old = s.map.find(s.order.front());
      evicted = std::move(old->second);
      s.map.erase(old);
      s.order.pop_front();
    }
  }

  size_t size() const {
    size_t n = 0;
    for (size_t i = 0; i < n_shards_; ++i) {
      std::shared_lock lock(shards_[i].mu);
      n += shards_[i].map.size();
    }
    return n;
  }

  alignas(64) std::atomic<uint64_t> fast{0};
  alignas(64) std::atomic<uint64_t> fallback{0};
  alignas(64) std::atomic<uint64_t> built{0};

 private:
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<CacheKey, std::shared_ptr<const SignerEntry>, CacheKeyHash> map;
    std::deque<CacheKey> order;  // insertion order, for eviction
  };
  const Shard& shard(const CacheKey& k) const { return shards_[k[31] % n_shards_]; }
  Shard& shard(const CacheKey& k) { return shards_[k[31] % n_shards_]; }

  size_t n_shards_;
  size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

namespace {

// AlgorithmIdentifier with absent or NULL parameters; `oid` gets the OID content octets.
bool algorithm_oid(const der::Tlv& alg, std::string_view& oid) {
  der::Reader r(alg.value);
  der::Tlv o, p;
  if (!r.next(der::kOid, o)) return false;
  if (!r.empty() && (!r.next(der::kNull, p) || !p.value.empty() || !r.empty())) return false;
  oid = o.value;
  return true;
}

const DigestAlg* find_digest(const der::Tlv& alg) {
  std::string_view oid;
  if (!algorithm_oid(alg, oid)) return nullptr;
  for (const DigestAlg& d : known().digests)
    if (d.oid == oid) return &d;
  return nullptr;
}

const SigAlg* find_sig(const der::Tlv& alg) {
  std::string_view oid;
  if (!algorithm_oid(alg, oid)) return nullptr;
  for (const SigAlg& s : known().sigs)
    if (s.oid == oid) return &s;
  return nullptr;
}

// An attribute value OpenSSL decodes as ASN1_ANY and re-encodes to the same bytes.
bool acceptable_value(const der::Tlv& v) {
  switch (v.tag) {
    case der::kInteger:
      return der::minimal_integer(v.value);
    case der::kNull:
      return v.value.empty();
    case der::kOid:
      return der::valid_oid(v.value);
    case der::kUtcTime:
    case der::kGeneralizedTime:
      return der::strict_time(v.tag, v.value);
    case der::kOctetString:
    case der::kUtf8String:
    case der::kPrintableString:
    case der::kIa5String:
    case der::kSequence:  // kept as raw bytes by OpenSSL
    case der::kSet:
      return true;
    default:
      return false;
  }
}

// Signed attributes as OpenSSL's CMS_verify checks them (ossl_cms_si_check_attributes and the
// messageDigest lookup), narrowed: every attribute exactly once with exactly one value (a SET OF
// with several values would be re-sorted when OpenSSL re-encodes it), contentType = id-data,
// messageDigest an OCTET STRING, no countersignature.
bool parse_signed_attrs(std::string_view content, FastCms& out) {
  const Known& k = known();
  der::Reader r(content);
  if (r.empty()) return false;
  std::vector<std::string_view> seen;
  bool have_type = false, have_digest = false;
  while (!r.empty()) {
    der::Tlv attr, type, values, value;
    if (!r.next(der::kSequence, attr)) return false;
    der::Reader a(attr.value);
    if (!a.next(der::kOid, type) || !der::valid_oid(type.value) || !a.next(der::kSet, values) ||
        !a.empty())
      return false;
    der::Reader v(values.value);
    if (!v.next(value) || !v.empty() || !acceptable_value(value)) return false;
    if (std::find(seen.begin(), seen.end(), type.value) != seen.end()) return false;
    seen.push_back(type.value);
    if (type.value == k.content_type) {
      if (value.tag != der::kOid || value.value != k.data) return false;
      have_type = true;
    } else if (type.value == k.message_digest) {
      if (value.tag != der::kOctetString) return false;
      out.message_digest = value.value;
      have_digest = true;
    } else if (type.value == k.signing_time) {
      out.signing_time_tag = value.tag;
      out.signing_time = value.value;
    } else if (type.value == k.countersignature) {
      return false;  // an unsigned-only attribute: OpenSSL refuses it here
    }
  }
  return have_type && have_digest;
}

// Walks ContentInfo → SignedData → the one SignerInfo. False for anything outside the shape.
bool parse_cms(std::string_view der_bytes, FastCms& out) {
  const Known& k = known();
  der::Tlv ci, oid, explicit0, sd;
  if (!der::parse_single(der_bytes, ci) || ci.tag != der::kSequence) return false;
  der::Reader c(ci.value);
  if (!c.next(der::kOid, oid) || oid.value != k.signed_data) return false;
  if (!c.next(der::kContext0, explicit0) || !c.empty()) return false;
  if (!der::parse_single(explicit0.value, sd) || sd.tag != der::kSequence) return false;

  der::Reader s(sd.value);
  der::Tlv version, digest_algs, eci, certs, signer_infos;
  if (!s.next(der::kInteger, version) || version.value.size() != 1 ||
      (static_cast<uint8_t>(version.value[0]) & 0x80) != 0)
    return false;
  if (!s.next(der::kSet, digest_algs)) return false;
  std::vector<int> digest_nids;  // every one must be computable, as CMS_dataInit needs
  for (der::Reader d(digest_algs.value); !d.empty();) {
    der::Tlv alg;
    const DigestAlg* da = nullptr;
    if (!d.next(der::kSequence, alg) || (da = find_digest(alg)) == nullptr) return false;
    digest_nids.push_back(da->nid);
  }

  if (!s.next(der::kSequence, eci)) return false;
  der::Reader e(eci.value);
  der::Tlv etype, econtent0, octets;
  if (!e.next(der::kOid, etype) || etype.value != k.data) return false;
  if (!e.empty()) {
    if (!e.next(der::kContext0, econtent0) || !e.empty()) return false;
    if (!der::parse_single(econtent0.value, octets) || octets.tag != der::kOctetString)
      return false;  // constructed (BER) octets and the like: slow path
    out.attached = true;
    out.content = octets.value;
  }

  if (!s.next(der::kContext0, certs)) return false;  // no certificates: slow path
  out.certs_field = certs.all;
  for (der::Reader r(certs.value); !r.empty();) {
    der::Tlv cert;
    if (!r.next(der::kSequence, cert)) return false;  // attribute certificates etc.
    out.certs.push_back(cert.all);
  }
  if (out.certs.empty()) return false;
  if (!s.next(der::kSet, signer_infos) || !s.empty()) return false;  // crls [1]: slow path

  der::Reader sis(signer_infos.value);
  der::Tlv si;
  if (!sis.next(der::kSequence, si) || !sis.empty()) return false;  // exactly one signer

  der::Reader q(si.value);
  der::Tlv si_version, sid, digest_alg, attrs, sig_alg, signature;
  if (!q.next(der::kInteger, si_version) || si_version.value.size() != 1 ||
      (static_cast<uint8_t>(si_version.value[0]) & 0x80) != 0)
    return false;
  if (!q.next(sid)) return false;
  out.sid = sid.all;
  if (sid.tag == der::kSequence) {
    der::Reader ias(sid.value);
    der::Tlv name, serial;
    if (!ias.next(der::kSequence, name) || !ias.next(der::kInteger, serial) || !ias.empty() ||
        !der::minimal_integer(serial.value))
      return false;
    out.sid_issuer = name.all;
    out.sid_serial = serial.all;
  } else if (sid.tag == der::kContext0Prim) {
    out.sid_is_keyid = true;
    out.sid_keyid = sid.value;
  } else {
    return false;
  }
  if (!q.next(der::kSequence, digest_alg) || (out.digest = find_digest(digest_alg)) == nullptr)
    return false;
  if (std::find(digest_nids.begin(), digest_nids.end(), out.digest->nid) == digest_nids.end())
    return false;
  if (!q.next(der::kContext0, attrs)) return false;  // no signed attributes: slow path
  out.signed_attrs = attrs.all;
  if (!q.next(der::kSequence, sig_alg) || (out.sig = find_sig(sig_alg)) == nullptr) return false;
  if (!q.next(der::kOctetString, signature) || !q.empty()) return false;  // unsignedAttrs
  out.signature = signature.value;
  return parse_signed_attrs(attrs.value, out);
}

// SHA-256 of the certificates element and the signer identifier. False only when OpenSSL fails.
bool cache_key(const FastCms& m, CacheKey& key) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  // The certificates element is self-delimiting, so the concatenation is unambiguous.
  return ctx && known().sha256 != nullptr &&
         EVP_DigestInit_ex(ctx.get(), known().sha256, nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), m.certs_field.data(), m.certs_field.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), m.sid.data(), m.sid.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), key.data(), &len) == 1 && len == key.size();
}

// The signature over the signed attributes re-tagged as SET OF, with the SignerInfo's digest,
// exactly as CMS_SignerInfo_verify() computes it.
bool signature_ok(const SignerEntry& e, const EVP_MD* md, std::string_view attrs,
                  std::string_view signature) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  static const unsigned char kSetTag = der::kSet;
  if (!ctx) return false;
  if (e.prepared && md == e.prepared_md) {
    if (EVP_MD_CTX_copy_ex(ctx.get(), e.prepared.get()) != 1) return false;
  } else if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, EVP_MD_get0_name(md), nullptr, nullptr,
                                     e.key, nullptr) != 1) {
    return false;
  }
  return EVP_DigestVerifyUpdate(ctx.get(), &kSetTag, 1) == 1 &&
         EVP_DigestVerifyUpdate(ctx.get(), attrs.data() + 1, attrs.size() - 1) == 1 &&
         EVP_DigestVerifyFinal(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                               signature.size()) == 1;
}

std::optional<time::Instant> signing_time_of(const FastCms& m) {
  int type = m.signing_time_tag == der::kUtcTime           ? V_ASN1_UTCTIME
             : m.signing_time_tag == der::kGeneralizedTime ? V_ASN1_GENERALIZEDTIME
                                                           : 0;
  if (type == 0) return std::nullopt;
  Asn1TimePtr t(ASN1_STRING_type_new(type));
  if (!t ||
      ASN1_STRING_set(t.get(), m.signing_time.data(), static_cast<int>(m.signing_time.size())) != 1)
    return std::nullopt;
  return from_asn1_time(t.get());
}

// Seconds since the epoch of a validity date that X509_cmp_time() compares without error.
std::optional<int64_t> strict_seconds(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  int type = ASN1_STRING_type(t);
  uint8_t tag = type == V_ASN1_UTCTIME           ? der::kUtcTime
                : type == V_ASN1_GENERALIZEDTIME ? der::kGeneralizedTime
                                                 : 0;
  std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)),
                        static_cast<size_t>(ASN1_STRING_length(t)));
  if (!der::strict_time(tag, text)) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  int64_t days = time::days_from_civil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                                       static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

// True when no certificate of `chain` has more than one distinct candidate issuer (same subject
// name as its issuer name) among `anchors` and `certs`: then OpenSSL builds the same chain
// whatever the verification time.
bool unambiguous(STACK_OF(X509) * chain, const std::vector<X509Ptr>& anchors,
                 STACK_OF(X509) * certs) {
  std::vector<X509*> pool;
  for (const auto& a : anchors) pool.push_back(a.get());
  for (int i = 0; i < sk_X509_num(certs); ++i) pool.push_back(sk_X509_value(certs, i));
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    const X509_NAME* wanted = X509_get_issuer_name(sk_X509_value(chain, i));
    std::vector<X509*> found;
    for (X509* x : pool) {
      if (X509_NAME_cmp(X509_get_subject_name(x), wanted) != 0) continue;
      bool dup =
          std::any_of(found.begin(), found.end(), [x](X509* f) { return X509_cmp(f, x) == 0; });
      if (!dup) found.push_back(x);
    }
    if (found.size() > 1) return false;
  }
  return true;
}

}  // namespace
}  // namespace detail

CmsVerifier::CmsVerifier(std::shared_ptr<const TrustStore> trust,
                         std::shared_ptr<const CrlStore> crls, SignerCacheOptions cache)
    : trust_(std::move(trust)), crls_(std::move(crls)) {
  init_openssl();
  if (cache.enabled && cache.capacity > 0) {
    detail::known();  // resolve OIDs and digests once, outside the hot path
    cache_ = std::make_shared<detail::SignerCache>(cache.capacity);
  }
}

SignerCacheStats CmsVerifier::cache_stats() const {
  SignerCacheStats s;
  if (!cache_) return s;
  s.fast = cache_->fast.load(std::memory_order_relaxed);
  s.fallback = cache_->fallback.load(std::memory_order_relaxed);
  s.built = cache_->built.load(std::memory_order_relaxed);
  s.entries = cache_->size();
  return s;
}

std::shared_ptr<const detail::SignerEntry> CmsVerifier::build_entry(
    const detail::FastCms& m) const {
  auto e = std::make_shared<detail::SignerEntry>();
  auto done = [&e] {
    clear_openssl_errors();
    return std::shared_ptr<const detail::SignerEntry>(std::move(e));
  };

  // Every certificate must decode, as d2i_CMS_ContentInfo requires.
  X509StackPtr certs(sk_X509_new_null());
  if (!certs) return done();
  for (std::string_view c : m.certs) {
    const auto* p = reinterpret_cast<const unsigned char*>(c.data());
    X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(c.size())));
    if (!x || p != reinterpret_cast<const unsigned char*>(c.data()) + c.size()) return done();
    if (sk_X509_push(certs.get(), x.get()) <= 0) return done();
    x.release();
  }

  // The signer, matched as CMS_SignerInfo_cert_cmp() does (the identifier decodes the same way
  // it does inside the CMS).
  X509NamePtr sid_issuer;
  Asn1IntegerPtr sid_serial;
  std::unique_ptr<ASN1_OCTET_STRING, OsslDeleter<ASN1_OCTET_STRING_free>> sid_keyid;
  if (m.sid_is_keyid) {
    sid_keyid.reset(ASN1_OCTET_STRING_new());
    if (!sid_keyid ||
        ASN1_OCTET_STRING_set(sid_keyid.get(),
                              reinterpret_cast<const unsigned char*>(m.sid_keyid.data()),
                              static_cast<int>(m.sid_keyid.size())) != 1)
      return done();
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(m.sid_issuer.data());
    sid_issuer.reset(d2i_X509_NAME(nullptr, &p, static_cast<long>(m.sid_issuer.size())));
    if (!sid_issuer ||
        p != reinterpret_cast<const unsigned char*>(m.sid_issuer.data()) + m.sid_issuer.size())
      return done();
    p = reinterpret_cast<const unsigned char*>(m.sid_serial.data());
    sid_serial.reset(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(m.sid_serial.size())));
    if (!sid_serial ||
        p != reinterpret_cast<const unsigned char*>(m.sid_serial.data()) + m.sid_serial.size())
      return done();
  }
  X509* signer = nullptr;
  for (int i = 0; i < sk_X509_num(certs.get()); ++i) {
    X509* x = sk_X509_value(certs.get(), i);
    bool match = false;
    if (sid_keyid) {
      const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(x);
      match = skid != nullptr && ASN1_OCTET_STRING_cmp(sid_keyid.get(), skid) == 0;
    } else {
      match = X509_NAME_cmp(sid_issuer.get(), X509_get_issuer_name(x)) == 0 &&
              ASN1_INTEGER_cmp(sid_serial.get(), X509_get0_serialNumber(x)) == 0;
    }
    if (!match) continue;
    if (signer != nullptr && X509_cmp(signer, x) != 0) return done();  // ambiguous: slow path
    signer = x;
  }
  if (signer == nullptr) return done();

  auto info = describe(signer);
  if (!info.ok() || (info->key_algorithm != "rsa" && info->key_algorithm != "ec")) return done();
  EVP_PKEY* key = X509_get0_pubkey(signer);
  if (key == nullptr) return done();
  bool rsa = EVP_PKEY_is_a(key, "RSA") == 1;
  if (!rsa && EVP_PKEY_is_a(key, "EC") != 1) return done();  // RSA-PSS, SM2, …
  if (X509_up_ref(signer) != 1) return done();
  e->signer.reset(signer);
  e->key = key;
  e->rsa = rsa;
  {
    EvpMdCtxPtr prepared(EVP_MD_CTX_new());
    // Without it every call initialises its own context (signature_ok), which is only slower.
    if (prepared && EVP_DigestVerifyInit_ex(prepared.get(), nullptr, EVP_MD_get0_name(m.digest->md),
                                            nullptr, nullptr, key, nullptr) == 1) {
      e->prepared = std::move(prepared);
      e->prepared_md = m.digest->md;
    } else {
      clear_openssl_errors();  // not this request's error: it must not word a later one
    }
  }
  e->info = std::move(info).value();

  // The chain without time checks; see the top of this file for when it may be cached.
  bool cached = false;
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx && X509_STORE_CTX_init(ctx.get(), trust_->store(), signer, certs.get()) == 1) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
    if (X509_verify_cert(ctx.get()) == 1) {
      X509StackPtr chain(X509_STORE_CTX_get1_chain(ctx.get()));
      int n = chain ? sk_X509_num(chain.get()) : 0;
      cached = n > 0 && detail::unambiguous(chain.get(), trust_->anchors(), certs.get());
      for (int d = n - 1; cached && d >= 0; --d) {
        X509* x = sk_X509_value(chain.get(), d);
        auto nb = detail::strict_seconds(X509_get0_notBefore(x));
        auto na = detail::strict_seconds(X509_get0_notAfter(x));
        if (!nb || !na) {
          cached = false;
          break;
        }
        e->levels.push_back({d, *nb, *na, name_to_string(X509_get_subject_name(x))});
      }
      if (cached) {
        X509* issuer = n > 1 ? sk_X509_value(chain.get(), 1) : sk_X509_value(chain.get(), 0);
        if (X509_up_ref(issuer) == 1) {
          e->issuer.reset(issuer);
          e->issuer_key = CrlStore::issuer_key_of(issuer);
        } else {
          cached = false;
        }
      }
    }
  }
  e->chain_cached = cached;
  if (!cached) {
    e->levels.clear();
    e->untrusted = std::move(certs);
  }
  e->usable = true;
  return done();
}

std::optional<VerifyResult> CmsVerifier::run_fast(const std::string& der,
                                                  std::optional<std::string_view> detached,
                                                  const VerifyOptions& opts,
                                                  const VerifyResult& base) const {
  detail::SignerCache& cache = *cache_;
  auto fallback = [&cache]() -> std::optional<VerifyResult> {
    cache.fallback.fetch_add(1, std::memory_order_relaxed);
    clear_openssl_errors();
    return std::nullopt;
  };

  detail::FastCms m;
  if (!detail::parse_cms(der, m)) return fallback();
  std::string_view content;
  if (m.attached) {
    if (detached && *detached != m.content) return fallback();
    content = m.content;
  } else {
    // no_content; a null view, which BIO_new_mem_buf refuses on the reference path
    if (!detached || detached->data() == nullptr) return fallback();
    content = *detached;
  }

  detail::CacheKey key;
  if (!detail::cache_key(m, key)) return fallback();
  std::shared_ptr<const detail::SignerEntry> entry = cache.find(key);
  if (!entry) {
    entry = build_entry(m);
    cache.insert(key, entry);
    cache.built.fetch_add(1, std::memory_order_relaxed);
  }
  if (!entry->usable || m.sig->rsa != entry->rsa) return fallback();
  // X509_time_adj() cannot express times outside years 1970..9999 the way we compare them.
  const int64_t at = time::to_micros(opts.at) / 1000000;
  if (entry->chain_cached && (at < 0 || at > 253402300799)) return fallback();

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(content.data(), content.size(), md, &md_len, m.digest->md, nullptr) != 1 ||
      md_len != m.message_digest.size() || std::memcmp(md, m.message_digest.data(), md_len) != 0)
    return fallback();  // bad_signature, with OpenSSL's own wording from the slow path
  if (!detail::signature_ok(*entry, m.digest->md, m.signed_attrs, m.signature)) return fallback();

  VerifyResult r = base;
  auto fail = [&r, &cache](std::string reason, std::string detail) -> std::optional<VerifyResult> {
    cache.fast.fetch_add(1, std::memory_order_relaxed);
    r.valid = false;
    r.reason = std::move(reason);
    r.detail = std::move(detail);
    clear_openssl_errors();
    return std::move(r);
  };
  r.signer = entry->info;
  r.content.assign(content.data(), content.size());
  r.signing_time = detail::signing_time_of(m);

  X509* issuer = nullptr;
  ChainOutcome chain;
  if (entry->chain_cached) {
    for (const auto& level : entry->levels) {
      int err = level.not_before > at   ? X509_V_ERR_CERT_NOT_YET_VALID
                : level.not_after <= at ? X509_V_ERR_CERT_HAS_EXPIRED
                                        : X509_V_OK;
      if (err == X509_V_OK) continue;
      return fail(err == X509_V_ERR_CERT_HAS_EXPIRED ? "expired" : "not_yet_valid",
                  std::string(X509_verify_cert_error_string(err)) + " at depth " +
                      std::to_string(level.depth) + " (" + level.subject + ") as of " +
                      time::format_utc(opts.at));
    }
    issuer = entry->issuer.get();
  } else {
    // A private shallow copy: X509_verify_cert may reorder the untrusted stack it is given.
    std::unique_ptr<STACK_OF(X509), detail::ShallowStackDeleter> untrusted(
        sk_X509_dup(entry->untrusted.get()));
    if (!untrusted) return fallback();
    chain = verify_chain(entry->signer.get(), untrusted.get(), opts.at);
    if (!chain.reason.empty()) return fail(chain.reason, chain.detail);
    issuer = chain.issuer.get();
  }

  if (std::string why = key_usage_problem(r.signer, opts.usage); !why.empty())
    return fail("wrong_key_usage", why);

  if (opts.check_revocation && crls_) {
    RevocationStatus st =
        entry->chain_cached ? crls_->status(entry->signer.get(), issuer, entry->issuer_key, opts.at)
                            : crls_->status(entry->signer.get(), issuer, opts.at);
    r.revocation = std::string(to_string(st.kind));
    switch (st.kind) {
      case RevocationStatus::Kind::Revoked:
        return fail("revoked", st.detail);
      case RevocationStatus::Kind::Unknown:
        return fail("revocation_unavailable", st.detail);
      case RevocationStatus::Kind::Good:
        r.detail = st.detail;
        break;
    }
  }
  r.valid = true;
  r.reason.clear();
  cache.fast.fetch_add(1, std::memory_order_relaxed);
  clear_openssl_errors();
  return r;
}

}  // namespace aaj::pki
