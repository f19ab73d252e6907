// Integration harness: a real demo installation in a temp folder, the real `aaj serve` and
// `aaj sourcesim` processes on loopback ports, and the real client library talking HTTPS.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/client.h"

namespace aaj::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the aaj binary with arguments (no shell), waits, captures output.
CommandResult run_aaj(const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {});
// Runs a shell command line (for the openssl CLI), captures stdout+stderr.
CommandResult run_shell(const std::string& cmd);

// A free TCP port on 127.0.0.1 (bind to port 0, read, close).
uint16_t free_port();

class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::filesystem::path& log,
          const std::vector<std::string>& env = {});
  ~Process();  // SIGTERM, then SIGKILL after 5 s
  void stop();
  // SIGKILL now: no chance to finish anything (crash tests).
  void kill_now();
  bool running() const;

 private:
  pid_t pid_ = -1;
};

class Installation {
 public:
  // demo init into a fresh temp folder; `edit_config` may rewrite aaj.toml before start.
  explicit Installation(const std::string& config_patch = "");
  ~Installation();

  // Replaces the value of the first `key = …` line of aaj.toml (before start()).
  void set_config(const std::string& key, const std::string& value);
  void start();  // starts sourcesim and serve, waits for both to answer
  void stop();
  // The log's witness (`aaj witness` with the demo's witness/witness.toml).
  void start_witness();
  std::string witness_url() const { return "https://127.0.0.1:" + std::to_string(witness_port_); }
  // SIGKILL the server, and start it again (waiting until it answers).
  void kill_server();
  void restart_server();

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config() const { return dir_ / "aaj.toml"; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string sim_url() const { return "http://127.0.0.1:" + std::to_string(sim_port_); }
  // The system-to-system (mutual TLS) listener.
  std::string systems_url() const { return "https://127.0.0.1:" + std::to_string(systems_port_); }
  // users.json as a whole (systems, cases, …).
  const nlohmann::json& installation() const { return installation_; }
  std::string ca() const { return (dir_ / "pki/ca.pem").string(); }
  const nlohmann::json& users() const { return users_; }
  // The staff member with this role, and the applicants with pending applications (users.json).
  const nlohmann::json& staff(const std::string& role) const;
  const nlohmann::json& applicants() const { return installation_["applicants"]; }
  // The first demo user with this user type (and status).
  const nlohmann::json& user(const std::string& user_type,
                             const std::string& status = "active") const;

  std::unique_ptr<client::ApiClient> api() const {
    return std::make_unique<client::ApiClient>(url(), ca());
  }
  std::shared_ptr<client::Signer> auth_key(const nlohmann::json& u) const;
  std::shared_ptr<client::Signer> sign_key(const nlohmann::json& u) const;
  // Enters as the user: EDS, the SMS code from the outbox, the agreement if due. Throws on error.
  std::string enter(client::ApiClient& api, const nlohmann::json& u) const;
  // Reads the SMS code sent to `phone` after this call from the installation's outbox.
  client::CodeSource sms_code_for(const std::string& phone) const;

  // Tells the simulator how a resource behaves: "normal", "slow" (delay_ms), "fail", "down".
  void set_source_mode(const std::string& resource, const std::string& mode, int delay_ms = 0);
  // Adds cases to the simulated case register (POST /control/cases).
  void add_cases(const nlohmann::json& cases);
  // Raw simulator answer (untruncated), for leak checks.
  nlohmann::json source_answer(const std::string& resource, const nlohmann::json& key);

 private:
  std::filesystem::path dir_;
  uint16_t port_ = 0, sim_port_ = 0, systems_port_ = 0, witness_port_ = 0;
  nlohmann::json users_;
  nlohmann::json installation_;
  std::unique_ptr<Process> server_, sim_, witness_;
};

}  // namespace aaj::testing
