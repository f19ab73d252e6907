// The system side of the witness protocol (docs/journal-format.md §6): offers signed heads to a
// witness over HTTPS and reads its latest co-signed head. Asynchronous on an http::Runtime's I/O
// threads (http::Client, kept-alive connections); nothing here blocks.
//
// Outcomes of submit() (Error::code):
//   the witness's refusals, code taken from its answer: "inconsistent", "stale",
//     "wrong_previous_size" (the detail adds the size and root the witness holds), "bad_signature",
//     "unknown_log", "malformed"; and its other errors as it names them ("witness_storage_failed",
//     "payload_too_large", "internal_error", …)
//   "witness_unavailable"  no answer (connection, TLS, timeout: the detail names the transport
//     error) or an answer that is not the protocol's (no error object, a 200 without a
//     co-signature)
// The co-signature is returned as the witness sent it: check it with verify_cosignature()
// (witness.h) against the witness's trust anchors before relying on it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "http/client.h"
#include "http/runtime.h"

namespace aaj::witness {

struct ClientOptions {
  std::string url;      // "https://HOST:PORT" of the witness
  std::string ca_file;  // PEM: the CA(s) of the witness's TLS server certificate; "" = system's
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{10000};  // the witness fsyncs before answering
};

struct Cosignature {
  std::string witness;          // the witness's name, as it answered
  std::string cosignature_b64;  // detached CMS over the canonical head, base64
};

// GET /v1/latest.
struct Checkpoint {
  int64_t size = 0;
  std::string root;         // hex
  nlohmann::json head;      // the co-signed head
  std::string signature;    // the system's signature over it (base64 CMS)
  std::string cosignature;  // the witness's (base64 CMS)
  std::string witness;      // the witness's name ("" if it did not say)
};

class WitnessClient {
 public:
  using SubmitDone = std::function<void(Result<Cosignature>)>;
  // nullopt: the witness has co-signed nothing yet.
  using LatestDone = std::function<void(Result<std::optional<Checkpoint>>)>;

  // Errors: "config" (bad url or ca_file, no runtime).
  static Result<std::shared_ptr<WitnessClient>> create(std::shared_ptr<http::Runtime> rt,
                                                       ClientOptions opts);

  // POSTs {"checkpoint": signed_head, "previous_size", "consistency"} to /v1/checkpoint.
  // `signed_head` is {"head","signature"} as the system made it; `consistency_hex` the RFC 9162
  // proof from the witness's last size (previous_size) to the head, empty when previous_size is
  // 0 or the head's size. done runs exactly once, on an I/O thread of the runtime, and must not
  // block. Thread-safe.
  void submit(const nlohmann::json& signed_head, int64_t previous_size,
              const std::vector<std::string>& consistency_hex, SubmitDone done) const;

  // GETs /v1/latest. Same threading as submit(). Errors: "witness_unavailable", or the
  // witness's error code.
  void latest(LatestDone done) const;

 private:
  explicit WitnessClient(std::shared_ptr<http::Client> http) : http_(std::move(http)) {}
  std::shared_ptr<http::Client> http_;
};

}  // namespace aaj::witness
