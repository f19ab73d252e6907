#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "core/time.h"

#include "cli/commands.h"
#include "cli/service.h"
#include "client/client.h"

namespace aaj::cli {

int client_request(const std::string& server, const std::string& ca, const std::string& auth_store,
                   const std::string& sign_store, const std::string& password,
                   const std::string& resource, const std::string& ground_json,
                   const std::string& subject_json, const std::string& purpose,
                   const std::string& sms_outbox, const std::string& save_to) {
  auto ground = nlohmann::json::parse(ground_json, nullptr, false);
  auto subject = nlohmann::json::parse(subject_json, nullptr, false);
  if (ground.is_discarded() || subject.is_discarded()) {
    std::cerr << "--ground and --subject must be JSON objects\n";
    return 2;
  }
  auto auth = client::Signer::from_pkcs12(auth_store, password);
  auto sign = client::Signer::from_pkcs12(sign_store, password);
  if (!auth || !sign) {
    print_error(!auth ? auth.error() : sign.error());
    return 2;
  }
  client::ApiClient api(server, ca);
  int64_t since = time::to_micros(time::now());
  client::CodeSource code = [&]() -> Result<std::string> {
    if (!sms_outbox.empty()) {
      // Development installations: the code is a file in the SMS outbox folder.
      for (int i = 0; i < 50; ++i) {
        auto c = client::read_outbox_code(sms_outbox, "", since);
        if (c) return c;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return Error{"no_code", "no SMS code appeared in " + sms_outbox};
    }
    std::cerr << "SMS code: ";
    std::string typed;
    if (!std::getline(std::cin, typed)) return Error{"no_code", "no code typed"};
    return typed;
  };
  auto token = client::enter_fully(api, **auth, **sign, code);
  if (!token) {
    std::cerr << json_line({{"stage", "entry"},
                            {"error", token.error().code},
                            {"message", token.error().detail}})
              << "\n";
    return 1;
  }
  auto r = client::send_request(api, *token, **sign,
                                client::make_document(resource, ground, subject, purpose));
  if (!r) {
    print_error(r.error());
    return 1;
  }
  // The answer exactly as received, when asked: its seal covers these bytes
  // (`aaj verify-seal FILE`); the screen gets it indented. The screen gets it also when the file
  // cannot be written (the request is answered and logged: it is not to be asked again), but
  // the command then fails: a script must not take the missing file for the answer.
  bool saved = true;
  if (!save_to.empty()) {
    errno = 0;
    std::ofstream out(save_to, std::ios::binary | std::ios::trunc);
    out << r->raw;
    out.close();  // flushes: a full disk shows here
    if (!out) {
      saved = false;
      print_error(Error{
          "save_failed",
          "cannot write " + save_to + (errno ? std::string(": ") + std::strerror(errno) : "")});
    }
  }
  std::cout << (r->body.is_null() ? r->raw : r->body.dump(2)) << "\n";
  if (!saved) return 1;
  return r->status == 200 ? 0 : 1;
}

}  // namespace aaj::cli
