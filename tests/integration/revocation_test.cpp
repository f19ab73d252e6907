// Fail closed on revocation, through the real server: with no fresh CRL nobody enters and
// /healthz says why; a fresh CRL dropped into the folder is taken without a restart; a corrupt
// file dropped beside it never replaces the good one.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "core/time.h"
#include "harness.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Polls until `pred` holds (the CRL watcher runs every 2 s in the demo config).
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 60; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

long health_status(Installation& inst) {
  auto h = inst.api()->get("/healthz");
  return h ? h->status : -1;
}

std::string entry_code(Installation& inst) {
  auto api = inst.api();
  auto t = aaj::client::enter(*api, *inst.auth_key(inst.user("prosecutor")));
  return t ? "entered" : t.error().code;
}

}  // namespace

TEST(Revocation, NoFreshCrlMeansNobodyEntersUntilOneArrives) {
  ASSERT_TRUE(aaj::time::load_astana_zone().ok());
  Installation inst;
  // Replace the demo CRL by a stale one: issued ten days ago, expired yesterday.
  auto ca = aaj::pki::Authority::load(inst.dir() / "pki/ca.pem", inst.dir() / "pki/ca.key");
  ASSERT_TRUE(ca.ok());
  auto now = aaj::time::now();
  auto stale = ca->make_crl({}, now - std::chrono::hours(240), now - std::chrono::hours(24));
  ASSERT_TRUE(stale.ok());
  ASSERT_TRUE(aaj::pki::write_public_file(inst.dir() / "pki/crl/ca.crl", *stale).ok());
  inst.start();

  EXPECT_EQ(health_status(inst), 503);
  auto h = inst.api()->get("/healthz");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->body["status"], "degraded");
  EXPECT_FALSE(h->body["problems"].empty());
  EXPECT_EQ(entry_code(inst), "revocation_unavailable");

  // A fresh CRL in the folder is picked up without a restart.
  auto r = run_aaj({"demo", "refresh-crl", inst.dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(eventually([&] { return health_status(inst) == 200; }));
  EXPECT_EQ(entry_code(inst), "entered");

  // Garbage and an empty file beside it are rejected; the good CRL stays in force.
  std::ofstream(inst.dir() / "pki/crl/zz-corrupt.crl") << "-----BEGIN X509 CRL-----\nAAAA\n";
  std::ofstream(inst.dir() / "pki/crl/empty.crl");
  EXPECT_TRUE(eventually([&] {
    auto hh = inst.api()->get("/healthz");
    return hh && hh->body["crl"].value("rejected", json::array()).size() >= 2;
  }));
  EXPECT_EQ(health_status(inst), 200);
  EXPECT_EQ(entry_code(inst), "entered");
}
