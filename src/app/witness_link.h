// The system's side of the witness (docs/journal-format.md §6): every interval, when the log
// has grown, offers the newest signed head to the witness with the consistency proof from the
// size the witness co-signed last; keeps each co-signature (cosignatures.log, after checking it);
// reports the witness's state for /healthz. A refusal as "inconsistent" means the log's history
// differs from what the witness co-signed: it is reported loudly and stays reported (a rewrite
// of the log is not something the system can clear by itself).
//
// Nothing here blocks a request: the exchange is asynchronous on the runtime, and requests are
// served whatever the witness says (the witness oversees; it is not on the request path).
#pragma once
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/config.h"
#include "core/result.h"
#include "http/runtime.h"
#include "journal/journal.h"
#include "pki/cms.h"
#include "witness/client.h"

namespace aaj::app {

class WitnessLink : public std::enable_shared_from_this<WitnessLink> {
 public:
  // Starts offering heads (first after one interval). `journal` must outlive the runtime's
  // threads (stop the runtime before destroying it). Errors: "config".
  static Result<std::shared_ptr<WitnessLink>> start(const Config::Witness& cfg,
                                                    std::shared_ptr<http::Runtime> rt,
                                                    journal::Journal* journal,
                                                    std::filesystem::path journal_dir);

  // {"url","state":"starting"|"ok"|"unavailable"|"refused"|"bad_cosignature",
  //  "cosigned_size","offered_size","last_error":{"code","detail"}|null,"last_cosigned_at"}
  // Thread-safe.
  nlohmann::json health() const;
  // The witness refused the log's history ("inconsistent"): sticky. Thread-safe.
  bool refused() const { return refused_.load(); }

 private:
  WitnessLink() = default;
  void schedule();
  void tick();
  void offer(const nlohmann::json& signed_head, int64_t size);
  void answered(const nlohmann::json& signed_head, int64_t size, Result<witness::Cosignature> r);
  void set_state(const std::string& state, const Error* e);

  Config::Witness cfg_;
  std::shared_ptr<http::Runtime> rt_;
  journal::Journal* journal_ = nullptr;
  std::filesystem::path dir_;
  std::shared_ptr<witness::WitnessClient> client_;
  std::shared_ptr<const pki::CmsVerifier> verifier_;

  mutable std::mutex mu_;
  std::string state_ = "starting";
  std::optional<Error> last_error_;
  std::string last_cosigned_at_;
  int64_t cosigned_size_ = -1;  // -1: not known yet (asked with GET /v1/latest)
  int64_t offered_size_ = 0;
  bool busy_ = false;
  std::atomic<bool> refused_{false};
};

}  // namespace aaj::app
