#include "pki/crl.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <thread>

#include "pki/certificate.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using nlohmann::json;
using test::days_from_now;
using test::make_holder;
using test::person_spec;
using test::TempDir;
using test::test_ca;
using test::write_text;
using Kind = RevocationStatus::Kind;

time::Instant hours_from_now(int h) {
  return time::now() + std::chrono::hours(h);
}

std::vector<std::string> reasons(const json& report, const std::string& file_suffix) {
  std::vector<std::string> out;
  for (const auto& r : report["rejected"]) {
    std::string f = r["file"];
    if (f.size() >= file_suffix.size() &&
        f.compare(f.size() - file_suffix.size(), file_suffix.size(), file_suffix) == 0)
      out.push_back(r["reason"]);
  }
  return out;
}

bool listed(const json& arr, const std::string& file_suffix) {
  for (const auto& r : arr) {
    std::string f = r["file"];
    if (f.size() >= file_suffix.size() &&
        f.compare(f.size() - file_suffix.size(), file_suffix.size(), file_suffix) == 0)
      return true;
  }
  return false;
}

class CrlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    holder_ = std::make_unique<test::Holder>(make_holder(ca(), person_spec(CertKind::Signing)));
  }
  const Authority& ca() { return test_ca().ca; }
  X509* ca_cert() { return test_ca().ca.cert(); }
  std::string crl(std::vector<std::pair<std::string, time::Instant>> revoked,
                  time::Instant this_update, time::Instant next_update) {
    auto pem = ca().make_crl(revoked, this_update, next_update);
    EXPECT_TRUE(pem.ok());
    return pem.ok() ? *pem : "";
  }
  RevocationStatus status(CrlStore& s, time::Instant at = time::now()) {
    return s.status(holder_->cert(), ca_cert(), at);
  }

  TempDir dir_;
  std::unique_ptr<test::Holder> holder_;
};

TEST_F(CrlStoreTest, BadFilesNeverReplaceTheLastGoodCrl) {
  const std::string serial = holder_->issued.serial_hex;
  write_text(dir_ / "good.crl",
             crl({{serial, hours_from_now(-30)}}, hours_from_now(-2), days_from_now(7)));
  auto opened = CrlStore::open(dir_.path(), test_ca().trust);
  ASSERT_TRUE(opened.ok());
  CrlStore& store = **opened;
  EXPECT_TRUE(listed(store.last_report()["loaded"], "good.crl")) << store.last_report().dump(1);
  EXPECT_EQ(status(store).kind, Kind::Revoked);

  // Drop bad things into the folder.
  write_text(dir_ / "corrupt.crl", "\x30\x82\x01\x00garbage-garbage");
  write_text(dir_ / "empty.crl", "");
  auto foreign = Authority::create("AAJ Test Root", days_from_now(-1), days_from_now(10));
  ASSERT_TRUE(foreign.ok());  // same issuer name, different key
  write_text(dir_ / "foreign.crl",
             foreign->make_crl({}, hours_from_now(-1), days_from_now(7)).value());
  auto stranger = Authority::create("Stranger CA", days_from_now(-1), days_from_now(10));
  write_text(dir_ / "stranger.crl",
             stranger->make_crl({}, hours_from_now(-1), days_from_now(7)).value());
  write_text(dir_ / "older.crl", crl({}, hours_from_now(-3), days_from_now(7)));
  write_text(dir_ / "future.crl", crl({}, days_from_now(2), days_from_now(9)));
  std::filesystem::create_directory(dir_ / "subdir");    // ignored
  write_text(dir_ / ".staging.crl.tmp", "partial CRL");  // ignored (dot-file)

  json report = store.reload();
  EXPECT_EQ(reasons(report, "corrupt.crl"), std::vector<std::string>{"corrupt"});
  EXPECT_EQ(reasons(report, "empty.crl"), std::vector<std::string>{"empty"});
  EXPECT_EQ(reasons(report, "foreign.crl"), std::vector<std::string>{"bad_signature"});
  EXPECT_EQ(reasons(report, "stranger.crl"), std::vector<std::string>{"unknown_issuer"});
  EXPECT_EQ(reasons(report, "older.crl"), std::vector<std::string>{"not_newer"});
  EXPECT_EQ(reasons(report, "future.crl"), std::vector<std::string>{"from_the_future"});
  EXPECT_TRUE(listed(report["unchanged"], "good.crl")) << report.dump(1);
  EXPECT_TRUE(report["loaded"].empty()) << report.dump(1);
  EXPECT_TRUE(reasons(report, ".staging.crl.tmp").empty()) << report.dump(1);
  ASSERT_EQ(report["held"].size(), 1u);
  EXPECT_TRUE(std::string(report["held"][0]["file"]).ends_with("good.crl"));
  EXPECT_EQ(status(store).kind, Kind::Revoked);

  // Deleting the good file does not un-revoke anyone.
  std::filesystem::remove(dir_ / "good.crl");
  store.reload();
  EXPECT_EQ(status(store).kind, Kind::Revoked);

  // A newer good CRL (DER this time) that no longer lists the serial replaces it.
  std::string newer_pem = crl({}, hours_from_now(-1), days_from_now(7));
  write_text(dir_ / "newer.der", decode_der_or_base64(newer_pem).value());
  report = store.reload();
  EXPECT_TRUE(listed(report["loaded"], "newer.der")) << report.dump(1);
  EXPECT_EQ(status(store).kind, Kind::Good);
  EXPECT_EQ(store.reload_count(), 4u);
}

