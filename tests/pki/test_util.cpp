#include "test_util.h"

#include <fstream>
#include <random>

namespace aaj::pki::test {

fs::path nca_dir() {
  fs::path p = AAJ_FIXTURES_DIR;
  std::error_code ec;
  return fs::is_directory(p / "cms", ec) ? p : fs::path();
}

TempDir::TempDir() {
  std::random_device rd;
  path_ =
      fs::temp_directory_path() / ("aaj_pki_test_" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << p;
}

IssueSpec person_spec(CertKind kind, int nb_days, int na_days) {
  IssueSpec s;
  s.subject.common_name = "ТЕСТОВ ТЕСТ";
  s.subject.surname = "ТЕСТОВ";
  s.subject.given_name = "ТЕСТОВИЧ";
  s.subject.iin = "990106300596";
  s.kind = kind;
  s.not_before = days_from_now(nb_days);
  s.not_after = days_from_now(na_days);
  return s;
}

TestCa& test_ca() {
  static TestCa* ca = [] {
    auto a = Authority::create("AAJ Test Root", days_from_now(-365), days_from_now(5 * 365));
    if (!a.ok()) {
      ADD_FAILURE() << a.error().detail;
      std::abort();
    }
    auto trust = TrustStore::from_pem(a->cert_pem());
    if (!trust.ok()) {
      ADD_FAILURE() << trust.error().detail;
      std::abort();
    }
    return new TestCa{std::move(a).value(), std::move(trust).value()};
  }();
  return *ca;
}

Holder make_holder(const Authority& ca, const IssueSpec& spec) {
  auto key = KeyPair::ec_p256();
  EXPECT_TRUE(key.ok());
  auto issued = ca.issue(spec, *key);
  EXPECT_TRUE(issued.ok()) << (issued.ok() ? "" : issued.error().detail);
  if (!issued.ok()) std::abort();
  return Holder{std::move(issued).value(), std::move(key).value()};
}

std::string sign(const Holder& h, std::string_view content, bool attach,
                 const std::vector<X509*>& extra) {
  auto cms = sign_cms(content, h.cert(), h.key.get(), extra, attach);
  EXPECT_TRUE(cms.ok()) << (cms.ok() ? "" : cms.error().detail);
  return cms.ok() ? *cms : std::string();
}

}  // namespace aaj::pki::test
