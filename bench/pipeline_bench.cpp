// The full pipeline against its own parts, in one run (research-perf.md §5–6).
//
// Starts a demo installation (`aaj demo init`, `aaj sourcesim`, `aaj serve` as real processes on
// loopback), enters as a user, pre-signs a corpus of unique requests (unique nonces: the replay
// check stays on) and replays it over 64 TLS keep-alive connections. Alongside, in the same run
// and on the same machine, it measures the parts every request needs at minimum:
//   tls     one HTTPS keep-alive exchange of the same bytes with a server that does nothing
//           (our http::Server answering on its I/O thread, the same load generator): client +
//           server CPU
//   verify  the request's signature with the signer's key cached (SHA-256 of the content and
//           EVP_DigestVerify over the signed attributes): the floor of any CMS verifier
//   forward one query to the source simulator over a kept-alive connection (the pipeline's own
//           router, resilience decorator and asynchronous HTTP client + the simulator's CPU)
//   append  one durable event-log record of the pipeline's own size (group commit, fdatasync)
// Each part's cost is box CPU-µs per request; their sum Σc gives the ceiling
// cores × 1e6 / Σc req/s, and the pipeline is reported as a ratio of it (target ≥ 0.75).
// The server's CPU is also reported per thread name (aaj-io, aaj-journal, aaj-archive…, from
// /proc/<pid>/task), to see which of its threads a change moved. And the box's share left idle
// during the load (/proc/stat): the ratio is that utilisation times the CPU efficiency (sum of
// parts / box CPU per request), so the two say whether a shortfall is work or waiting.
//
// Usage: pipeline_bench [--requests N] [--rounds R] [--connections C] [--workers W]
//                       [--io-threads T] [--commit-delay-us D] [--no-seal] [--keep]
//                       [--aaj PATH]
// --no-seal runs the server without the system key (development mode allows it): no signed
// heads and no seals, to see what sealing every answer costs (compare two runs).
// --aaj runs another build's `aaj` (demo, simulator and server) with this run's load generator and
// parts: alternate runs of two builds to compare them on a noisy box (research-perf.md §6).
// --commit-delay-us sets the log's group-commit wait (journal.commit_delay_us) to compare values.
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/ids.h"
#include "core/time.h"
#include "http/server.h"
#include "journal/journal.h"
#include "loadgen.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"
#include "sources/connector.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  size_t requests = 6000;  // per round: short phases, so the box changes little within a round
  int rounds = 7;          // the median of the rounds is reported
  int connections = 64;
  bool keep = false;
  int workers = 0;                 // server.worker_threads; 0 = the demo's
  int io_threads = 0;              // server.io_threads; 0 = the demo's
  bool no_seal = false;            // run without the system key (no heads, no seals)
  long long commit_delay_us = -1;  // journal.commit_delay_us; -1 = the configuration's default
  std::string aaj = AAJ_BINARY;    // the binary under test
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint16_t free_port() {
  aaj::http::ServerOptions o;
  o.port = 0;
  o.tls = false;
  auto s =
      aaj::http::Server::start(o, [](const aaj::http::Request&) { return aaj::http::Response{}; });
  uint16_t p = s ? (*s)->port() : 0;
  if (s) (*s)->stop();
  return p;
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log,
            const std::vector<std::string>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid, &st, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

[[noreturn]] void die(const std::string& why) {
  std::cerr << "pipeline_bench: " << why << "\n";
  std::exit(1);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The signed attributes (as DER SET OF), signature, content and message digest of a CMS, taken
// apart once outside the timed loop.
struct SignedParts {
  std::string attrs_der, signature, content, digest;
};

SignedParts take_apart(const std::string& der) {
  SignedParts out;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  CMS_ContentInfo* cms = d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size()));
  if (!cms) die("corpus CMS does not parse");
  ASN1_OCTET_STRING** content = CMS_get0_content(cms);
  out.content.assign(reinterpret_cast<const char*>((*content)->data), (*content)->length);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
  ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
  out.signature.assign(reinterpret_cast<const char*>(sig->data), sig->length);
  // DER of SET OF Attribute: the attributes' encodings sorted, under tag 0x31 (what was signed).
  std::vector<std::string> enc;
  for (int i = 0; i < CMS_signed_get_attr_count(si); ++i) {
    X509_ATTRIBUTE* a = CMS_signed_get_attr(si, i);
    unsigned char* buf = nullptr;
    int n = i2d_X509_ATTRIBUTE(a, &buf);
    enc.emplace_back(reinterpret_cast<char*>(buf), n);
    OPENSSL_free(buf);
    if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) == NID_pkcs9_messageDigest) {
      ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(a, 0);
      out.digest.assign(reinterpret_cast<const char*>(t->value.octet_string->data),
                        t->value.octet_string->length);
    }
  }
  std::sort(enc.begin(), enc.end());
  std::string body;
  for (const auto& e : enc) body += e;
  std::string len;
  if (body.size() < 128) {
    len = std::string(1, static_cast<char>(body.size()));
  } else {
    std::string b;
    for (size_t n = body.size(); n; n >>= 8) b.insert(b.begin(), static_cast<char>(n & 0xff));
    len = std::string(1, static_cast<char>(0x80 | b.size())) + b;
  }
  out.attrs_der = "\x31" + len + body;
  CMS_ContentInfo_free(cms);
  return out;
}

