// The source simulator: a separate process standing in for the state databases in development
// and tests. It answers the "http-json" connector protocol (see src/sources/connector.h) with
// deterministic synthetic data from src/sources/sim, and can be told, per resource, to be slow,
// to fail or to be down (POST /control), so tests can exercise the pipeline's failure paths.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/server.h"

namespace aaj::sourcesim {

// Starts the simulator on host:port (plain HTTP; loopback use only). Error "bind_failed".
Result<std::unique_ptr<http::Server>> start(const std::string& host, uint16_t port);

// The same, with the case register (see case_register.h) loaded from `cases_file` when it is not
// empty. Errors: "bind_failed", and the registry's "unreadable"/"bad_request" for the file.
Result<std::unique_ptr<http::Server>> start(const std::string& host, uint16_t port,
                                            const std::filesystem::path& cases_file);

}  // namespace aaj::sourcesim
