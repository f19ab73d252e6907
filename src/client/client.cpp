#include "client/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <mutex>

#include "auth/challenges.h"
#include "core/time.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

namespace aaj::client {
namespace {

size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

size_t collect_header(char* p, size_t size, size_t n, void* out) {
  std::string line(p, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    static_cast<std::vector<std::pair<std::string, std::string>>*>(out)->emplace_back(name, value);
  }
  return size * n;
}

}  // namespace

ApiClient::ApiClient(std::string base_url, std::string ca_file)
    : base_(std::move(base_url)), ca_(std::move(ca_file)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

ApiClient::~ApiClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResult> ApiClient::post(const std::string& path, const std::string& body,
                                   const std::string& bearer) {
  return perform("POST", path, body, bearer);
}

void ApiClient::set_client_certificate(const std::filesystem::path& p12,
                                       const std::string& password) {
  client_p12_ = p12.string();
  client_password_ = password;
}

void ApiClient::set_header(const std::string& name, const std::string& value) {
  for (auto& [k, v] : extra_headers_)
    if (k == name) {
      v = value;
      return;
    }
  extra_headers_.emplace_back(name, value);
}

Result<HttpResult> ApiClient::get(const std::string& path, const std::string& bearer) {
  return perform("GET", path, "", bearer);
}

Result<HttpResult> ApiClient::perform(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& bearer) {
  CURL* h = static_cast<CURL*>(curl_);
  if (!h) return Error{"transport", "curl init failed"};
  std::string url = base_ + path, out;
  struct curl_slist* hdrs = nullptr;
  bool own_type = false;
  for (const auto& [k, v] : extra_headers_) {
    hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
    own_type |= k == "Content-Type";
  }
  if (!own_type) hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Expect:");
  std::string auth = "Authorization: Bearer " + bearer;
  if (!bearer.empty()) hdrs = curl_slist_append(hdrs, auth.c_str());
  HttpResult r;
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_CAINFO, ca_.c_str());
  if (!client_p12_.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, client_p12_.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "P12");
    curl_easy_setopt(h, CURLOPT_KEYPASSWD, client_password_.c_str());
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(hdrs);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) return Error{"transport", url + ": " + curl_easy_strerror(rc)};
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  r.raw = std::move(out);
  r.body = nlohmann::json::parse(r.raw, nullptr, false);
  if (r.body.is_discarded()) r.body = nullptr;
  return r;
}

namespace {
class KeyStoreSigner final : public Signer {
 public:
  explicit KeyStoreSigner(pki::KeyStore ks) : ks_(std::move(ks)) {}
  Result<std::string> sign(std::string_view content) const override {
    return pki::sign_cms(content, ks_.cert.get(), ks_.key.get(), {}, true);
  }

 private:
  pki::KeyStore ks_;
};

// A string member of an object, or "" (answers are checked, never trusted to have a shape).
std::string text_of(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Error server_error(const HttpResult& r) {
  if (r.body.is_object() && r.body.contains("error") && r.body["error"].is_object()) {
    std::string code = text_of(r.body["error"], "code");
    return Error{code.empty() ? "http_" + std::to_string(r.status) : code,
                 text_of(r.body["error"], "detail")};
  }
  return Error{"http_" + std::to_string(r.status), r.raw};
}
// The body of an answer with `status`; otherwise the transport error or the server's error code.
Result<nlohmann::json> body_if(Result<HttpResult> r, long status = 200) {
  if (!r) return r.error();
  if (r->status != status) return server_error(*r);
  return std::move(r->body);
}

}  // namespace

Result<std::shared_ptr<Signer>> Signer::from_pkcs12(const std::filesystem::path& p12,
                                                    const std::string& password) {
  auto ks = pki::load_pkcs12(p12, password);
  if (!ks) return ks.error();
  return std::shared_ptr<Signer>(std::make_shared<KeyStoreSigner>(std::move(*ks)));
}

Result<std::string> enter(ApiClient& api, const Signer& auth_key) {
  auto c = body_if(api.post("/api/v1/auth/challenge", "{}"));
  if (!c) return c.error();
  auto nonce = pki::base64_decode(text_of(*c, "nonce"));
  if (!nonce) return Error{"protocol", "challenge nonce is not base64"};
  auto cms = auth_key.sign(*nonce);
  if (!cms) return cms.error();
  nlohmann::json body = {{"challenge_id", text_of(*c, "challenge_id")},
                         {"cms", pki::base64_encode(*cms)}};
  auto e = body_if(api.post("/api/v1/auth/eds", body.dump()));
  if (!e) return e.error();
  std::string token = text_of(*e, "token");
  if (token.empty()) return Error{"protocol", "entry answered without a token"};
  return token;
}

Result<std::string> read_outbox_code(const std::filesystem::path& outbox, const std::string& phone,
                                     int64_t since_micros) {
  std::string best_name, best_code;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(outbox, ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || e.path().extension() != ".json") continue;
    int64_t written = 0;  // "<micros>-<n>.json"; anything else in the folder is not ours
    auto [end, ec2] = std::from_chars(name.data(), name.data() + name.size(), written);
    if (ec2 != std::errc() || end == name.data() || written < since_micros) continue;
    std::ifstream in(e.path());
    auto m = nlohmann::json::parse(in, nullptr, false);
    if (!m.is_object() || (!phone.empty() && text_of(m, "to") != phone)) continue;
    std::string t = text_of(m, "text");
    // The code is the first run of six digits in the message.
    for (size_t i = 0; i + 6 <= t.size(); ++i) {
      bool six = true;
      for (size_t k = 0; k < 6 && six; ++k)
        six = std::isdigit(static_cast<unsigned char>(t[i + k]));
      if (six && (i + 6 == t.size() || !std::isdigit(static_cast<unsigned char>(t[i + 6])))) {
        if (name > best_name) best_name = name, best_code = t.substr(i, 6);
        break;
      }
    }
  }
  if (best_code.empty()) return Error{"no_code", "no SMS code in " + outbox.string()};
  return best_code;
}