struct Part {
  std::string name;
  std::vector<double> cpu_us;  // box CPU-µs per request, per round
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // A whole non-negative number, or the run stops with a message (not an exception).
    auto number = [&]() -> long long {
      std::string v = i + 1 < argc ? argv[++i] : "";
      char* end = nullptr;
      errno = 0;
      long long n = v.empty() ? -1 : std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0 || n < 0 || n > 100000000)
        die(a + " wants a whole number, not '" + v + "'");
      return n;
    };
    if (a == "--requests")
      args.requests = static_cast<size_t>(number());
    else if (a == "--rounds")
      args.rounds = static_cast<int>(number());
    else if (a == "--connections")
      args.connections = static_cast<int>(number());
    else if (a == "--keep")
      args.keep = true;
    else if (a == "--workers")
      args.workers = static_cast<int>(number());
    else if (a == "--io-threads")
      args.io_threads = static_cast<int>(number());
    else if (a == "--commit-delay-us")
      args.commit_delay_us = number();
    else if (a == "--no-seal")
      args.no_seal = true;
    else if (a == "--aaj" && i + 1 < argc)
      args.aaj = argv[++i];
    else
      die("unknown argument " + a);
  }
  if (args.requests < 2 || args.rounds < 1 || args.connections < 1)
    die("--requests >= 2, --rounds >= 1 and --connections >= 1");
  if (::access(args.aaj.c_str(), X_OK) != 0) die("--aaj: " + args.aaj + " is not an executable");
  aaj::pki::init_openssl();
  if (!aaj::time::load_astana_zone()) die("no tz database");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());

  // ---- the installation ----
  char tmpl[] = "/tmp/aaj-bench-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  uint16_t port = free_port(), sim_port = free_port(), sys_port = free_port();
  std::string sim_listen = "127.0.0.1:" + std::to_string(sim_port);
  {
    pid_t p = spawn(
        {args.aaj, "demo", "init", dir.string(), "--listen", "127.0.0.1:" + std::to_string(port)},
        dir.parent_path() / (dir.filename().string() + "-init.log"),
        {"AAJ_DEMO_SIM_LISTEN=" + sim_listen,
         "AAJ_DEMO_SYSTEMS_LISTEN=127.0.0.1:" + std::to_string(sys_port)});
    int st = 0;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("demo init failed");
  }
  // The corpus is signed before the rounds: widen the signing-time window to cover the run.
  {
    std::string cfg = slurp(dir / "aaj.toml");
    auto p = cfg.find("max_clock_skew_seconds = 300");
    if (p != std::string::npos) cfg.replace(p, 28, "max_clock_skew_seconds = 1800");
    auto w = cfg.find("worker_threads = 32");
    if (args.workers > 0) {
      if (w == std::string::npos) die("--workers: the demo's worker_threads line was not found");
      cfg.replace(w, 19, "worker_threads = " + std::to_string(args.workers));
    }
    auto io = cfg.find("io_threads = 2");
    if (args.io_threads > 0) {
      if (io == std::string::npos) die("--io-threads: the demo's io_threads line was not found");
      cfg.replace(io, 14, "io_threads = " + std::to_string(args.io_threads));
    }
    if (args.commit_delay_us >= 0) {
      auto j = cfg.find("[journal]\n");
      if (j == std::string::npos) die("--commit-delay-us: no [journal] section in the demo");
      cfg.insert(j + 10, "commit_delay_us = " + std::to_string(args.commit_delay_us) + "\n");
    }
    const std::string key_lines =
        "system_cert = \"pki/system.pem\"\nsystem_key = \"pki/system.key\"\n";
    auto k = cfg.find(key_lines);
    if (args.no_seal) {
      if (k == std::string::npos) die("--no-seal: the demo's system key lines were not found");
      cfg.erase(k, key_lines.size());
      // A witness co-signs signed heads: without the key there are none to offer.
      auto w0 = cfg.find("[witness]\n");
      if (w0 != std::string::npos) {
        auto w1 = cfg.find("\n[", w0 + 1);
        cfg.erase(w0, w1 == std::string::npos ? std::string::npos : w1 + 1 - w0);
      }
    }
    std::ofstream(dir / "aaj.toml", std::ios::trunc) << cfg;
  }
  json inst = json::parse(slurp(dir / "users.json"));
  pid_t sim = spawn({args.aaj, "sourcesim", "--config", (dir / "aaj.toml").string()},
                    dir / "sourcesim.log");
  pid_t server =
      spawn({args.aaj, "serve", "--config", (dir / "aaj.toml").string()}, dir / "serve.log");
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  std::string ca = (dir / "pki/ca.pem").string();
  aaj::client::ApiClient api(url, ca);
  for (int i = 0;; ++i) {
    auto h = api.get("/healthz");
    if (h && h->status == 200) break;
    if (i > 200) die("server did not start: " + slurp(dir / "serve.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  json user;
  for (const auto& u : inst["users"])
    if (u["user_type"] == "afm_worker") user = u;
  auto auth = aaj::client::Signer::from_pkcs12(user["auth_key_store"].get<std::string>(),
                                               user["password"].get<std::string>());
  auto sign = aaj::client::Signer::from_pkcs12(user["key_store"].get<std::string>(),
                                               user["password"].get<std::string>());
  if (!auth || !sign) die("key stores");
  auto since = aaj::time::to_micros(aaj::time::now());
  auto token = aaj::client::enter_fully(api, **auth, **sign, [&]() -> aaj::Result<std::string> {
    for (int i = 0; i < 50; ++i) {
      auto c = aaj::client::read_outbox_code(dir / "data/sms-outbox", "", since);
      if (c) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return aaj::Error{"no_code", ""};
  });
  if (!token) die("entry: " + token.error().code + " " + token.error().detail);

  // ---- the corpus: unique nonces, R01 about 1000 synthetic persons ----
  const size_t total = args.requests * static_cast<size_t>(args.rounds);
  std::vector<std::string> subjects;
  for (int s = 1; subjects.size() < 1000; ++s)
    if (auto iin = aaj::ids::make_iin(1960 + s % 40, 1 + s % 12, 1 + s % 28, s % 2, s))
      subjects.push_back(*iin);
  std::vector<std::string> corpus(total), cms_der(total);
  {
    auto t0 = Clock::now();
    std::atomic<size_t> next{0};
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < cores; ++t)
      ts.emplace_back([&] {
        for (size_t i; (i = next++) < total;) {
          json doc = aaj::client::make_document(
              "R01", {{"type", "financial_monitoring"}, {"number", "FM-2026/" + std::to_string(i)}},
              {{"iin", subjects[i % subjects.size()]}},
              "Қаржы мониторингі / финансовый мониторинг");
          auto c = (*sign)->sign(doc.dump());
          if (!c) die("sign");
          cms_der[i] = *c;
          corpus[i] = json{{"cms", aaj::pki::base64_encode(*c)}}.dump();
        }
      });
    for (auto& t : ts) t.join();
    std::cerr << "corpus: " << total << " requests signed in "
              << std::chrono::duration<double>(Clock::now() - t0).count() << " s, "
              << corpus[0].size() << " bytes each\n";
  }

  // One answer, to size the "tls" part's response like the pipeline's.
  std::string typical_answer;
  {
    auto r = api.post("/api/v1/requests", corpus[0], *token);
    if (!r || r->status != 200) die("first request: " + (r ? r->raw : r.error().detail));
    typical_answer = r->raw;
  }
  std::vector<std::string> pipeline_corpus(corpus.begin() + 1, corpus.end());

  aaj::loadgen::LoadSpec spec;
  spec.port = port;
  spec.path = "/api/v1/requests";
  spec.headers = {{"Authorization", "Bearer " + *token}, {"Content-Type", "application/json"}};
  spec.connections = args.connections;
  spec.duration = std::chrono::seconds(60);

  // The "tls" part's server: our http::Server with the installation's certificate, answering the
  // pipeline's typical answer on the I/O thread without doing anything (the floor of serving one
  // HTTPS request).
  aaj::http::ServerOptions so;
  so.port = 0;
  so.cert_chain_file = (dir / "pki/server.pem").string();
  so.private_key_file = (dir / "pki/server.key").string();
  auto echo = aaj::http::Server::start(
      so, [&](const aaj::http::Request&) { return aaj::http::Response{}; },
      [&](aaj::http::Request&, const aaj::http::Responder& respond) {
        aaj::http::Response r;
        r.body = typical_answer;
        respond(std::move(r));
        return true;
      });
  if (!echo) die("echo server");

  // The "forward" part's connectors: the pipeline's own (router, resilience, http client) on a
  // runtime like the server's, with as many queries in flight as the pipeline has requests.
  auto fwd_rt = aaj::http::Runtime::start({2, 1});
  auto router = aaj::sources::SourceRouter::create(
      [&] {
        aaj::sources::ConnectorConfig c;
        c.url = "http://" + sim_listen;
        c.max_concurrency = 0;
        return c;
      }(),
      {}, {fwd_rt});
  if (!router) die("router: " + router.error().detail);

  Part p_tls{"tls", {}}, p_verify{"verify", {}}, p_forward{"forward", {}}, p_append{"append", {}};
  std::vector<double> pipe_idle, pipe_foreign;  // box shares during the pipeline runs
  std::vector<double> pipe_rps, pipe_cpu, pipe_p50, pipe_p99, pipe_server_cpu, pipe_sim_cpu,
      pipe_client_cpu;
  std::map<std::string, std::vector<double>> pipe_thread_cpu;  // server thread name -> per round
  size_t offset = 0;
  json rounds = json::array();
  for (int round = 0; round < args.rounds; ++round) {
    aaj::loadgen::wait_for_quiet_box(0.85, 2, std::chrono::milliseconds(500),
                                     std::chrono::seconds(20));
    // -- the pipeline --
    std::vector<std::string> slice(
        pipeline_corpus.begin() + static_cast<long>(offset),
        pipeline_corpus.begin() +
            static_cast<long>(std::min(offset + args.requests - 1, pipeline_corpus.size())));
    offset += slice.size();
    spec.bodies = &slice;
    spec.once = true;
    spec.port = port;
    std::cerr << "round " << round + 1 << ": pipeline load starting (server pid " << server << ")"
              << std::endl;
    auto journal_counts = [&]() -> std::pair<double, double> {
      auto h = api.get("/healthz");
      json j = h ? json::parse(h->raw, nullptr, false) : json();
      if (!j.is_object() || !j.contains("journal")) return {0, 0};
      return {j["journal"].value("appended", 0.0), j["journal"].value("batches", 0.0)};
    };
    auto [appended0, batches0] = journal_counts();
    auto threads0 = aaj::loadgen::thread_cpu_seconds(server);
    const auto box0 = aaj::loadgen::box_cpu_seconds();
    double s0 = aaj::loadgen::process_cpu_seconds(server),
           m0 = aaj::loadgen::process_cpu_seconds(sim), c0 = aaj::loadgen::self_cpu_seconds();
    auto r = aaj::loadgen::run_load(spec);
    double s1 = aaj::loadgen::process_cpu_seconds(server),
           m1 = aaj::loadgen::process_cpu_seconds(sim), c1 = aaj::loadgen::self_cpu_seconds();
    const auto box1 = aaj::loadgen::box_cpu_seconds();
    // Over the whole load run (connects included): the box's idle share, and the share busy with
    // processes other than the server, the simulator and this one (noise on a shared machine);
    // -1 when /proc/stat cannot tell.
    double box_idle = -1, box_foreign = -1;
    if (box0 && box1 && box1->total > box0->total) {
      const double total = box1->total - box0->total;
      box_idle = (box1->idle - box0->idle) / total;
      box_foreign = std::max(0.0, 1.0 - box_idle - ((s1 - s0) + (m1 - m0) + (c1 - c0)) / total);
    }
    pipe_idle.push_back(box_idle);
    pipe_foreign.push_back(box_foreign);
    auto threads1 = aaj::loadgen::thread_cpu_seconds(server);
    auto [appended1, batches1] = journal_counts();
    const double records_per_sync =
        batches1 > batches0 ? (appended1 - appended0) / (batches1 - batches0) : 0;
    if (!r) die("load: " + r.error().detail);
    if (r->by_status.size() != 1 || !r->by_status.count(200) || r->errors)
      die("pipeline answered other than 200: " + aaj::loadgen::to_json(*r));
    double cpu = (s1 - s0) + (m1 - m0) + r->client_cpu_seconds;
    pipe_rps.push_back(r->rps);
    pipe_cpu.push_back(cpu * 1e6 / static_cast<double>(r->requests));
    pipe_server_cpu.push_back((s1 - s0) * 1e6 / static_cast<double>(r->requests));
    pipe_sim_cpu.push_back((m1 - m0) * 1e6 / static_cast<double>(r->requests));
    pipe_client_cpu.push_back(r->client_cpu_seconds * 1e6 / static_cast<double>(r->requests));
    json by_thread = json::object();  // the server's CPU per thread name, µs per request
    for (const auto& [name, after] : threads1) {
      auto before = threads0.find(name);
      const double us = (after - (before == threads0.end() ? 0.0 : before->second)) * 1e6 /
                        static_cast<double>(r->requests);
      by_thread[name] = us;
      pipe_thread_cpu[name].push_back(us);
    }
    pipe_p50.push_back(r->p50_ms);
    pipe_p99.push_back(r->p99_ms);

    // -- tls: the same bytes through a server that does nothing --
    spec.port = echo.value()->port();
    spec.once = false;
    spec.max_requests = args.requests;
    double e0 = aaj::loadgen::self_cpu_seconds();
    auto t = aaj::loadgen::run_load(spec);
    double e1 = aaj::loadgen::self_cpu_seconds();
    spec.max_requests = std::numeric_limits<size_t>::max();
    if (!t) die("tls part");
    p_tls.cpu_us.push_back((e1 - e0) * 1e6 / static_cast<double>(t->requests));

    // -- verify: SHA-256 of the content + EVP_DigestVerify with the cached key --
    {
      const size_t n = std::min<size_t>(args.requests, 4000);
      std::vector<SignedParts> parts;
      for (size_t i = 0; i < n; ++i) parts.push_back(take_apart(cms_der[i]));
      auto ks = aaj::pki::load_pkcs12(user["key_store"].get<std::string>(),
                                      user["password"].get<std::string>());
      EVP_PKEY* key = ks->key.get();
      std::atomic<size_t> next{0}, bad{0};
      double v0 = aaj::loadgen::self_cpu_seconds();
      std::vector<std::thread> ts;
      for (unsigned k = 0; k < cores; ++k)
        ts.emplace_back([&] {
          for (size_t i; (i = next++) < n;) {
            const SignedParts& sp = parts[i];
            unsigned char md[32];
            SHA256(reinterpret_cast<const unsigned char*>(sp.content.data()), sp.content.size(),
                   md);
            if (sp.digest.size() != 32 || std::memcmp(md, sp.digest.data(), 32) != 0) ++bad;
            EVP_MD_CTX* ctx = EVP_MD_CTX_new();
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key);
            if (EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sp.signature.data()),
                                 sp.signature.size(),
                                 reinterpret_cast<const unsigned char*>(sp.attrs_der.data()),
                                 sp.attrs_der.size()) != 1)
              ++bad;
            EVP_MD_CTX_free(ctx);
          }
        });
      for (auto& th : ts) th.join();
      double v1 = aaj::loadgen::self_cpu_seconds();
      if (bad) die("verify part: " + std::to_string(bad) + " signatures did not verify");
      p_verify.cpu_us.push_back((v1 - v0) * 1e6 / static_cast<double>(n));
    }

    // -- forward: the connector to the simulator, `connections` queries in flight --
    {
      const size_t n = std::min<size_t>(args.requests, 8000);
      std::atomic<size_t> next{0}, failed{0}, done{0};
      std::promise<void> all_done;
      double f0 = aaj::loadgen::self_cpu_seconds(), g0 = aaj::loadgen::process_cpu_seconds(sim);
      std::function<void()> ask = [&] {
        size_t i = next++;
        if (i >= n) return;
        (*router)->fetch({"R01", {{"iin", subjects[i % subjects.size()]}}, "bench"},
                         [&](aaj::Result<aaj::sources::Answer> a) {
                           if (!a) ++failed;
                           // Ask for the next one before counting this one done: after the last
                           // count the waiting thread destroys `ask`.
                           ask();
                           if (++done == n) all_done.set_value();
                         });
      };
      for (int k = 0; k < args.connections; ++k) ask();
      all_done.get_future().wait();
      double f1 = aaj::loadgen::self_cpu_seconds(), g1 = aaj::loadgen::process_cpu_seconds(sim);
      if (failed) die("forward part failed");
      p_forward.cpu_us.push_back(((f1 - f0) + (g1 - g0)) * 1e6 / static_cast<double>(n));
    }

    // -- append: a durable record the size of the pipeline's, 64 threads --
    {
      json body;
      {
        std::ifstream in(dir / "data/journal/journal.log");
        for (std::string line; std::getline(in, line);) {
          json rec = json::parse(line, nullptr, false);
          if (rec.is_object() && rec["type"] == "data_request") body = rec["body"];
        }
      }
      fs::path jdir = dir / ("bench-journal-" + std::to_string(round));
      auto j = aaj::journal::Journal::open(jdir);
      if (!j) die("journal");
      const size_t n = std::min<size_t>(args.requests, 20000);
      std::atomic<size_t> next{0};
      double a0 = aaj::loadgen::self_cpu_seconds();
      std::vector<std::thread> ts;
      for (int k = 0; k < 64; ++k)
        ts.emplace_back([&] {
          for (size_t i; (i = next++) < n;)
            if (!(*j)->append("data_request", body)) die("append");
        });
      for (auto& th : ts) th.join();
      double a1 = aaj::loadgen::self_cpu_seconds();
      p_append.cpu_us.push_back((a1 - a0) * 1e6 / static_cast<double>(n));
      j->reset();
      fs::remove_all(jdir);
    }

    double sum = p_tls.cpu_us.back() + p_verify.cpu_us.back() + p_forward.cpu_us.back() +
                 p_append.cpu_us.back();
    double ceiling = cores * 1e6 / sum;
    rounds.push_back({{"round", round + 1},
                      {"pipeline_rps", pipe_rps.back()},
                      {"pipeline_box_cpu_us", pipe_cpu.back()},
                      {"server_cpu_us", pipe_server_cpu.back()},
                      {"server_thread_cpu_us", by_thread},
                      {"simulator_cpu_us", pipe_sim_cpu.back()},
                      {"load_generator_cpu_us", pipe_client_cpu.back()},
                      {"records_per_fdatasync", records_per_sync},
                      {"box_idle", box_idle},
                      {"box_foreign", box_foreign},
                      {"p50_ms", pipe_p50.back()},
                      {"p99_ms", pipe_p99.back()},
                      {"parts_cpu_us",
                       {{"tls", p_tls.cpu_us.back()},
                        {"verify", p_verify.cpu_us.back()},
                        {"forward", p_forward.cpu_us.back()},
                        {"append", p_append.cpu_us.back()},
                        {"sum", sum}}},
                      {"ceiling_rps", ceiling},
                      {"ratio", pipe_rps.back() / ceiling},
                      {"cpu_efficiency", sum / pipe_cpu.back()}});
    std::cerr << rounds.back().dump() << "\n";
  }

  double sum = median(p_tls.cpu_us) + median(p_verify.cpu_us) + median(p_forward.cpu_us) +
               median(p_append.cpu_us);
  std::vector<double> ratios, effs;
  for (const auto& r : rounds) {
    ratios.push_back(r["ratio"].get<double>());
    effs.push_back(r["cpu_efficiency"].get<double>());
  }
  std::printf(
      "\nFull pipeline vs its parts (%u cores, %d connections, %zu requests/round, %d "
      "rounds; medians)\n",
      cores, args.connections, args.requests, args.rounds);
  std::printf("  pipeline            %8.0f req/s   p50 %.2f ms  p99 %.2f ms\n", median(pipe_rps),
              median(pipe_p50), median(pipe_p99));
  std::printf(
      "  pipeline box CPU    %8.1f µs/req (server %.1f, simulator %.1f, load generator %.1f)\n",
      median(pipe_cpu), median(pipe_server_cpu), median(pipe_sim_cpu), median(pipe_client_cpu));
  if (median(pipe_idle) < 0)
    std::printf("  box during the load  unknown (/proc/stat unreadable)\n");
  else
    std::printf("  box during the load  idle %.2f, other processes %.2f (of %u cores)\n",
                median(pipe_idle), median(pipe_foreign), cores);
  std::printf("  server by thread   ");
  for (auto& [name, us] : pipe_thread_cpu) std::printf(" %s %.1f", name.c_str(), median(us));
  std::printf(" µs/req (clock ticks: ±10 ms per thread and round)\n");
  std::printf("  part tls            %8.1f µs/req\n", median(p_tls.cpu_us));
  std::printf("  part verify         %8.1f µs/req\n", median(p_verify.cpu_us));
  std::printf("  part forward        %8.1f µs/req\n", median(p_forward.cpu_us));
  std::printf("  part append         %8.1f µs/req\n", median(p_append.cpu_us));
  std::printf("  sum of parts        %8.1f µs/req -> ceiling %.0f req/s\n", sum, cores * 1e6 / sum);
  std::printf(
      "  ratio to ceiling    %8.2f  (median of rounds; min %.2f, max %.2f; target >= "
      "0.75)\n",
      median(ratios), *std::min_element(ratios.begin(), ratios.end()),
      *std::max_element(ratios.begin(), ratios.end()));
  std::printf("  CPU efficiency      %8.2f  (sum of parts / pipeline box CPU per request)\n",
              median(effs));
  std::cout << json{{"rounds", rounds}}.dump() << "\n";

  echo.value()->stop();
  stop(server);
  stop(sim);
  if (!args.keep)
    fs::remove_all(dir);
  else
    std::cerr << "kept " << dir << "\n";
  return 0;
}
