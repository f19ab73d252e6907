// Operator actions available from the command line (the operator's portal comes with the access
// lifecycle issue). Each action is validated, written to the store and to the event log.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "app/config.h"
#include "core/result.h"

namespace aaj::app {

struct NewUser {
  std::string iin;
  std::string user_type;
  std::string body_bin;
  std::string full_name;
  std::string phone;  // +7 and 10 digits
};

// Registers an active user. Validates the IIN (with check digit: typed input), the BIN, the user
// type (must be known to the policy in force), the name and the phone. The action is logged as
// "user_registered" with `actor`. Returns the registered user as JSON. Errors: "invalid_input"
// (detail names the field), "user_exists", "journal_unavailable", "store_unavailable".
// Safe to run while the server runs (SQLite WAL; the event log is multi-process safe).
Result<nlohmann::json> add_user(const Config& cfg, const NewUser& u, const std::string& actor);

}  // namespace aaj::app

namespace aaj::app {

// Blocks a user at once (R-ACC-5, R-CTRL-3/4): status "blocked", all live sessions ended, the
// action logged as "user_blocked" with `actor` and `reason`. Errors: "user_unknown",
// "invalid_input" (empty reason), "journal_unavailable", "store_unavailable".
Result<nlohmann::json> block_user(const Config& cfg, const std::string& iin,
                                  const std::string& reason, const std::string& actor);

}  // namespace aaj::app

namespace aaj::app {

// Grants a staff role ("operator", "controller" scoped to body_bin, "prosecutor", "admin") to an
// official, creating their account without a user type if they have none (staff accounts do not
// request data unless they also hold a user type). Logged as "staff_role_granted". Errors:
// "invalid_input", "journal_unavailable", "store_unavailable".
Result<nlohmann::json> add_staff(const Config& cfg, const NewUser& person, const std::string& role,
                                 const std::string& actor);

}  // namespace aaj::app
