// A client of the aaj API: HTTPS over libcurl, entry with EDS, signed requests. Used by the
// `aaj client` command (trying the system by hand), the integration tests and the benchmarks —
// it is how a departmental system would talk to aaj.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace aaj::client {

struct HttpResult {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  nlohmann::json body;                                       // parsed JSON, or null
  std::string raw;
};

// One HTTPS connection (kept alive between calls). Not thread-safe: one per thread.
class ApiClient {
 public:
  // base_url "https://127.0.0.1:8443"; ca_file verifies the server certificate.
  ApiClient(std::string base_url, std::string ca_file);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Errors: "transport" (connection, TLS, timeout) with curl's message.
  Result<HttpResult> post(const std::string& path, const std::string& body,
                          const std::string& bearer = "");
  Result<HttpResult> get(const std::string& path, const std::string& bearer = "");
  // Extra request headers sent with every call (e.g. a Cookie, another Content-Type).
  void set_header(const std::string& name, const std::string& value);
  // Mutual TLS: present this PKCS#12 store's certificate (a system client's organisation
  // certificate). Takes effect from the next call.
  void set_client_certificate(const std::filesystem::path& p12, const std::string& password);

 private:
  Result<HttpResult> perform(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& bearer);
  std::string base_, ca_;
  std::string client_p12_, client_password_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  void* curl_;
};

// A user's key (certificate + private key) loaded from a PKCS#12 key store.
class Signer {
 public:
  // Errors: "bad_password", "unreadable", … (from the PKI module).
  static Result<std::shared_ptr<Signer>> from_pkcs12(const std::filesystem::path& p12,
                                                     const std::string& password);
  virtual ~Signer() = default;
  // CMS SignedData, content attached, signer certificate included; DER.
  virtual Result<std::string> sign(std::string_view content) const = 0;
};

// challenge → CMS over the nonce with the authentication key → session token.
// Errors: "transport", or the server's error code (e.g. "user_blocked") with its detail.
Result<std::string> enter(ApiClient& api, const Signer& auth_key);

// Where the second factor's SMS code comes from: a person typing it, or (development only) the
// SMS outbox folder of the installation.
using CodeSource = std::function<Result<std::string>()>;

// The newest code sent to `phone` (any phone when empty) in an outbox folder written by the
// "outbox" SMS gateway, not older than `since_micros`. Errors: "no_code". Development and tests.
Result<std::string> read_outbox_code(const std::filesystem::path& outbox, const std::string& phone,
                                     int64_t since_micros);

// POST /auth/sms/send, then the code from `code`, then /auth/sms/verify. Returns the server's
// answer ({"status":"entered","next":[…]}). Errors: the server's code.
Result<nlohmann::json> complete_sms(ApiClient& api, const std::string& token,
                                    const CodeSource& code);

// Fetches the current agreement, signs {"agreement","text_sha256","iin","signed_at"} with the
// signing key and posts it. Errors: the server's code.
Result<nlohmann::json> sign_agreement(ApiClient& api, const std::string& token,
                                      const Signer& sign_key);

// The whole entry: EDS with the authentication key, the SMS factor, and the agreement if it is
// still to be signed. Returns a token that can send requests.
Result<std::string> enter_fully(ApiClient& api, const Signer& auth_key, const Signer& sign_key,
                                const CodeSource& code);

// A request document with a fresh random nonce and signed_at = now (Astana time with offset).
nlohmann::json make_document(const std::string& resource, const nlohmann::json& ground,
                             const nlohmann::json& subject, const std::string& purpose);

// Signs `document` with the signing key and posts it to /api/v1/requests.
Result<HttpResult> send_request(ApiClient& api, const std::string& token, const Signer& sign_key,
                                const nlohmann::json& document);

// Signs `document` (which names the user in on_behalf_of) with a system's signing key and posts
// it to /api/v1/system/requests (the system listener; set the client certificate first).
Result<HttpResult> send_system_request(ApiClient& api, const Signer& system_key,
                                       const nlohmann::json& document);

}  // namespace aaj::client
