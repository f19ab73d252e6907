#include "auth/sms.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>

#include "auth/challenges.h"
#include "pki/openssl_util.h"

namespace aaj::auth {
namespace {

std::map<std::string, SmsGatewayFactory>& gateways() {
  static std::map<std::string, SmsGatewayFactory> m;
  return m;
}

// Development gateway: each message is a file <outbox>/<micros>-<n>.json with
// {"to","text","at"}, written aside and renamed so a reader never sees half a message.
class OutboxGateway final : public SmsGateway {
 public:
  explicit OutboxGateway(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Status send(const std::string& phone, const std::string& text) override {
    auto now = time::now();
    std::string name = std::to_string(time::to_micros(now)) + "-" + std::to_string(n_++);
    nlohmann::json m = {{"to", phone}, {"text", text}, {"at", time::format_astana(now)}};
    if (Status s = pki::write_secret_file(dir_ / (name + ".json"), m.dump() + "\n"); !s)
      return Error{"sms_unavailable", s.error().detail};
    return {};
  }

 private:
  std::filesystem::path dir_;
  std::atomic<uint64_t> n_{0};
};

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

class HttpGateway final : public SmsGateway {
 public:
  explicit HttpGateway(SmsConfig cfg) : cfg_(std::move(cfg)) {}
  Status send(const std::string& phone, const std::string& text) override {
    CURL* h = curl_easy_init();
    if (!h) return Error{"sms_unavailable", "curl init failed"};
    std::string body = nlohmann::json{{"to", phone}, {"text", text}}.dump();
    struct curl_slist* hdrs = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string bearer = "Authorization: Bearer " + cfg_.bearer_token;
    if (!cfg_.bearer_token.empty()) hdrs = curl_slist_append(hdrs, bearer.c_str());
    curl_easy_setopt(h, CURLOPT_URL, cfg_.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (!cfg_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, cfg_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, cfg_.password.c_str());
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) return Error{"sms_unavailable", curl_easy_strerror(rc)};
    if (status < 200 || status > 299)
      return Error{"sms_unavailable", "provider answered HTTP " + std::to_string(status)};
    return {};
  }

 private:
  SmsConfig cfg_;
};

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_sms_gateway("outbox", [](const SmsConfig& c) -> Result<std::shared_ptr<SmsGateway>> {
      if (c.outbox_dir.empty()) return Error{"config", "sms.outbox_dir is required"};
      std::error_code ec;
      std::filesystem::create_directories(c.outbox_dir, ec);
      if (ec) return Error{"config", "cannot create " + c.outbox_dir.string()};
      return std::shared_ptr<SmsGateway>(std::make_shared<OutboxGateway>(c.outbox_dir));
    });
    register_sms_gateway("http", [](const SmsConfig& c) -> Result<std::shared_ptr<SmsGateway>> {
      if (c.url.rfind("https://", 0) != 0 && c.url.rfind("http://", 0) != 0)
        return Error{"config", "sms.url must be an http(s) URL"};
      return std::shared_ptr<SmsGateway>(std::make_shared<HttpGateway>(c));
    });
  });
}

}  // namespace

void register_sms_gateway(const std::string& name, SmsGatewayFactory f) {
  gateways()[name] = std::move(f);
}

Result<std::shared_ptr<SmsGateway>> make_sms_gateway(const SmsConfig& cfg) {
  register_builtins();
  auto it = gateways().find(cfg.driver);
  if (it == gateways().end()) return Error{"config", "no SMS gateway named " + cfg.driver};
  return it->second(cfg);
}

SmsCodes::SmsCodes(const SmsConfig& cfg) : cfg_(cfg), secret_(random_bytes(32)) {}

std::string SmsCodes::mac(const std::string& session, const std::string& code) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string msg = session + "\n" + code;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

Result<std::string> SmsCodes::issue(const std::string& session, time::Instant now) {
  // Uniform 6 digits: rejection sampling over 32-bit draws.
  uint32_t r = 0;
  do {
    std::string b = random_bytes(4);
    std::memcpy(&r, b.data(), 4);
  } while (r >= 4294000000u);
  char code[8];
  std::snprintf(code, sizeof code, "%06u", r % 1000000u);
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(session);
  auto interval = std::chrono::seconds(cfg_.resend_interval_seconds);
  if (it != pending_.end() && now - it->second.issued_at < interval) {
    auto wait =
        std::chrono::duration_cast<std::chrono::seconds>(interval - (now - it->second.issued_at));
    return Error{"sms_throttled", std::to_string(wait.count() + 1)};
  }
  // Forget codes of sessions long gone, so the table cannot grow without bound.
  if (pending_.size() > 10000)
    for (auto p = pending_.begin(); p != pending_.end();)
      p = p->second.expires_at < now ? pending_.erase(p) : std::next(p);
  pending_[session] = {mac(session, code), now, now + std::chrono::seconds(cfg_.code_ttl_seconds),
                       cfg_.max_attempts};
  return std::string(code);
}

Status SmsCodes::verify(const std::string& session, const std::string& code, time::Instant now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(session);
  if (it == pending_.end() || it->second.attempts_left <= 0)
    return Error{"sms_code_missing", "ask for a new code"};
  if (it->second.expires_at < now) {
    pending_.erase(it);
    return Error{"sms_code_expired", ""};
  }
  std::string m = mac(session, code);
  if (m.size() == it->second.mac.size() &&
      CRYPTO_memcmp(m.data(), it->second.mac.data(), m.size()) == 0) {
    pending_.erase(it);  // one use
    return {};
  }
  int left = --it->second.attempts_left;
  if (left <= 0) pending_.erase(it);
  return Error{"sms_code_invalid", std::to_string(std::max(left, 0))};
}

std::string mask_phone(const std::string& phone) {
  if (phone.size() != 12) return "***";
  return phone.substr(0, 2) + " " + phone.substr(2, 3) + " *** ** " + phone.substr(10, 2);
}

}  // namespace aaj::auth
