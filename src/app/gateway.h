// The gateway: the HTTP API of aaj and the path of one signed request through it.
//
//   POST /api/v1/requests
//     session (bearer token) → CMS signature, chain, validity, key usage, revocation (fail closed)
//     → signer is the signed-in user → document fields → signing time window → replay (nonce)
//     → user active → ground details → subject key → policy (version in force today)
//     → source connector → truncation → event log (durable, hash-chained) → answer.
//   Every outcome, denials and failures included, is written to the event log before the answer;
//   if the log cannot be written the answer is 503 journal_unavailable and no data leaves.
//
// Threading: handle_async() runs on the runtime's I/O threads and takes the data requests, which
// never block (they wait for sources and the log by callback); handle() runs everything else on
// worker threads. Both are called concurrently.
#pragma once
#include <memory>

#include "app/config.h"
#include "core/result.h"
#include "http/server.h"

namespace aaj::app {

class Gateway {
 public:
  // Opens the store and the event log, loads trust anchors, CRLs (and starts watching the CRL
  // folder), the policy and the source connectors, and refills the replay guard from the log.
  // Any failure is returned: the server does not start half-configured.
  // `rt` runs the source connectors and the pipeline's continuations: pass the server's
  // runtime, and stop it before destroying the gateway.
  static Result<std::unique_ptr<Gateway>> create(const Config& cfg,
                                                 std::shared_ptr<http::Runtime> rt);
  virtual ~Gateway() = default;

  // Any request, on a worker thread (may block).
  virtual http::Response handle(const http::Request& req) = 0;
  // The data requests (POST /api/v1/requests, /api/v1/system/requests), on an I/O thread: takes
  // them (true) and answers through `respond` later; false for anything else.
  virtual bool handle_async(http::Request& req, const http::Responder& respond) = 0;
};

// Body of a server-level error such as "payload_too_large" in the API's error shape.
std::string error_body(const std::string& code);

}  // namespace aaj::app
