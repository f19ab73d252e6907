// Interoperability: a CMS produced by the `openssl` command-line tool, with a certificate made by
// `openssl x509 -req` from our CA (no extensions), verifies with CmsVerifier.
#include <cstdlib>

#include "pki/certificate.h"
#include "pki/cms.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::TempDir;
using test::test_ca;

bool have_openssl() {
  return std::system("openssl version >/dev/null 2>&1") == 0;
}

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

TEST(OpensslCli, CmsFromOpensslToolVerifies) {
  if (!have_openssl()) GTEST_SKIP() << "openssl command not found";
  TempDir dir;
  auto& ca = test_ca().ca;
  ASSERT_TRUE(write_public_file(dir / "ca.pem", ca.cert_pem()).ok());
  ASSERT_TRUE(write_secret_file(dir / "ca.key", ca.key_pem()).ok());
  test::write_text(dir / "data.txt", "request from the openssl tool\n");
  const std::string d = dir.path().string() + "/";
  ASSERT_EQ(run("openssl req -new -newkey rsa:2048 -nodes -keyout " + d + "user.key -out " + d +
                "user.csr -subj '/CN=OPENSSL USER/serialNumber=IIN990106300596/C=KZ'"),
            0);
  ASSERT_EQ(run("openssl x509 -req -in " + d + "user.csr -CA " + d + "ca.pem -CAkey " + d +
                "ca.key -CAcreateserial -days 30 -sha256 -out " + d + "user.pem"),
            0);
  ASSERT_EQ(run("openssl cms -sign -nodetach -binary -outform DER -in " + d + "data.txt -signer " +
                d + "user.pem -inkey " + d + "user.key -out " + d + "signed.der"),
            0);
  auto der = read_file(dir / "signed.der");
  ASSERT_TRUE(der.ok());

  CmsVerifier v(test_ca().trust, nullptr);
  for (Usage u : {Usage::Any, Usage::Signing, Usage::Authentication}) {
    VerifyOptions o;
    o.at = time::now();
    o.usage = u;
    auto r = v.verify(*der, o);
    EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
    EXPECT_EQ(r.content, "request from the openssl tool\n");
    EXPECT_EQ(r.signer.iin, "990106300596");
    EXPECT_EQ(r.signer.profile, KeyProfile::Unspecified);
  }

  // Detached signature from the tool, verified over the content.
  ASSERT_EQ(run("openssl cms -sign -binary -outform PEM -in " + d + "data.txt -signer " + d +
                "user.pem -inkey " + d + "user.key -out " + d + "detached.pem"),
            0);
  VerifyOptions o;
  o.at = time::now();
  auto pem = read_file(dir / "detached.pem").value();
  EXPECT_EQ(v.verify(pem, o).reason, "no_content");
  EXPECT_TRUE(v.verify_detached(pem, "request from the openssl tool\n", o).valid);
}

}  // namespace
}  // namespace aaj::pki
