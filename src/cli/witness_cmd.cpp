// `aaj witness --config FILE [--listen HOST:PORT]`: the witness service (docs/journal-format.md
// §6) on HTTPS; announces itself, waits for SIGINT/SIGTERM, stops cleanly.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/service.h"
#include "http/runtime.h"
#include "witness/config.h"
#include "witness/server.h"
#include "witness/witness.h"

namespace aaj::cli {

int run_witness(const std::string& config, const std::string& listen) {
  spdlog::set_pattern("%v");
  // Few lines, each one worth seeing at once (a refusal is an alarm): no buffering.
  spdlog::flush_on(spdlog::level::info);
  auto cfg = witness::load_config(config);
  if (!cfg) return log_failure("config_error", cfg.error());
  auto hp = listen_address(cfg->listen, listen);
  if (!hp) return log_failure("config_error", hp.error());

  // Only the waiting thread below receives the termination signals.
  sigset_t sigs = block_termination_signals();

  auto w = witness::Witness::open(cfg->witness);
  if (!w) return log_failure("startup_failed", w.error());
  std::shared_ptr<witness::Witness> shared(std::move(*w));
  auto latest = shared->latest();

  // One I/O thread is plenty; co-signing (CMS + fsync) runs on the workers, one at a time.
  auto rt = http::Runtime::start({1, 4});
  http::ServerOptions o =
      tls_server_options(rt, *hp, cfg->tls_cert.string(), cfg->tls_key.string());
  o.max_body_bytes = 256 << 10;  // a head, a CMS with its certificates, a proof
  auto server = witness::start_server(shared, o);
  if (!server) {
    rt->stop();
    return log_failure("startup_failed", server.error());
  }
  log_event({{"event", "listening"},
             {"service", "aaj-witness"},
             {"url", "https://" + o.host + ":" + std::to_string((*server)->port())},
             {"port", (*server)->port()},
             {"witness", cfg->witness.name},
             {"log", cfg->witness.log_id},
             {"size", latest ? (*latest)["size"] : nlohmann::json(0)},
             {"revocation", cfg->witness.crl_dir.empty() ? "not_checked" : "crl_dir"}});
  int sig = wait_for_signal(sigs);
  log_event({{"event", "stopping"}, {"signal", sig}});
  (*server)->stop();
  // The threads stop before the witness they call into is released.
  rt->stop();
  return 0;
}

}  // namespace aaj::cli
