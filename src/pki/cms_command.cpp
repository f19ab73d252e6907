#include "pki/cms_command.h"

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/openssl_util.h"
#include "pki/trust.h"

namespace aaj::pki {
namespace {

int usage_error(std::ostream& out, std::ostream& err, const std::string& reason,
                const std::string& message) {
  out << nlohmann::json{{"valid", false}, {"reason", reason}, {"message", message}}.dump(2) << "\n";
  err << "aaj cms verify: " << message << "\n";
  return 2;
}

}  // namespace

int cms_verify_command(const std::string& file, const std::vector<std::string>& trust,
                       const std::vector<std::string>& crls, const std::string& at,
                       std::ostream& out, std::ostream& err) {
  init_openssl();
  time::Instant when = time::now();
  if (!at.empty()) {
    auto parsed = time::parse_iso8601(at);
    if (!parsed) return usage_error(out, err, "usage", "--at is not an ISO 8601 time: " + at);
    when = *parsed;
  }
  if (trust.empty()) return usage_error(out, err, "usage", "at least one --trust file is required");

  std::vector<std::filesystem::path> trust_files(trust.begin(), trust.end());
  auto store = TrustStore::load(trust_files);
  if (!store.ok())
    return usage_error(out, err, store.error().code == "unreadable" ? "unreadable" : "usage",
                       "trust anchors: " + store.error().code + ": " + store.error().detail);

  std::shared_ptr<const CrlStore> crl_store;
  if (!crls.empty()) {
    std::vector<std::filesystem::path> crl_files(crls.begin(), crls.end());
    for (const auto& f : crl_files) {
      auto probe = read_file(f);
      if (!probe.ok()) return usage_error(out, err, "unreadable", probe.error().detail);
    }
    auto loaded = CrlStore::from_files(crl_files, *store);
    if (!loaded.ok())
      return usage_error(out, err, "bad_crl", loaded.error().code + ": " + loaded.error().detail);
    // A CRL the user named but we cannot use (corrupt, foreign, delta…) is an input error, not a
    // verdict; two CRLs of one issuer where the older loses is fine.
    const nlohmann::json report = (*loaded)->last_report();
    for (const auto& r : report["rejected"]) {
      if (r["reason"] == "not_newer") continue;
      return usage_error(out, err, "bad_crl",
                         r["file"].get<std::string>() + ": " + r["reason"].get<std::string>() +
                             ": " + r["detail"].get<std::string>());
    }
    crl_store = std::move(loaded).value();
  }

  auto data = read_file(file);
  if (!data.ok()) return usage_error(out, err, "unreadable", data.error().detail);

  CmsVerifier verifier(*store, crl_store);
  VerifyOptions opts;
  opts.at = when;
  opts.usage = Usage::Any;
  opts.check_revocation = crl_store != nullptr;
  VerifyResult r = verifier.verify(*data, opts);
  out << to_json(r).dump(2) << "\n";
  return r.valid ? 0 : 1;
}

}  // namespace aaj::pki
