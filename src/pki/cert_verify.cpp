#include "pki/cert_verify.h"

#include <openssl/x509_vfy.h>

namespace aaj::pki {
namespace {

X509Ptr parse_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr c(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (c && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) c.reset();
  return c;
}

std::string reason_of(int err) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "not_yet_valid";
    default:
      return "untrusted";
  }
}

}  // namespace

VerifyResult verify_certificate(std::string_view leaf_der,
                                const std::vector<std::string>& intermediates_der,
                                const TrustStore& trust, const CrlStore* crls,
                                const VerifyOptions& opts) {
  VerifyResult r;
  r.revocation = "not_checked";
  auto fail = [&r](std::string reason, std::string detail) {
    r.valid = false;
    r.reason = std::move(reason);
    r.detail = std::move(detail);
    clear_openssl_errors();
    return r;
  };
  X509Ptr leaf = parse_der(leaf_der);
  if (!leaf) return fail("malformed_certificate", "the certificate is not DER X.509");
  auto info = describe(leaf.get());
  if (!info) return fail("malformed_certificate", info.error().detail);
  r.signer = *info;
  X509StackPtr untrusted(sk_X509_new_null());  // owns the intermediates pushed into it
  for (const auto& d : intermediates_der) {
    X509Ptr c = parse_der(d);
    if (!c) return fail("malformed_certificate", "an intermediate is not DER X.509");
    if (sk_X509_push(untrusted.get(), c.get()) > 0) c.release();
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust.store(), leaf.get(), untrusted.get()) != 1)
    return fail("untrusted", "cannot set up chain verification: " + last_openssl_error());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(time::to_micros(opts.at) / 1000000));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);  // usage is judged below, per operation
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    return fail(reason_of(err), std::string(X509_verify_cert_error_string(err)) + " as of " +
                                    time::format_utc(opts.at));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  X509* issuer = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : sk_X509_value(chain, 0);
  if (std::string why = key_usage_problem(r.signer, opts.usage); !why.empty())
    return fail("wrong_key_usage", why);
  if (opts.check_revocation && crls) {
    RevocationStatus st = crls->status(leaf.get(), issuer, opts.at);
    r.revocation = std::string(to_string(st.kind));
    if (st.kind == RevocationStatus::Kind::Revoked) return fail("revoked", st.detail);
    if (st.kind == RevocationStatus::Kind::Unknown)
      return fail("revocation_unavailable", st.detail);
    r.detail = st.detail;
  }
  r.valid = true;
  clear_openssl_errors();
  return r;
}

}  // namespace aaj::pki
