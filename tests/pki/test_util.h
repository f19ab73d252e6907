// Shared helpers for the PKI tests: a CA generated once per test binary, temporary folders,
// and shortcuts for issuing and signing.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "core/time.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/trust.h"

namespace aaj::pki::test {

namespace fs = std::filesystem;

inline time::Instant days_from_now(int days) {
  return time::now() + std::chrono::hours(24) * days;
}

// The NCA fixture folder, or "" when it does not exist (tests then GTEST_SKIP()).
fs::path nca_dir();
#define AAJ_REQUIRE_NCA_FIXTURES()                                                           \
  do {                                                                                       \
    if (::aaj::pki::test::nca_dir().empty())                                                 \
      GTEST_SKIP() << "NCA fixtures not found at " AAJ_FIXTURES_DIR " (../shared/fixtures)"; \
  } while (0)

// A fresh empty folder, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_text(const fs::path& p, std::string_view data);

// "Тестов Тест" of NCA style with a valid IIN, for `kind`, valid [now+nb_days, now+na_days].
IssueSpec person_spec(CertKind kind, int nb_days = -30, int na_days = 365);

// A root CA "AAJ Test Root" valid [-1y, +5y], created once per process, and its trust store.
struct TestCa {
  Authority ca;
  std::shared_ptr<const TrustStore> trust;
};
TestCa& test_ca();

// A certificate issued by `ca` for a new EC P-256 key, with the key.
struct Holder {
  Issued issued;
  KeyPair key;
  X509* cert() const { return issued.cert.get(); }
};
Holder make_holder(const Authority& ca, const IssueSpec& spec);

// sign_cms() that must succeed.
std::string sign(const Holder& h, std::string_view content, bool attach = true,
                 const std::vector<X509*>& extra = {});

}  // namespace aaj::pki::test
