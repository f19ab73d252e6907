// The witness's HTTPS front (docs/journal-format.md §6) over a Witness:
//
//   POST /v1/checkpoint  200 {"witness","cosignature"}; 400 malformed; 403 bad_signature /
//                        unknown_log; 409 inconsistent / stale / wrong_previous_size with
//                        "latest": {"size","root"}; 503 witness_storage_failed
//   GET  /v1/latest      200 {"size","root","head","signature","cosignature","witness"};
//                        404 no_checkpoint before the first co-signature
//   GET  /healthz        200 {"status":"ok","witness","log","size"}
//   anything else        404 not_found, or 405 method_not_allowed on a known path
//
// Errors have the shape of every aaj answer (docs/api.md): {"error": {"code", "message":
// {"kk","ru","en"}, "detail"}}, the code and detail being those of witness.h.
#pragma once
#include <memory>
#include <string>

#include "http/server.h"
#include "witness/witness.h"

namespace aaj::witness {

// The JSON error body for `code` (message from i18n/errors.json); "detail" only when not empty.
// Also suits http::ServerOptions::error_body.
std::string error_body(const std::string& code, const std::string& detail = "");

// Answers one request. Blocking (a co-signature waits for fsync): run it as the server's
// blocking http::Handler, on a worker thread. Logs one JSON line per checkpoint offered
// (spdlog). Never throws but std::bad_alloc. Thread-safe as far as `w` is (it is).
http::Response handle(Witness& w, const http::Request& req);

// Starts the HTTPS front on `opts` (tls must be true for anything but tests; error_body is set
// here) with handle() as the blocking handler. `w` is shared with the server's handler and
// lives as long as the server does. Errors: those of http::Server::start.
Result<std::unique_ptr<http::Server>> start_server(std::shared_ptr<Witness> w,
                                                   http::ServerOptions opts);

}  // namespace aaj::witness
