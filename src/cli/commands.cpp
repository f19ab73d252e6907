#include "cli/commands.h"

#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/operator.h"
#include "cli/service.h"
#include "journal/journal.h"
#include "pki/cms_command.h"
#include "policy/policy.h"

namespace aaj::cli {

namespace {
std::string operator_actor() {
  const passwd* pw = getpwuid(getuid());
  return std::string("cli:") + (pw ? pw->pw_name : std::to_string(getuid()));
}
}  // namespace

// Loads the config, runs one operator action, prints its JSON result or error. Exit codes:
// 0 done, 1 refused (e.g. user_exists), 2 bad input or configuration.
void Commands::operator_action(
    const std::function<Result<nlohmann::json>(const app::Config&)>& action) {
  auto cfg = app::load_config(config_);
  if (!cfg) {
    print_error(cfg.error());
    code_ = 2;
    return;
  }
  auto r = action(*cfg);
  if (!r) {
    print_error(r.error());
    code_ = r.error().code == "invalid_input" ? 2 : 1;
    return;
  }
  std::cout << r->dump(2) << "\n";
}

void Commands::attach(CLI::App& app) {
  auto* s = app.add_subcommand("serve", "Run the HTTPS server");
  s->add_option("--config", config_, "Configuration file (TOML)")->required();
  s->add_option("--listen", listen_, "HOST:PORT, overrides server.listen");
  s->callback([this] { code_ = serve(config_, listen_); });

  auto* sim = app.add_subcommand("sourcesim", "Run the data-source simulator");
  sim->add_option("--config", config_, "Configuration file (uses sources.simulator_listen)")
      ->required();
  sim->add_option("--listen", listen_, "HOST:PORT, overrides sources.simulator_listen");
  sim->callback([this] { code_ = sourcesim(config_, listen_); });

  auto* wit = app.add_subcommand(
      "witness", "Run the event log's witness: co-sign signed heads consistent with the last one");
  wit->add_option("--config", config_, "Witness configuration file (TOML)")->required();
  wit->add_option("--listen", listen_, "HOST:PORT, overrides listen");
  wit->callback([this] { code_ = run_witness(config_, listen_); });

  auto* user = app.add_subcommand("user", "Operator actions on users");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "Register an active user (logged)");
  add->add_option("--config", config_)->required();
  add->add_option("--iin", iin_)->required();
  add->add_option("--user-type", user_type_)->required();
  add->add_option("--body-bin", body_bin_)->required();
  add->add_option("--name", name_)->required();
  add->add_option("--phone", phone_)->required();
  add->callback([this] {
    operator_action([this](const app::Config& cfg) {
      return app::add_user(cfg, {iin_, user_type_, body_bin_, name_, phone_}, operator_actor());
    });
  });

  auto* blk = user->add_subcommand("block", "Block a user at once and end their sessions (logged)");
  blk->add_option("--config", config_)->required();
  blk->add_option("--iin", iin_)->required();
  blk->add_option("--reason", name_, "Why (recorded in the event log)")->required();
  blk->callback([this] {
    operator_action([this](const app::Config& cfg) {
      return app::block_user(cfg, iin_, name_, operator_actor());
    });
  });

  auto* staff =
      app.add_subcommand("staff", "Staff roles (operator, controller, prosecutor, admin)");
  staff->require_subcommand(1);
  auto* sa = staff->add_subcommand("add", "Grant a staff role (logged)");
  sa->add_option("--config", config_)->required();
  sa->add_option("--iin", iin_)->required();
  sa->add_option("--role", user_type_, "operator | controller | prosecutor | admin")->required();
  sa->add_option("--body-bin", body_bin_, "The official's body (a controller's scope)")->required();
  sa->add_option("--name", name_, "Full name (for a new account)");
  sa->add_option("--phone", phone_, "+7… (for a new account)");
  sa->callback([this] {
    operator_action([this](const app::Config& cfg) {
      return app::add_staff(cfg, {iin_, "", body_bin_, name_, phone_}, user_type_,
                            operator_actor());
    });
  });