TEST_F(CrlStoreTest, FreshnessRules) {
  const std::string serial = holder_->issued.serial_hex;
  // CRL valid [-1d, +6d], revocation at -3d.
  write_text(dir_ / "a.crl",
             crl({{serial, days_from_now(-3)}}, days_from_now(-1), days_from_now(6)));
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();

  auto s = status(*store, time::now());
  EXPECT_EQ(s.kind, Kind::Revoked);
  ASSERT_TRUE(s.revoked_at.has_value());
  EXPECT_EQ(time::to_micros(*s.revoked_at) / 1000000, time::to_micros(days_from_now(-3)) / 1000000);

  // Before the revocation (and before thisUpdate): the entry dates it later -> good.
  EXPECT_EQ(status(*store, days_from_now(-5)).kind, Kind::Good);
  // After nextUpdate: stale.
  auto stale = status(*store, days_from_now(8));
  EXPECT_EQ(stale.kind, Kind::Unknown);
  EXPECT_NE(stale.detail.find("stale"), std::string::npos);

  // A certificate not listed, asked about before thisUpdate: good while the certificate was
  // unexpired at thisUpdate ...
  auto other = make_holder(ca(), person_spec(CertKind::Signing, -30, 300));
  EXPECT_EQ(store->status(other.cert(), ca_cert(), days_from_now(-10)).kind, Kind::Good);
  // ... unknown when it had expired before thisUpdate (its entry could have been dropped).
  auto expired = make_holder(ca(), person_spec(CertKind::Signing, -30, -2));
  auto u = store->status(expired.cert(), ca_cert(), days_from_now(-10));
  EXPECT_EQ(u.kind, Kind::Unknown);
  EXPECT_NE(u.detail.find("expired"), std::string::npos) << u.detail;

  // Wrong issuer, or an issuer without a CRL.
  auto sub = ca().subordinate("AAJ Sub", days_from_now(-1), days_from_now(10)).value();
  auto by_sub = make_holder(sub, person_spec(CertKind::Signing));
  EXPECT_EQ(store->status(by_sub.cert(), ca_cert(), time::now()).kind, Kind::Unknown);
  EXPECT_EQ(store->status(by_sub.cert(), sub.cert(), time::now()).kind, Kind::Unknown);
  EXPECT_EQ(store->status(nullptr, ca_cert(), time::now()).kind, Kind::Unknown);
}

