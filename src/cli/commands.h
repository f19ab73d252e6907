// Subcommand wiring. Each subcommand's work lives in its module; this file only parses options.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/config.h"
#include "core/result.h"

namespace aaj::cli {

class Commands {
 public:
  void attach(CLI::App& app);
  int exit_code() const { return code_; }

 private:
  void operator_action(const std::function<Result<nlohmann::json>(const app::Config&)>& action);
  int code_ = 0;
  // Options (CLI11 binds by reference).
  std::string config_, listen_, dir_, file_, at_, user_type_, ground_, resource_, policy_dir_;
  std::string iin_, body_bin_, name_, phone_, serial_;
  std::vector<std::string> trust_, crls_;
  // client
  std::string server_, ca_, auth_store_, sign_store_, password_, ground_json_, subject_json_,
      purpose_, sms_outbox_, save_to_;
  bool force_ = false;
};

// `aaj log …` and `aaj verify-seal` (log_commands.cpp); the exit code goes to `code`.
void attach_log_commands(CLI::App& app, int& code);
int serve(const std::string& config, const std::string& listen);
int sourcesim(const std::string& config, const std::string& listen);
int run_witness(const std::string& config, const std::string& listen);
int demo_init(const std::string& dir, const std::string& listen, bool force);
int demo_refresh_crl(const std::string& dir);
int demo_info(const std::string& dir);
int demo_revoke(const std::string& dir, const std::string& serial);
int client_request(const std::string& server, const std::string& ca, const std::string& auth_store,
                   const std::string& sign_store, const std::string& password,
                   const std::string& resource, const std::string& ground_json,
                   const std::string& subject_json, const std::string& purpose,
                   const std::string& sms_outbox, const std::string& save_to);

}  // namespace aaj::cli