Result<nlohmann::json> complete_sms(ApiClient& api, const std::string& token,
                                    const CodeSource& code) {
  if (auto sent = body_if(api.post("/api/v1/auth/sms/send", "{}", token)); !sent)
    return sent.error();
  auto c = code();
  if (!c) return c.error();
  return body_if(api.post("/api/v1/auth/sms/verify", nlohmann::json{{"code", *c}}.dump(), token));
}

Result<nlohmann::json> sign_agreement(ApiClient& api, const std::string& token,
                                      const Signer& sign_key) {
  auto me = body_if(api.get("/api/v1/me", token));
  if (!me) return me.error();
  auto a = body_if(api.get("/api/v1/agreement", token));
  if (!a) return a.error();
  nlohmann::json doc = {{"agreement", text_of(*a, "version")},
                        {"text_sha256", text_of(*a, "text_sha256")},
                        {"iin", text_of(*me, "iin")},
                        {"signed_at", time::format_astana(time::now())}};
  auto cms = sign_key.sign(doc.dump());
  if (!cms) return cms.error();
  return body_if(api.post("/api/v1/agreement",
                          nlohmann::json{{"cms", pki::base64_encode(*cms)}}.dump(), token));
}

Result<std::string> enter_fully(ApiClient& api, const Signer& auth_key, const Signer& sign_key,
                                const CodeSource& code) {
  auto token = enter(api, auth_key);
  if (!token) return token.error();
  auto sms = complete_sms(api, *token, code);
  if (!sms) return sms.error();
  const auto& next = (*sms)["next"];
  if (next.is_array() && std::find(next.begin(), next.end(), "agreement") != next.end()) {
    auto a = sign_agreement(api, *token, sign_key);
    if (!a) return a.error();
  }
  return *token;
}

nlohmann::json make_document(const std::string& resource, const nlohmann::json& ground,
                             const nlohmann::json& subject, const std::string& purpose) {
  return {{"resource", resource},
          {"ground", ground},
          {"subject", subject},
          {"purpose", purpose},
          {"nonce", auth::random_hex(16)},
          {"signed_at", time::format_astana(time::now())}};
}

Result<HttpResult> send_request(ApiClient& api, const std::string& token, const Signer& sign_key,
                                const nlohmann::json& document) {
  auto cms = sign_key.sign(document.dump());
  if (!cms) return cms.error();
  return api.post("/api/v1/requests", nlohmann::json{{"cms", pki::base64_encode(*cms)}}.dump(),
                  token);
}

Result<HttpResult> send_system_request(ApiClient& api, const Signer& system_key,
                                       const nlohmann::json& document) {
  auto cms = system_key.sign(document.dump());
  if (!cms) return cms.error();
  return api.post("/api/v1/system/requests",
                  nlohmann::json{{"cms", pki::base64_encode(*cms)}}.dump());
}

}  // namespace aaj::client