TEST_F(CrlStoreTest, UnsupportedCrlKindsAreRejected) {
  // Turn a CRL into a delta CRL and re-sign it with the real CA key.
  std::string pem = crl({}, hours_from_now(-1), days_from_now(7));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509CrlPtr delta(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(delta);
  Asn1IntegerPtr base(ASN1_INTEGER_new());
  ASN1_INTEGER_set(base.get(), 1);
  ASSERT_EQ(X509_CRL_add1_ext_i2d(delta.get(), NID_delta_crl, base.get(), 1, 0), 1);
  ASSERT_GT(X509_CRL_sign(delta.get(), ca().key(), EVP_sha256()), 0);
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(out.get(), delta.get());
  char* p = nullptr;
  long n = BIO_get_mem_data(out.get(), &p);
  write_text(dir_ / "delta.crl", std::string(p, static_cast<size_t>(n)));
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();
  EXPECT_EQ(reasons(store->last_report(), "delta.crl"),
            std::vector<std::string>{"delta_crl_unsupported"});
  EXPECT_EQ(status(*store).kind, Kind::Unknown);
  EXPECT_FALSE(CrlStore::open(dir_ / "missing", test_ca().trust).ok());
}

TEST_F(CrlStoreTest, FixedFileListAndPemBundle) {
  auto path = dir_ / "bundle.pem";
  // Two CRLs of one issuer in one file: the newer is held, the older reported.
  write_text(path, crl({}, hours_from_now(-5), days_from_now(1)) +
                       crl({{holder_->issued.serial_hex, hours_from_now(-4)}}, hours_from_now(-2),
                           days_from_now(1)));
  auto store = CrlStore::from_files({path, dir_ / "missing.crl"}, test_ca().trust).value();
  json r = store->last_report();
  EXPECT_EQ(r["loaded"].size(), 1u) << r.dump(1);
  EXPECT_EQ(reasons(r, "#1"), std::vector<std::string>{"not_newer"});
  EXPECT_EQ(reasons(r, "missing.crl"), std::vector<std::string>{"unreadable"});
  EXPECT_EQ(status(*store).kind, Kind::Revoked);
}

// CRLs held in memory (an evidence package's): no file, each named in the report; a damaged
// one is reported, the good one held.
TEST_F(CrlStoreTest, FromBytes) {
  const std::string good =
      crl({{holder_->issued.serial_hex, hours_from_now(-4)}}, hours_from_now(-2), days_from_now(1));
  std::string damaged = good;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  auto store = CrlStore::from_bytes({{"crls[0]", good}, {"crls[1]", damaged}, {"crls[2]", ""}},
                                    test_ca().trust)
                   .value();
  json r = store->last_report();
  ASSERT_EQ(r["loaded"].size(), 1u) << r.dump(1);
  EXPECT_EQ(r["loaded"][0]["file"], "crls[0]");
  ASSERT_EQ(r["rejected"].size(), 2u) << r.dump(1);
  EXPECT_EQ(r["rejected"][0]["file"], "crls[1]");
  EXPECT_TRUE(r["rejected"][0]["reason"] == "corrupt" ||
              r["rejected"][0]["reason"] == "bad_signature")
      << r.dump(1);
  EXPECT_EQ(reasons(r, "crls[2]"), std::vector<std::string>{"empty"});
  EXPECT_EQ(status(*store).kind, Kind::Revoked);
  // A reload parses the same bytes again: nothing changes.
  EXPECT_EQ(store->reload()["unchanged"].size(), 1u);
  EXPECT_EQ(status(*store).kind, Kind::Revoked);
}

TEST_F(CrlStoreTest, WatcherPicksUpChangesWithoutRestart) {
  write_text(dir_ / "ca.crl", crl({}, hours_from_now(-3), days_from_now(7)));
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();
  ASSERT_EQ(status(*store).kind, Kind::Good);
  std::atomic<int> notified{0};
  store->set_reload_listener([&](const json&) { ++notified; });
  store->start_watching(std::chrono::seconds(1));
  store->start_watching(std::chrono::seconds(1));  // second call: no-op

  // Replace the file with a newer CRL revoking the holder.
  write_text(dir_ / "ca.crl.tmp", crl({{holder_->issued.serial_hex, hours_from_now(-1)}},
                                      hours_from_now(-1), days_from_now(7)));
  std::filesystem::rename(dir_ / "ca.crl.tmp", dir_ / "ca.crl");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (status(*store).kind != Kind::Revoked && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(status(*store).kind, Kind::Revoked);
  EXPECT_GE(notified.load(), 1);
  // The destructor stops and joins the watcher promptly (not after a full period).
  auto t0 = std::chrono::steady_clock::now();
  store.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
}

}  // namespace
}  // namespace aaj::pki
