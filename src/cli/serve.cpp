// `aaj serve` and `aaj sourcesim`: start, announce, wait for SIGINT/SIGTERM, stop cleanly.
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/gateway.h"
#include "cli/commands.h"
#include "cli/service.h"
#include "core/host_port.h"
#include "tools/sourcesim/service.h"

namespace aaj::cli {
namespace {

// Log lines are queued and written by a thread of spdlog's own, so no request's thread (an I/O
// thread, or the event log's) ever waits for stdout. A full queue makes writers wait: lines are
// not dropped.
void use_async_logging() {
  spdlog::init_thread_pool(8192, 1);
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("aaj", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::block);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%v");
  spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace

int serve(const std::string& config, const std::string& listen) {
  use_async_logging();
  auto cfg = app::load_config(config);
  if (!cfg) return log_failure("config_error", cfg.error());
  auto hp = listen_address(cfg->listen, listen);
  if (!hp) return log_failure("config_error", hp.error());
  sigset_t sigs = block_termination_signals();
  // One runtime for the listeners and the source connectors: a data request is served on the
  // I/O threads from its first byte to its answer, whatever sources and the log it waits for.
  auto rt = http::Runtime::start({cfg->io_threads, cfg->worker_threads});
  auto gw = app::Gateway::create(*cfg, rt);
  if (!gw) {
    rt->stop();
    return log_failure("startup_failed", gw.error());
  }
  http::ServerOptions o =
      tls_server_options(rt, *hp, cfg->tls_cert.string(), cfg->tls_key.string());
  o.max_body_bytes = cfg->max_body_bytes;
  o.read_timeout = std::chrono::seconds(cfg->read_timeout_seconds);
  o.idle_timeout = std::chrono::seconds(cfg->idle_timeout_seconds);
  o.error_body = app::error_body;
  app::Gateway* g = gw->get();
  // Stops the threads before the gateway they call into is destroyed (also on early returns).
  struct StopFirst {
    std::shared_ptr<http::Runtime>& rt;
    ~StopFirst() { rt->stop(); }
  };
  auto server = http::Server::start(
      o, [g](const http::Request& r) { return g->handle(r); },
      [g](http::Request& r, const http::Responder& respond) {
        return g->handle_async(r, respond);
      });
  if (!server) {
    rt->stop();
    return log_failure("startup_failed", server.error());
  }
  log_event({{"event", "listening"},
             {"service", "aaj"},
             {"url", "https://" + o.host + ":" + std::to_string((*server)->port())},
             {"port", (*server)->port()},
             {"mode", cfg->mode}});
  // System-to-system clients (the court bodies' IS) have their own listener with mutual TLS.
  std::unique_ptr<http::Server> systems;
  StopFirst stop_first{rt};  // destroyed before the servers and the gateway
  if (!cfg->systems_listen.empty()) {
    auto shp = net::split_host_port(cfg->systems_listen);
    if (!shp) return log_failure("config_error", shp.error());
    http::ServerOptions so = o;
    so.host = shp->first;
    so.port = shp->second;
    so.require_client_certificate = true;
    // Only the system endpoints: the officers' API is not reachable with a system certificate.
    auto s = http::Server::start(
        so,
        [g](const http::Request& r) {
          if (r.path != "/healthz") {
            http::Response nf;
            nf.status = 404;
            nf.body = app::error_body("not_found");
            return nf;
          }
          return g->handle(r);
        },
        [g](http::Request& r, const http::Responder& respond) {
          return r.path == "/api/v1/system/requests" && g->handle_async(r, respond);
        });
    if (!s) return log_failure("startup_failed", s.error());
    systems = std::move(*s);
    log_event({{"event", "listening"},
               {"service", "aaj-systems"},
               {"url", "https://" + so.host + ":" + std::to_string(systems->port())},
               {"port", systems->port()},
               {"mutual_tls", true}});
  }
  int sig = wait_for_signal(sigs);
  log_event({{"event", "stopping"}, {"signal", sig}});
  if (systems) systems->stop();
  (*server)->stop();
  return 0;
}

int sourcesim(const std::string& config, const std::string& listen) {
  spdlog::set_pattern("%v");
  auto cfg = app::load_config(config);
  if (!cfg) return log_failure("config_error", cfg.error());
  auto hp = listen_address(cfg->simulator_listen, listen);
  if (!hp) return log_failure("config_error", hp.error());
  sigset_t sigs = block_termination_signals();
  auto server = sourcesim::start(hp->first, hp->second, cfg->simulator_cases);
  if (!server) return log_failure("startup_failed", server.error());
  log_event({{"event", "listening"},
             {"service", "sourcesim"},
             {"url", "http://" + hp->first + ":" + std::to_string((*server)->port())},
             {"port", (*server)->port()}});
  int sig = wait_for_signal(sigs);
  log_event({{"event", "stopping"}, {"signal", sig}});
  (*server)->stop();
  return 0;
}

}  // namespace aaj::cli
