#include "cli/service.h"

#include <spdlog/spdlog.h>

#include <iostream>

#include "core/host_port.h"

namespace aaj::cli {

std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_error(const Error& e) {
  std::cerr << json_line({{"error", e.code}, {"message", e.detail}}) << "\n";
}

void log_event(const nlohmann::json& j) {
  spdlog::info("{}", json_line(j));
}

int log_failure(const std::string& event, const Error& e) {
  spdlog::error("{}", json_line({{"event", event}, {"code", e.code}, {"detail", e.detail}}));
  return 1;
}

Result<std::pair<std::string, uint16_t>> listen_address(std::string& configured,
                                                        const std::string& override_listen) {
  if (!override_listen.empty()) configured = override_listen;
  return net::split_host_port(configured);
}

http::ServerOptions tls_server_options(std::shared_ptr<http::Runtime> runtime,
                                       const std::pair<std::string, uint16_t>& host_port,
                                       const std::string& cert_chain_file,
                                       const std::string& private_key_file) {
  http::ServerOptions o;
  o.runtime = std::move(runtime);
  o.host = host_port.first;
  o.port = host_port.second;
  o.tls = true;
  o.cert_chain_file = cert_chain_file;
  o.private_key_file = private_key_file;
  return o;
}

sigset_t block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace aaj::cli
