// Helpers shared by the subcommands: JSON output that never throws, and what the long-running
// services (`aaj serve`, `aaj sourcesim` in serve.cpp, `aaj witness` in witness_cmd.cpp) have in
// common: their log lines, their start-up failures, their listen address and TLS options, and
// waiting for SIGINT/SIGTERM.
#pragma once
#include <signal.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "core/result.h"
#include "http/server.h"

namespace aaj::cli {

// j as one line of JSON. Bytes that are not UTF-8 (a path given on the command line or read from
// a configuration file, say) become U+FFFD instead of throwing nlohmann's type_error, which would
// end the process with an uncaught exception instead of the message.
std::string json_line(const nlohmann::json& j);

// {"error": code, "message": detail} on stderr (the one-shot commands' error line).
void print_error(const Error& e);

// A service's log line (spdlog, info).
void log_event(const nlohmann::json& j);

// Logs {"event": event, "code", "detail"} (spdlog, error) and returns the exit code 1.
int log_failure(const std::string& event, const Error& e);

// Applies --listen (when given) to the configured "HOST:PORT" and parses it. Error "config".
Result<std::pair<std::string, uint16_t>> listen_address(std::string& configured,
                                                        const std::string& override_listen);

// HTTPS server options on `runtime` for host:port with this certificate chain and key (PEM).
http::ServerOptions tls_server_options(std::shared_ptr<http::Runtime> runtime,
                                       const std::pair<std::string, uint16_t>& host_port,
                                       const std::string& cert_chain_file,
                                       const std::string& private_key_file);

// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread it starts afterwards:
// only wait_for_signal() receives them. Call before starting any thread.
sigset_t block_termination_signals();

// Waits for one of `set` (from block_termination_signals()); returns its number.
int wait_for_signal(const sigset_t& set);

}  // namespace aaj::cli
