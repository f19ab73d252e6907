// `aaj witness --config FILE [--listen HOST:PORT]`: the witness service (docs/journal-format.md
// §6) on HTTPS; announces itself, waits for SIGINT/SIGTERM, stops cleanly.
#include <signal.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "cli/commands.h"
#include "http/runtime.h"
#include "witness/config.h"
#include "witness/server.h"
#include "witness/witness.h"

namespace aaj::cli {
namespace {

void log_json(const nlohmann::json& j) {
  spdlog::info("{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

int fail(const std::string& what, const Error& e) {
  spdlog::error("{}", nlohmann::json{{"event", what}, {"code", e.code}, {"detail", e.detail}}.dump(
                          -1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 1;
}

}  // namespace

int run_witness(const std::string& config, const std::string& listen) {
  spdlog::set_pattern("%v");
  // Few lines, each one worth seeing at once (a refusal is an alarm): no buffering.
  spdlog::flush_on(spdlog::level::info);
  auto cfg = witness::load_config(config);
  if (!cfg) return fail("config_error", cfg.error());
  if (!listen.empty()) cfg->listen = listen;
  auto hp = app::split_host_port(cfg->listen);
  if (!hp) return fail("config_error", hp.error());

  // Only the waiting thread below receives the termination signals (as in `aaj serve`).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto w = witness::Witness::open(cfg->witness);
  if (!w) return fail("startup_failed", w.error());
  std::shared_ptr<witness::Witness> shared(std::move(*w));
  auto latest = shared->latest();

  // One I/O thread is plenty; co-signing (CMS + fsync) runs on the workers, one at a time.
  auto rt = http::Runtime::start({1, 4});
  http::ServerOptions o;
  o.runtime = rt;
  o.host = hp->first;
  o.port = hp->second;
  o.tls = true;
  o.cert_chain_file = cfg->tls_cert.string();
  o.private_key_file = cfg->tls_key.string();
  o.max_body_bytes = 256 << 10;  // a head, a CMS with its certificates, a proof
  auto server = witness::start_server(shared, o);
  if (!server) {
    rt->stop();
    return fail("startup_failed", server.error());
  }
  log_json({{"event", "listening"},
            {"service", "aaj-witness"},
            {"url", "https://" + o.host + ":" + std::to_string((*server)->port())},
            {"port", (*server)->port()},
            {"witness", cfg->witness.name},
            {"log", cfg->witness.log_id},
            {"size", latest ? (*latest)["size"] : nlohmann::json(0)},
            {"revocation", cfg->witness.crl_dir.empty() ? "not_checked" : "crl_dir"}});
  int sig = 0;
  sigwait(&sigs, &sig);
  log_json({{"event", "stopping"}, {"signal", sig}});
  (*server)->stop();
  // The threads stop before the witness they call into is released.
  rt->stop();
  return 0;
}

}  // namespace aaj::cli
