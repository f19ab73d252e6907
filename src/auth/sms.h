// SMS codes, the second factor for users without a biometric authenticator (R-AUTH-1).
// The weaker factor (CJIS treats SMS as restricted): codes are random, stored only as an HMAC,
// expire in minutes, allow a few attempts, and cannot be re-sent at once.
//
// Gateways are extensions registered by name: "outbox" (development and tests: one JSON file per
// message in a folder, so scripts can read the code; refused in production mode) and "http" (a
// provider reached by URL with credentials).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/result.h"
#include "core/time.h"

namespace aaj::auth {

struct SmsConfig {
  std::string driver = "outbox";     // registered gateway name
  std::filesystem::path outbox_dir;  // "outbox"
  std::string url;                   // "http": POST {"to","text"} as JSON
  std::string username, password;    // "http": basic auth, if set
  std::string bearer_token;          // "http": Authorization: Bearer, if set
  int timeout_ms = 5000;
  int code_ttl_seconds = 300;
  int max_attempts = 5;
  int resend_interval_seconds = 60;
};

class SmsGateway {
 public:
  virtual ~SmsGateway() = default;
  // Delivers `text` to `phone` (+7…). Error "sms_unavailable" with the reason. Thread-safe.
  virtual Status send(const std::string& phone, const std::string& text) = 0;
};

using SmsGatewayFactory = std::function<Result<std::shared_ptr<SmsGateway>>(const SmsConfig&)>;
void register_sms_gateway(const std::string& name, SmsGatewayFactory f);
// Error "config" for an unknown driver or a driver's bad configuration.
Result<std::shared_ptr<SmsGateway>> make_sms_gateway(const SmsConfig& cfg);

// One-time codes keyed by the first-factor session that asked for them. Thread-safe.
// Kept in memory: a restart forgets pending codes and the user asks for a new one.
class SmsCodes {
 public:
  explicit SmsCodes(const SmsConfig& cfg);

  // Draws a 6-digit code for `session` and returns it (the caller sends it). Error
  // "sms_throttled" (detail: seconds to wait) when the last code is younger than the resend
  // interval.
  Result<std::string> issue(const std::string& session, time::Instant now);

  // Checks `code`. Errors: "sms_code_invalid" (detail: attempts left), "sms_code_expired",
  // "sms_code_missing" (none issued, or used up: ask for a new one). A correct code is consumed.
  Status verify(const std::string& session, const std::string& code, time::Instant now);

 private:
  struct Pending {
    std::string mac;  // HMAC-SHA256(secret, session || code): the code itself is not kept
    time::Instant issued_at, expires_at;
    int attempts_left;
  };
  std::string mac(const std::string& session, const std::string& code) const;

  SmsConfig cfg_;
  std::string secret_;  // random per process
  std::mutex mu_;
  std::unordered_map<std::string, Pending> pending_;
};

// "+7 701 *** ** 67": enough for the user to recognise the number, not to learn it.
std::string mask_phone(const std::string& phone);

}  // namespace aaj::auth