  auto* pol = app.add_subcommand("policy", "The regulation as data");
  pol->require_subcommand(1);
  auto* ex = pol->add_subcommand("explain", "Decide and explain one case");
  ex->add_option("--user-type", user_type_)->required();
  ex->add_option("--ground", ground_)->required();
  ex->add_option("--resource", resource_);
  ex->add_option("--at", at_, "Date YYYY-MM-DD (Astana); default today");
  ex->add_option("--policy-dir", policy_dir_, "Policy folder instead of the built-in one");
  ex->callback([this] {
    code_ = policy::policy_explain_command(user_type_, ground_, resource_, at_, policy_dir_,
                                           std::cout, std::cerr);
  });

  attach_log_commands(app, code_);

  auto* cms = app.add_subcommand("cms", "CMS signatures");
  cms->require_subcommand(1);
  auto* cv = cms->add_subcommand("verify", "Verify a CMS file offline");
  cv->add_option("file", file_)->required();
  cv->add_option("--trust", trust_, "Trusted CA certificates")->required();
  cv->add_option("--crl", crls_, "CRL files");
  cv->add_option("--at", at_, "ISO 8601 time (default now)");
  cv->callback(
      [this] { code_ = pki::cms_verify_command(file_, trust_, crls_, at_, std::cout, std::cerr); });

  auto* demo = app.add_subcommand("demo", "Demo installation");
  demo->require_subcommand(1);
  auto* di = demo->add_subcommand("init", "Write a complete demo installation into DIR");
  di->add_option("dir", dir_)->required();
  di->add_option("--listen", listen_, "Server address (default 127.0.0.1:8443)");
  di->add_flag("--force", force_, "Overwrite an existing installation");
  di->callback([this] { code_ = demo_init(dir_, listen_, force_); });
  auto* dn = demo->add_subcommand("info", "Print the demo users and how to log in");
  dn->add_option("dir", dir_)->required();
  dn->callback([this] { code_ = demo_info(dir_); });
  auto* dc = demo->add_subcommand("refresh-crl", "Re-issue the demo CA's CRL with fresh dates");
  dc->add_option("dir", dir_)->required();
  dc->callback([this] { code_ = demo_refresh_crl(dir_); });
  auto* dr = demo->add_subcommand("revoke", "Revoke a certificate of the demo CA (by serial)");
  dr->add_option("dir", dir_)->required();
  dr->add_option("--serial", serial_, "Serial number, hex")->required();
  dr->callback([this] { code_ = demo_revoke(dir_, serial_); });

  auto* client = app.add_subcommand("client", "A signing client for trying the API by hand");
  client->require_subcommand(1);
  auto* cr = client->add_subcommand(
      "request", "Enter (EDS + SMS code, agreement if due), then send one signed request");
  cr->add_option("--server", server_, "https://HOST:PORT")->required();
  cr->add_option("--ca", ca_, "CA certificate that issued the server's TLS certificate")
      ->required();
  cr->add_option("--auth-store", auth_store_, "PKCS#12 with the authentication key")->required();
  cr->add_option("--sign-store", sign_store_, "PKCS#12 with the signing key")->required();
  cr->add_option("--password", password_, "Key store password")->required();
  cr->add_option("--resource", resource_)->required();
  cr->add_option("--ground", ground_json_,
                 "JSON, e.g. '{\"type\":\"criminal_case\",\"number\":\"…\"}'")
      ->required();
  cr->add_option("--subject", subject_json_, "JSON, e.g. '{\"iin\":\"…\"}'")->required();
  cr->add_option("--purpose", purpose_)->required();
  cr->add_option("--sms-outbox", sms_outbox_,
                 "Development: read the SMS code from this outbox folder instead of asking");
  cr->add_option("--save", save_to_,
                 "Write the answer exactly as received here (its seal covers these bytes)");
  cr->callback([this] {
    code_ = client_request(server_, ca_, auth_store_, sign_store_, password_, resource_,
                           ground_json_, subject_json_, purpose_, sms_outbox_, save_to_);
  });
}

}  // namespace aaj::cli
