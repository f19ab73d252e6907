#include "support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/time.h"
#include "pki/openssl_util.h"
#include "witness/witness.h"

namespace aaj::witness::test {
namespace merkle = journal::merkle;

namespace {

time::Instant days(int n) {
  return time::now() + std::chrono::hours(24) * n;
}

[[noreturn]] void die(const std::string& what, const Error& e) {
  ADD_FAILURE() << what << ": " << e.code << ": " << e.detail;
  std::abort();
}

pki::Authority make_ca(const std::string& name) {
  auto a = pki::Authority::create(name, days(-365), days(5 * 365));
  if (!a) die("ca " + name, a.error());
  return std::move(*a);
}

Holder issue(const pki::Authority& ca, pki::CertKind kind, const std::string& cn,
             const std::string& bin, const std::string& org) {
  auto key = pki::KeyPair::ec_p256();
  if (!key) die("key", key.error());
  pki::IssueSpec s;
  s.subject.common_name = cn;
  s.subject.bin = bin;
  s.subject.organisation = org;
  s.kind = kind;
  s.not_before = days(-1);
  s.not_after = days(365);
  if (kind == pki::CertKind::TlsServer) {
    s.dns_names = {"localhost"};
    s.ip_addresses = {"127.0.0.1"};
  } else if (!bin.empty()) {
    s.role_oids = {"1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"};  // organisation roles
  }
  auto cert = ca.issue(s, *key);
  if (!cert) die("issue " + cn, cert.error());
  return Holder{std::move(*cert), std::move(*key)};
}

bool write(const fs::path& p, const std::string& data) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  EXPECT_TRUE(out.good()) << p;
  return out.good();
}

}  // namespace

const Keys& keys() {
  static const Keys* k = [] {
    auto system_ca = make_ca("AAJ TEST SYSTEM CA");
    auto other_ca = make_ca("AAJ TEST OTHER CA");
    auto witness_ca = make_ca("AAJ TEST PROSECUTOR CA");
    using K = pki::CertKind;
    auto system_sign = issue(system_ca, K::Signing, "AAJ OPERATOR", kOperatorBin, "OPERATOR");
    auto system_auth =
        issue(system_ca, K::Authentication, "AAJ OPERATOR", kOperatorBin, "OPERATOR");
    auto other_bin_sign = issue(system_ca, K::Signing, "SOMEONE ELSE", kOtherBin, "OTHER");
    auto untrusted_sign = issue(other_ca, K::Signing, "AAJ OPERATOR", kOperatorBin, "OPERATOR");
    auto witness_sign =
        issue(witness_ca, K::Signing, "PROSECUTOR WITNESS", kProsecutorBin, "PROSECUTOR");
    auto witness_auth =
        issue(witness_ca, K::Authentication, "PROSECUTOR WITNESS", kProsecutorBin, "PROSECUTOR");
    auto tls = issue(witness_ca, K::TlsServer, "aaj witness", "", "");
    auto* keys = new Keys{std::move(system_ca),      std::move(other_ca),
                          std::move(witness_ca),     std::move(system_sign),
                          std::move(system_auth),    std::move(other_bin_sign),
                          std::move(untrusted_sign), std::move(witness_sign),
                          std::move(witness_auth),   std::move(tls)};
    return keys;
  }();
  return *k;
}

bool write_files(const fs::path& dir) {
  const Keys& k = keys();
  bool ok = write(dir / "system_ca.pem", k.system_ca.cert_pem()) &&
            write(dir / "witness_ca.pem", k.witness_ca.cert_pem()) &&
            write(dir / "witness.pass", std::string(kPassword) + "\n") &&
            write(dir / "tls/server.pem", k.tls.issued.cert_pem + k.witness_ca.cert_pem());
  if (!ok) return false;
  if (Status s = pki::write_secret_file(dir / "tls/server.key", k.tls.key.private_pem()); !s) {
    ADD_FAILURE() << s.error().detail;
    return false;
  }
  for (auto [name, h] : {std::pair<const char*, const Holder*>{"witness.p12", &k.witness_sign},
                         {"witness_auth.p12", &k.witness_auth}}) {
    if (Status s = pki::write_pkcs12(dir / name, kPassword, h->cert(), h->key.get(),
                                     {k.witness_ca.cert()}, "witness");
        !s) {
      ADD_FAILURE() << s.error().detail;
      return false;
    }
  }
  return true;
}

void Log::grow_to(int64_t n) {
  while (store_.records() < n) {
    const int64_t i = store_.records();
    std::string entry =
        (fork_at_ >= 0 && i >= fork_at_ ? "forged record " : "record ") + std::to_string(i);
    ASSERT_TRUE(store_.append_record(merkle::leaf_hash(entry)).ok());
  }
}

merkle::Hash Log::root() {
  auto r = merkle::tree_hash(store_.records(), store_);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : merkle::Hash{};
}

json Log::head(const std::string& log, int64_t batch_first) {
  const int64_t n = size();
  const int64_t first = batch_first > 0 ? batch_first : n;
  // The batch's seal leaves (§4) are not the witness's business: any tree over the batch will do.
  merkle::MemoryHashStore batch;
  for (int64_t s = first; s <= n; ++s)
    EXPECT_TRUE(batch.append_record(merkle::leaf_hash("seal " + std::to_string(s))).ok());
  auto batch_root = merkle::tree_hash(batch.records(), batch);
  const auto now = time::now();
  return json{
      {"at", time::format_utc(now)},
      {"at_astana", time::format_astana(now)},
      {"batch", {{"first_seq", first}, {"last_seq", n}, {"root", merkle::to_hex(*batch_root)}}},
      {"log", log},
      {"root", merkle::to_hex(root())},
      {"size", n}};
}

std::vector<std::string> Log::proof_from(int64_t m) {
  std::vector<std::string> out;
  if (m == 0 || m == size()) return out;
  auto p = merkle::prove_tree(size(), m, store_);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().detail);
  if (p.ok())
    for (const auto& h : *p) out.push_back(merkle::to_hex(h));
  return out;
}

json sign_head(const json& head, const Holder& by) {
  auto cms = pki::sign_cms(canonical_head(head), by.cert(), by.key.get(), {}, /*attach=*/false);
  EXPECT_TRUE(cms.ok());
  return json{{"head", head}, {"signature", cms.ok() ? pki::base64_encode(*cms) : ""}};
}

json request(const json& signed_head, int64_t previous_size,
             const std::vector<std::string>& consistency) {
  return json{
      {"checkpoint", signed_head}, {"previous_size", previous_size}, {"consistency", consistency}};
}

std::vector<json> read_json_lines(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

}  // namespace aaj::witness::test
