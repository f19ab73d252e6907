#include "app/operator.h"

#include "app/user_ref.h"
#include "core/ids.h"
#include "core/time.h"
#include "journal/journal.h"
#include "policy/policy.h"
#include "store/store.h"

namespace aaj::app {

Result<nlohmann::json> add_user(const Config& cfg, const NewUser& u, const std::string& actor) {
  if (!ids::parse_iin(u.iin))
    return Error{"invalid_input", "--iin is not a valid IIN (12 digits, birth date, check digit)"};
  if (!ids::is_valid_bin(u.body_bin))
    return Error{"invalid_input", "--body-bin is not a valid BIN (12 digits, check digit)"};
  auto pol = cfg.policy_dir.empty() ? policy::Engine::load_embedded()
                                    : policy::Engine::load_dir(cfg.policy_dir);
  if (!pol) return pol.error();
  if (!(*pol)->is_user_type(u.user_type))
    return Error{"invalid_input",
                 "--user-type " + u.user_type + " is not a user type of the policy"};
  if (u.full_name.size() < 3 || u.full_name.size() > 300)
    return Error{"invalid_input", "--name must be the user's full name"};
  if (!ids::is_kz_phone(u.phone))
    return Error{"invalid_input", "--phone must be +7 followed by 10 digits"};
  if (Status s = time::load_astana_zone(); !s) return s.error();

  auto st = store::open_store(cfg.store);
  if (!st) return st.error();
  auto existing = (*st)->find_user(u.iin);
  if (!existing) return existing.error();
  if (*existing) return Error{"user_exists", "a user with IIN " + u.iin + " is registered"};
  auto j = journal::Journal::open(cfg.journal_dir);
  if (!j) return j.error();

  nlohmann::json user = {{"iin", u.iin},           {"user_type", u.user_type},
                         {"body_bin", u.body_bin}, {"full_name", u.full_name},
                         {"phone", u.phone},       {"status", "active"}};
  // Logged first: an action the log does not show must not take effect.
  auto w = (*j)->append("user_registered", {{"actor", actor}, {"user", user}});
  if (!w) return w.error();
  store::User row{u.iin, u.user_type, u.body_bin, u.full_name, u.phone, "active", time::now()};
  if (Status s = (*st)->add_user(row); !s) {
    (void)(*j)->append("user_registration_failed",
                       {{"actor", actor}, {"iin", u.iin}, {"code", s.error().code}});
    return s.error();
  }
  user["logged_at"] = w->at_astana;
  user["log_seq"] = w->seq;
  return user;
}

}  // namespace aaj::app

namespace aaj::app {

Result<nlohmann::json> block_user(const Config& cfg, const std::string& iin,
                                  const std::string& reason, const std::string& actor) {
  if (reason.size() < 3) return Error{"invalid_input", "--reason must state why"};
  if (Status s = time::load_astana_zone(); !s) return s.error();
  auto st = store::open_store(cfg.store);
  if (!st) return st.error();
  auto existing = (*st)->find_user(iin);
  if (!existing) return existing.error();
  if (!*existing) return Error{"user_unknown", "no user with IIN " + iin};
  auto j = journal::Journal::open(cfg.journal_dir);
  if (!j) return j.error();
  const store::User& u = **existing;
  auto w = (*j)->append(
      "user_blocked", {{"actor", actor}, {"iin", iin}, {"reason", reason}, {"user", user_ref(u)}});
  if (!w) return w.error();
  if (Status s = (*st)->set_user_status(iin, "blocked"); !s) return s.error();
  if (Status s = (*st)->revoke_sessions_of(iin); !s) return s.error();
  return nlohmann::json{
      {"iin", iin}, {"status", "blocked"}, {"logged_at", w->at_astana}, {"log_seq", w->seq}};
}

}  // namespace aaj::app

namespace aaj::app {

Result<nlohmann::json> add_staff(const Config& cfg, const NewUser& p, const std::string& role,
                                 const std::string& actor) {
  if (role != "operator" && role != "controller" && role != "prosecutor" && role != "admin")
    return Error{"invalid_input", "--role must be operator, controller, prosecutor or admin"};
  if (!ids::parse_iin(p.iin)) return Error{"invalid_input", "--iin is not a valid IIN"};
  if (!ids::is_valid_bin(p.body_bin))
    return Error{"invalid_input", "--body-bin is not a valid BIN"};
  if (Status s = time::load_astana_zone(); !s) return s.error();
  auto st = store::open_store(cfg.store);
  if (!st) return st.error();
  auto existing = (*st)->find_user(p.iin);
  if (!existing) return existing.error();
  if (!*existing && (p.full_name.size() < 3 || !ids::is_kz_phone(p.phone)))
    return Error{"invalid_input", "a new staff account needs --name and --phone"};
  auto j = journal::Journal::open(cfg.journal_dir);
  if (!j) return j.error();
  auto w =
      (*j)->append("staff_role_granted",
                   {{"actor", actor}, {"iin", p.iin}, {"role", role}, {"body_bin", p.body_bin}});
  if (!w) return w.error();
  if (!*existing) {
    store::User row{p.iin, "", p.body_bin, p.full_name, p.phone, "active", time::now()};
    if (Status s = (*st)->add_user(row); !s) return s.error();
  }
  if (Status s = (*st)->add_staff_role({p.iin, role, p.body_bin}); !s) return s.error();
  return nlohmann::json{
      {"iin", p.iin}, {"role", role}, {"body_bin", p.body_bin}, {"logged_at", w->at_astana}};
}

}  // namespace aaj::app
