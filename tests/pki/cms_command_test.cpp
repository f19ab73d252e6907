#include "pki/cms_command.h"

#include <sstream>

#include "pki/certificate.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using nlohmann::json;
using test::days_from_now;
using test::nca_dir;
using test::TempDir;
using test::test_ca;

struct CommandRun {
  int code;
  json out;
  std::string err;
};

CommandRun run(const std::string& file, const std::vector<std::string>& trust,
               const std::vector<std::string>& crls, const std::string& at) {
  std::ostringstream out, err;
  int code = cms_verify_command(file, trust, crls, at, out, err);
  json j = json::parse(out.str(), nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not one JSON object: " << out.str();
  return {code, j, err.str()};
}

TEST(CmsCommand, NcaCmsValidAsOfValidity) {
  AAJ_REQUIRE_NCA_FIXTURES();
  const std::string cms = (nca_dir() / "cms/lol_kek_rsa_attached.cms.der").string();
  const std::string ca = (nca_dir() / "ca/nca_rsa_test.crt").string();
  CommandRun r = run(cms, {ca}, {}, "2021-06-01T00:00:00Z");
  EXPECT_EQ(r.code, 0) << r.out.dump(1);
  EXPECT_EQ(r.out["valid"], true);
  EXPECT_EQ(r.out["content"], "bG9sX2tlaw==");  // base64("lol_kek")
  EXPECT_EQ(r.out["revocation"], "not_checked");
  EXPECT_EQ(r.out["signer"]["iin"], "123456789011");
  EXPECT_EQ(r.out["signer"]["serial"], "4279390a141f5353a62947b61ed65e81741467d1");
  EXPECT_EQ(r.out["signing_time"], "2022-10-01T18:52:19.000000Z");

  // Today it is expired.
  CommandRun today = run(cms, {ca}, {}, "");
  EXPECT_EQ(today.code, 1);
  EXPECT_EQ(today.out["reason"], "expired");
  // With NCA's CRL (issued after the signer expired): revocation unavailable, fail closed.
  CommandRun with_crl =
      run(cms, {ca}, {(nca_dir() / "crl/nca_rsa_test.crl").string()}, "2021-06-01");
  EXPECT_EQ(with_crl.code, 1);
  EXPECT_EQ(with_crl.out["reason"], "revocation_unavailable") << with_crl.out.dump(1);
}

TEST(CmsCommand, UsageErrors) {
  TempDir dir;
  auto& ca = test_ca().ca;
  ASSERT_TRUE(write_public_file(dir / "ca.pem", ca.cert_pem()).ok());
  const std::string ca_file = (dir / "ca.pem").string();
  test::write_text(dir / "x.cms", "whatever");
  const std::string cms = (dir / "x.cms").string();

  CommandRun bad_at = run(cms, {ca_file}, {}, "yesterday-ish");
  EXPECT_EQ(bad_at.code, 2);
  EXPECT_EQ(bad_at.out["reason"], "usage");
  EXPECT_FALSE(bad_at.err.empty());
  EXPECT_EQ(run(cms, {}, {}, "").out["reason"], "usage");
  EXPECT_EQ(run((dir / "missing.cms").string(), {ca_file}, {}, "").out["reason"], "unreadable");
  CommandRun no_trust_file = run(cms, {(dir / "missing.pem").string()}, {}, "");
  EXPECT_EQ(no_trust_file.code, 2);
  EXPECT_EQ(no_trust_file.out["reason"], "unreadable");
  CommandRun no_crl_file = run(cms, {ca_file}, {(dir / "missing.crl").string()}, "");
  EXPECT_EQ(no_crl_file.code, 2);
  EXPECT_EQ(no_crl_file.out["reason"], "unreadable");
  test::write_text(dir / "junk.crl", "junk");
  CommandRun junk_crl = run(cms, {ca_file}, {(dir / "junk.crl").string()}, "");
  EXPECT_EQ(junk_crl.code, 2);
  EXPECT_EQ(junk_crl.out["reason"], "bad_crl");

  // Garbage CMS is a verdict (invalid), not a usage error.
  CommandRun garbage = run(cms, {ca_file}, {}, "");
  EXPECT_EQ(garbage.code, 1);
  EXPECT_EQ(garbage.out["reason"], "malformed_cms");
}

TEST(CmsCommand, OwnCaWithFreshAndStaleCrl) {
  TempDir dir;
  auto& ca = test_ca().ca;
  ASSERT_TRUE(write_public_file(dir / "ca.pem", ca.cert_pem()).ok());
  auto h = test::make_holder(ca, test::person_spec(CertKind::Signing));
  auto cms = sign_cms("hello", h.cert(), h.key.get(), {});
  ASSERT_TRUE(cms.ok());
  // PEM armour on disk.
  test::write_text(dir / "req.pem",
                   "-----BEGIN CMS-----\n" + base64_encode(*cms) + "\n-----END CMS-----\n");
  test::write_text(
      dir / "fresh.crl",
      ca.make_crl({}, days_from_now(0) - std::chrono::hours(1), days_from_now(7)).value());
  test::write_text(dir / "stale.crl",
                   ca.make_crl({}, days_from_now(-10), days_from_now(-3)).value());
  const std::string file = (dir / "req.pem").string();
  const std::string ca_file = (dir / "ca.pem").string();

  CommandRun fresh = run(file, {ca_file}, {(dir / "fresh.crl").string()}, "");
  EXPECT_EQ(fresh.code, 0) << fresh.out.dump(1);
  EXPECT_EQ(fresh.out["revocation"], "good");
  EXPECT_EQ(fresh.out["content"], base64_encode("hello"));

  CommandRun stale = run(file, {ca_file}, {(dir / "stale.crl").string()}, "");
  EXPECT_EQ(stale.code, 1);
  EXPECT_EQ(stale.out["reason"], "revocation_unavailable");
  EXPECT_EQ(stale.out["revocation"], "unknown");

  // Both given: the fresh one wins, the older is not an error.
  CommandRun both =
      run(file, {ca_file}, {(dir / "stale.crl").string(), (dir / "fresh.crl").string()}, "");
  EXPECT_EQ(both.code, 0) << both.out.dump(1);
}

}  // namespace
}  // namespace aaj::pki
