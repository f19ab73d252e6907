// CMS verification cost per request, in one run (research-perf.md §6, ratio R3):
//   raw      EVP_DigestVerify with a cached key over the same signed attributes (the floor)
//   fast     CmsVerifier::verify with a warm signer cache (the gateway's path)
//   slow     CmsVerifier::verify_uncached (OpenSSL decodes the whole CMS every time)
//   openssl  d2i_CMS_ContentInfo + plain CMS_verify with the trust store (naive use)
// for RSA-2048 and ECDSA P-256 signers, with 1 and 2 threads. Our verifier checks revocation
// against a fresh CRL as in production; plain CMS_verify does not. Variants are interleaved
// (raw, fast, slow, openssl, repeated) and the median of the rounds is printed, as CPU-µs per
// verification (process CPU time / operations: stable on a shared box) and ops/s (wall).
//
// Usage: verify_bench [seconds per sample, default 0.5] [rounds, default 3]
#include <openssl/cms.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/der.h"
#include "pki/issue.h"
#include "pki/trust.h"

using namespace aaj;
using namespace aaj::pki;

namespace {

struct Sample {
  double cpu_us_per_op = 0;
  double ops_per_s = 0;
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Runs `op` on `threads` threads for `seconds`; exits on any failed operation.
Sample measure(int threads, double seconds, const std::function<bool()>& op) {
  std::atomic<bool> go{false}, stop{false};
  std::atomic<uint64_t> total{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op()) ++failures;
        ++n;
      }
      total += n;
    });
  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_seconds() - cpu0;
  if (failures.load() > 0) {
    std::fprintf(stderr, "verification failed %d times\n", failures.load());
    std::exit(1);
  }
  double ops = static_cast<double>(total.load());
  return {cpu * 1e6 / ops, ops / wall};
}

// The signed attributes (re-tagged as SET OF, as signed) and signature of a one-signer CMS.
struct Signed {
  std::string attrs;
  std::string signature;
};
Signed signed_parts(const std::string& cms) {
  der::Tlv ci, oid, e0, sd, x, si, t;
  der::parse_single(cms, ci);
  der::Reader c(ci.value);
  c.next(oid);
  c.next(e0);
  der::parse_single(e0.value, sd);
  der::Reader s(sd.value);
  der::Tlv last;
  while (s.next(x)) last = x;  // signerInfos is the last element
  der::Reader sis(last.value);
  sis.next(si);
  der::Reader q(si.value);
  Signed out;
  while (q.next(t)) {
    if (t.tag == der::kContext0) out.attrs = "\x31" + std::string(t.all.substr(1));
    if (t.tag == der::kOctetString) out.signature = std::string(t.value);
  }
  return out;
}

std::string payload() {
  std::string s = "{\"case_id\":\"2024-000123\",\"iin\":\"990106300596\",\"nonce\":\"";
  while (s.size() < 729 - 2) s += "0123456789abcdef";
  s.resize(729 - 2);
  return s + "\"}";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  init_openssl();
  auto now = time::now();
  auto day = std::chrono::hours(24);
  auto ca = Authority::create("AAJ Bench Root", now - 10 * day, now + 1000 * day).value();
  auto trust = TrustStore::from_pem(ca.cert_pem()).value();
  auto dir = std::filesystem::temp_directory_path() /
             ("aaj_verify_bench_" + std::to_string(static_cast<long>(::getpid())));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "ca.crl")
        << ca.make_crl({}, now - std::chrono::hours(1), now + 7 * day).value();
  }
  auto crls = CrlStore::open(dir, trust).value();
  CmsVerifier verifier(trust, crls);
  const std::string content = payload();

  std::printf("verify_bench: %zu-byte content, %.1f s per sample, median of %d rounds; load %s",
              content.size(), seconds, rounds, [] {
                static char buf[64] = "?\n";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = 0;
                  std::fclose(f);
                }
                return buf;
              }());
  std::printf("%-6s %-3s %-8s %12s %12s\n", "key", "thr", "path", "CPU-us/op", "ops/s");

  for (const char* alg : {"rsa", "p256"}) {
    auto key = std::string(alg) == "rsa" ? KeyPair::rsa(2048).value() : KeyPair::ec_p256().value();
    IssueSpec spec;
    spec.subject.common_name = "BENCH SIGNER";
    spec.subject.iin = "990106300596";
    spec.kind = CertKind::Signing;
    spec.not_before = now - day;
    spec.not_after = now + 365 * day;
    auto issued = ca.issue(spec, key).value();
    const std::string cms = sign_cms(content, issued.cert.get(), key.get(), {}).value();
    const Signed parts = signed_parts(cms);
    EVP_PKEY* pub = X509_get0_pubkey(issued.cert.get());

    VerifyOptions opts;
    opts.at = now;
    opts.usage = Usage::Signing;
    if (!verifier.verify(cms, opts).valid || !verifier.verify_uncached(cms, opts).valid) {
      std::fprintf(stderr, "the benchmark CMS does not verify\n");
      return 1;
    }

    std::function<bool()> raw = [&] {
      EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      return EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pub,
                                     nullptr) == 1 &&
             EVP_DigestVerify(
                 ctx.get(), reinterpret_cast<const unsigned char*>(parts.signature.data()),
                 parts.signature.size(), reinterpret_cast<const unsigned char*>(parts.attrs.data()),
                 parts.attrs.size()) == 1;
    };
    std::function<bool()> fast = [&] { return verifier.verify(cms, opts).valid; };
    std::function<bool()> slow = [&] { return verifier.verify_uncached(cms, opts).valid; };
    std::function<bool()> naive = [&] {
      const auto* p = reinterpret_cast<const unsigned char*>(cms.data());
      CmsPtr ci(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(cms.size())));
      return ci && CMS_verify(ci.get(), nullptr, trust->store(), nullptr, nullptr, CMS_BINARY) == 1;
    };
    if (!raw() || !naive()) {
      std::fprintf(stderr, "raw or plain CMS_verify does not verify\n");
      return 1;
    }
    const char* names[] = {"raw", "fast", "slow", "openssl"};
    std::function<bool()>* ops[] = {&raw, &fast, &slow, &naive};

    for (int threads : {1, 2}) {
      std::vector<double> us[4], rate[4];
      for (int round = 0; round < rounds; ++round)
        for (int i = 0; i < 4; ++i) {
          Sample s = measure(threads, seconds, *ops[i]);
          us[i].push_back(s.cpu_us_per_op);
          rate[i].push_back(s.ops_per_s);
        }
      double m[4];
      for (int i = 0; i < 4; ++i) {
        m[i] = median(us[i]);
        std::printf("%-6s %-3d %-8s %12.1f %12.0f\n", alg, threads, names[i], m[i],
                    median(rate[i]));
      }
      std::printf("%-6s %-3d ratios: fast/raw %.2fx  slow/fast %.2fx  openssl/fast %.2fx\n", alg,
                  threads, m[1] / m[0], m[2] / m[1], m[3] / m[1]);
    }
  }
  auto st = verifier.cache_stats();
  std::printf("cache: fast %llu, fallback %llu, built %llu, entries %zu\n",
              static_cast<unsigned long long>(st.fast),
              static_cast<unsigned long long>(st.fallback),
              static_cast<unsigned long long>(st.built), st.entries);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return st.fallback == 0 ? 0 : 1;
}
