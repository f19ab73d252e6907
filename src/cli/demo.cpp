// `aaj demo init DIR`: a complete demo installation — a certification centre of our own (the
// national CA cannot be reached from a test machine), a TLS certificate, bodies, users of several
// types with password-protected PKCS#12 key stores (an authentication and a signing key each, as
// NCA issues them), a fresh CRL, a config file and users.json. Keys are generated here, never
// shipped.
#include <spdlog/spdlog.h>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/gateway.h"
#include "app/operator.h"
#include "auth/challenges.h"
#include "cli/commands.h"
#include "cli/service.h"
#include "core/host_port.h"
#include "core/ids.h"
#include "core/time.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"
#include "store/store.h"

namespace aaj::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DemoBody {
  const char* key;
  const char* name;
  int serial;
};

// A demo person: a user (user_type), a staff member (role), or an applicant whose application
// waits in the operator's queue (user_type applied for).
struct DemoPerson {
  const char* surname;
  const char* name;
  const char* patronymic;
  bool male;
  int year, month, day;
  const char* body;  // DemoBody::key
  const char* user_type = "";
  const char* role = "";
  bool blocked = false;
  bool org_certificate = false;  // employee certificate with the body's BIN in OU
};

const DemoBody kBodies[] = {
    {"gpo", "Қазақстан Республикасы Бас прокуратурасы", 101},
    {"mia", "Қазақстан Республикасы Ішкі істер министрлігі", 102},
    {"afm", "Қазақстан Республикасы Қаржылық мониторинг агенттігі", 103},
    {"court", "Астана қаласының мамандандырылған ауданаралық экономикалық соты", 104},
    {"moj", "Қазақстан Республикасы Әділет министрлігі", 105},
    {"committee",
     "ҚР Бас прокуратурасының Құқықтық статистика және арнайы есепке алу жөніндегі комитеті", 106},
    // Runs the courts' information system ("Төрелік"), which connects system-to-system (R-COURT).
    {"court_is", "ҚР Жоғарғы Сотының жанындағы Соттардың қызметін қамтамасыз ету департаменті",
     107},
};

const DemoPerson kUsers[] = {
    {"НУРЛАНОВ", "ЕРЛАН", "САБИТҰЛЫ", true, 1985, 6, 15, "gpo", "prosecutor"},
    {"ЖУМАБАЕВА", "АСЕЛЬ", "ҚАНАТҚЫЗЫ", false, 1990, 3, 2, "mia", "investigator_mia", "", false,
     true},
    {"СЕЙТКАЛИЕВ", "ДАНИЯР", "МАРАТҰЛЫ", true, 1988, 11, 23, "afm", "afm_worker"},
    {"АХМЕТОВА", "ГУЛЬНАРА", "БОЛАТҚЫЗЫ", false, 1979, 1, 30, "court", "judge"},
    {"ТОКТАРОВ", "АЙДАР", "ЕРЖАНҰЛЫ", true, 1992, 8, 8, "moj", "bailiff"},
    {"ОМАРОВ", "МАРАТ", "ДӘУЛЕТҰЛЫ", true, 1987, 4, 12, "mia", "mia_admin_police"},
    {"БЕКОВ", "САМАТ", "НҰРЛАНҰЛЫ", true, 1983, 9, 19, "mia", "investigator_mia", "", true},
};

// Staff hold no user type: they do not request data.
const DemoPerson kStaff[] = {
    {"ҚАСЫМОВА", "ДИНАРА", "АСҚАРҚЫЗЫ", false, 1986, 2, 14, "committee", "", "operator"},
    {"ЕСЕНОВ", "ТИМУР", "БАҚЫТҰЛЫ", true, 1980, 7, 7, "mia", "", "controller"},
    // Supervises legality (R-CTRL-5): reads the event log under a registered resolution.
    {"ЖАҚСЫЛЫҚОВ", "БЕРІК", "СЕРІКҰЛЫ", true, 1976, 12, 5, "gpo", "", "prosecutor"},
};

const DemoPerson kApplicants[] = {
    {"ӘБДІРАХМАНОВ", "НҰРСҰЛТАН", "ЖАНДОСҰЛЫ", true, 1994, 5, 21, "mia", "inquirer_mia"},
    {"СӘРСЕНБАЕВА", "АЙГЕРІМ", "ТАЛҒАТҚЫЗЫ", false, 1996, 10, 3, "afm", "officer_afm"},
};

std::string body_bin(int serial) {
  for (int s = serial;; ++s)
    if (auto b = ids::make_bin(2005, 1, 4, 0, s)) return *b;
}

std::string person_iin(const DemoPerson& u, int seed) {
  for (int s = seed;; ++s)
    if (auto i = ids::make_iin(u.year, u.month, u.day, u.male, s)) return *i;
}

// NCA password policy: 6-32 characters with upper case, lower case and a digit.
std::string make_password() {
  return "Aa" + auth::random_hex(5) + "7";
}

Status write_text(const fs::path& p, const std::string& text) {
  return pki::write_public_file(p, text);
}

// The ids every file of the installation must agree on, computed once.
struct DemoIds {
  std::map<std::string, std::pair<std::string, std::string>> bodies;  // key -> (BIN, name)
  std::string operator_bin;  // the Committee's: the system's signing certificate carries it
  std::string witness_bin;   // the Prosecutor General's Office's: the witness's certificate
  std::string court_is_bin;  // the courts' information system's operator
  std::string log_id;        // "aaj:<operator BIN>:demo"
};

DemoIds demo_ids() {
  DemoIds d;
  for (const auto& b : kBodies) d.bodies[b.key] = {body_bin(b.serial), b.name};
  d.operator_bin = d.bodies.at("committee").first;
  d.witness_bin = d.bodies.at("gpo").first;
  d.court_is_bin = d.bodies.at("court_is").first;
  d.log_id = "aaj:" + d.operator_bin + ":demo";
  return d;
}

std::string config_text(const std::string& listen, const std::string& sim_listen,
                        const std::string& systems_listen, const std::string& witness_listen,
                        const DemoIds& ids) {
  std::string port = listen.substr(listen.rfind(':') + 1);
  return "# aaj demo installation, generated by `aaj demo init`.\n"
         "# Development only: the demo certification centre's key (pki/ca.key) lives beside it.\n"
         "mode = \"development\"\n\n"
         "[server]\nlisten = \"" +
         listen +
         "\"\ntls_cert = \"pki/server.pem\"\n"
         "tls_key = \"pki/server.key\"\nio_threads = 2\n"
         "# I/O threads serve the data requests from first byte to answer (they wait for\n"
         "# sources and the log without holding a thread); workers run the requests that may\n"
         "# block (entry, operator actions, SQLite writes, SMS).\nworker_threads = 32\n"
         "max_body_bytes = 1048576\nread_timeout_seconds = 30\nidle_timeout_seconds = 60\n\n"
         "[storage]\nbackend = \"sqlite\"\ndata_dir = \"data\"\n\n"
         "[journal]\ndir = \"data/journal\"\n"
         "# The system's signing key seals every answer and every archived segment.\n"
         "system_cert = \"pki/system.pem\"\nsystem_key = \"pki/system.key\"\n"
         "log_id = \"" +
         ids.log_id +
         "\"\n"
         "segment_records = 100000  # the active segment is archived (sealed) at this size\n\n"
         "[pki]\ntrust = [\"pki/ca.pem\"]\ncrl_dir = \"pki/crl\"\ncrl_reload_seconds = 2\n\n"
         "# [policy]\n# dir = \"regulation\"  # a folder with policy/ and catalog/; default: "
         "compiled in\n\n"
         "[auth]\nchallenge_ttl_seconds = 120\nsession_ttl_seconds = 43200\n"
         "session_idle_seconds = 1800\nlockout_threshold = 5\nlockout_window_seconds = 900\n"
         "sms_enabled = true\n# sms_disabled_bodies = [\"BIN…\"]  # SMS is the weaker factor\n\n"
         "[sms]\n# Development: codes are written as files here (never in production mode).\n"
         "driver = \"outbox\"\noutbox_dir = \"data/sms-outbox\"\n"
         "code_ttl_seconds = 300\nmax_attempts = 5\nresend_interval_seconds = 60\n"
         "# driver = \"http\"; url = \"https://sms.example/send\"; username = …; password = …\n\n"
         "[webauthn]\nrp_id = \"localhost\"\norigins = [\"https://localhost:" +
         port +
         "\"]\n"
         "require_user_verification = true\n\n"
         "[requests]\nmax_clock_skew_seconds = 300\n\n"
         "[access]\napplication_deadline_seconds = 86400  # the operator decides within a day\n\n"
         "[sources]\nsimulator_listen = \"" +
         sim_listen +
         "\"\n# The simulated case register's cases (read by `aaj sourcesim` at start).\n"
         "simulator_cases = \"cases.json\"\n\n"
         "[sources.default]\nconnector = \"http-json\"\nurl = \"http://" +
         sim_listen +
         "\"\n"
         "connect_timeout_ms = 1000\ntimeout_ms = 5000\n"
         "# Resilience per source: requests in flight (a slot, not a thread), the wait for a\n"
         "# slot, retries of queries that surely did not arrive, and the circuit breaker.\n"
         "max_concurrency = 64\nqueue_timeout_ms = 500\nretries = 1\nretry_backoff_ms = 50\n"
         "breaker_failures = 5\nbreaker_open_ms = 10000\n"
         "# A resource served elsewhere: [sources.R05] url = \"https://…\" (its own source).\n\n"
         "\n"
         "[grounds]\n# Verify each request's case in the case register (fail closed when it is "
         "down).\nverify = false\n# types = [\"criminal_case\"]  # default: every ground type\n\n"
         "[grounds.register]\nurl = \"http://" +
         sim_listen +
         "\"\ntimeout_ms = 2000\n\n"
         "[systems]\n# System-to-system clients connect here with mutual TLS (R-COURT).\n"
         "listen = \"" +
         systems_listen + "\"\n\n[[systems.clients]]\nname = \"court-is\"\nbin = \"" +
         ids.court_is_bin +
         "\"\nuser_types = [\"judge\"]\nrequire_mtls = true\n\n"
         "[witness]\n# The co-signer of the log's heads, run by the prosecutor's office (here: "
         "`aaj witness --config witness/witness.toml`).\nurl = \"https://" +
         witness_listen + "\"\nca_file = \"pki/ca.pem\"\nbin = \"" + ids.witness_bin +
         "\"\ninterval_seconds = 2\n";
}

// The witness's own installation, beside the system's (in production it runs elsewhere, at the
// prosecutor's office, with its own keys).
std::string witness_config_text(const std::string& witness_listen, const DemoIds& ids) {
  return "# The demo witness, generated by `aaj demo init`.\n"
         "name = \"prosecutor-general-demo\"\nlisten = \"" +
         witness_listen +
         "\"\ntls_cert = \"tls.pem\"\ntls_key = \"tls.key\"\n"
         "log_id = \"" +
         ids.log_id + "\"\noperator_bin = \"" + ids.operator_bin +
         "\"\ntrust = [\"../pki/ca.pem\"]\ncrl_dir = \"../pki/crl\"\n"
         "key_store = \"witness.p12\"\nkey_store_password_file = \"witness.pass\"\n"
         "state_dir = \"state\"\n";
}

int fail(const std::string& what, const Error& e) {
  std::cerr << json_line({{"error", e.code}, {"stage", what}, {"message", e.detail}}) << "\n";
  return 1;
}

Status write_crl(const fs::path& dir) {
  auto ca = pki::Authority::load(dir / "pki/ca.pem", dir / "pki/ca.key");
  if (!ca) return ca.error();
  std::vector<std::pair<std::string, time::Instant>> revoked;
  std::ifstream in(dir / "pki/revoked.json");
  if (in) {
    json j = json::parse(in, nullptr, false);
    if (!j.is_array()) return Error{"malformed", "pki/revoked.json must be an array"};
    for (const auto& e : j) {
      // Hand-editable: every entry must be {"serial": hex, "revoked_at": ISO 8601}.
      auto serial = e.is_object() && e.contains("serial") && e["serial"].is_string()
                        ? e["serial"].get<std::string>()
                        : "";
      auto at = e.is_object() && e.contains("revoked_at") && e["revoked_at"].is_string()
                    ? time::parse_iso8601(e["revoked_at"].get<std::string>())
                    : std::nullopt;
      if (serial.empty() || !at)
        return Error{"malformed",
                     "pki/revoked.json: entry " + e.dump() + " needs serial and revoked_at"};
      revoked.emplace_back(serial, *at);
    }
  }
  auto now = time::now();
  auto crl = ca->make_crl(revoked, now - std::chrono::minutes(1), now + std::chrono::hours(24 * 7));
  if (!crl) return crl.error();
  fs::create_directories(dir / "pki/crl");
  // Written aside and renamed, so the server's CRL watcher never reads half a file.
  if (Status s = write_text(dir / "pki/crl/.ca.crl.tmp", *crl); !s) return s;
  std::error_code ec;
  fs::rename(dir / "pki/crl/.ca.crl.tmp", dir / "pki/crl/ca.crl", ec);
  if (ec) return Error{"io", ec.message()};
  return {};
}

}  // namespace

int demo_info(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "users.json");
  json d = json::parse(in, nullptr, false);
  if (d.is_discarded() || !d.contains("users")) {
    std::cerr << "no demo installation in " << dir << " (run `aaj demo init " << dir << "`)\n";
    return 2;
  }
  std::cout << "\naaj demo - " << d["server"].get<std::string>() << "  (source simulator "
            << d["simulator"].get<std::string>() << ")\n"
            << "Demo users (PKCS#12 key stores; one password opens both of a user's stores):\n";
  const json* prosecutor = nullptr;
  for (const auto& u : d["users"]) {
    std::cout << "  " << u["user_type"].get<std::string>() << "  " << u["iin"].get<std::string>()
              << "  " << u["full_name"].get<std::string>() << "  ["
              << u["status"].get<std::string>() << "]  password "
              << u["password"].get<std::string>() << "\n";
    if (!prosecutor && u["user_type"] == "prosecutor") prosecutor = &u;
  }
  for (const auto& st : d.value("staff", json::array()))
    std::cout << "  staff: " << st["role"].get<std::string>() << "  "
              << st["iin"].get<std::string>() << "  " << st["full_name"].get<std::string>()
              << "  password " << st["password"].get<std::string>() << "\n";
  for (const auto& a : d.value("applicants", json::array()))
    std::cout << "  applicant (" << a["user_type"].get<std::string>() << ", pending application "
              << a["application_id"].get<std::string>() << ")  " << a["iin"].get<std::string>()
              << "  " << a["full_name"].get<std::string>() << "  password "
              << a["password"].get<std::string>() << "\n";
  if (prosecutor) {
    const json& p = *prosecutor;
    std::cout
        << "\nEnter with EDS and send one signed request (from another terminal):\n"
        << "  build/src/cli/aaj client request --server " << d["server"].get<std::string>()
        << " --ca " << d["ca"].get<std::string>() << " \\\n"
        << "    --auth-store " << p["auth_key_store"].get<std::string>() << " \\\n"
        << "    --sign-store " << p["key_store"].get<std::string>() << " --password "
        << p["password"].get<std::string>() << " \\\n"
        << "    --resource R01 --ground "
           "'{\"type\":\"criminal_case\",\"number\":\"251234567890123\"}' \\\n"
        << "    --subject '{\"iin\":\"860417300015\"}' --purpose 'Проверка по уголовному делу' \\\n"
        << "    --sms-outbox " << (fs::path(dir) / "data/sms-outbox").string() << "\n"
        << "(EDS, then the SMS code - read here from the development outbox; without\n"
        << "--sms-outbox it is asked for - then, the first time, the agreement on terms of use\n"
        << "is signed with the signing key, then the request.)\n"
        << "API and commands: docs/api.md.\n\n";
  }
  return 0;
}

int demo_refresh_crl(const std::string& dir) {
  if (Status s = write_crl(dir); !s) return fail("crl", s.error());
  std::cout << json{{"crl", (fs::path(dir) / "pki/crl/ca.crl").string()}}.dump() << "\n";
  return 0;
}

int demo_revoke(const std::string& dir, const std::string& serial) {
  fs::path p = fs::path(dir) / "pki/revoked.json";
  json j = json::array();
  if (std::ifstream in(p); in) j = json::parse(in, nullptr, false);
  if (!j.is_array()) j = json::array();
  j.push_back({{"serial", serial}, {"revoked_at", time::format_utc(time::now())}});
  if (Status s = write_text(p, j.dump(2)); !s) return fail("revoke", s.error());
  return demo_refresh_crl(dir);
}

int demo_init(const std::string& dir_arg, const std::string& listen_arg, bool force) {
  if (Status s = time::load_astana_zone(); !s) return fail("tz", s.error());
  fs::path dir = fs::absolute(dir_arg);
  if (fs::exists(dir / "aaj.toml") && !force) {
    std::cerr << "an installation exists in " << dir << " (use --force to replace it)\n";
    return 2;
  }
  if (force) {
    std::error_code ec;
    for (const char* sub : {"data", "pki", "users", "witness"}) fs::remove_all(dir / sub, ec);
  }
  std::string listen = listen_arg.empty() ? "127.0.0.1:8443" : listen_arg;
  auto hp = net::split_host_port(listen);
  if (!hp) return fail("listen", hp.error());
  // The simulator listens on the server port + 27 unless told otherwise (8443 → 8470).
  std::string sim_listen = hp->first + ":" + std::to_string(hp->second + 27);
  if (const char* env = std::getenv("AAJ_DEMO_SIM_LISTEN"); env && *env) sim_listen = env;
  // The system-to-system (mutual TLS) listener: server port + 1 unless told otherwise.
  std::string systems_listen = hp->first + ":" + std::to_string(hp->second + 1);
  if (const char* env = std::getenv("AAJ_DEMO_SYSTEMS_LISTEN"); env && *env) systems_listen = env;
  // The witness: server port + 2 unless told otherwise.
  std::string witness_listen = "127.0.0.1:" + std::to_string(hp->second + 2);
  if (const char* env = std::getenv("AAJ_DEMO_WITNESS_LISTEN"); env && *env) witness_listen = env;

  const DemoIds ids = demo_ids();
  fs::create_directories(dir / "pki/crl");
  fs::create_directories(dir / "users");
  auto now = time::now();
  auto years = [](int n) { return std::chrono::hours(24 * 365 * n); };

  auto ca = pki::Authority::create("AAJ DEMO CERTIFICATION CENTRE (RSA)",
                                   now - std::chrono::hours(1), now + years(10));
  if (!ca) return fail("ca", ca.error());
  if (Status s = write_text(dir / "pki/ca.pem", ca->cert_pem()); !s) return fail("ca", s.error());
  if (Status s = pki::write_secret_file(dir / "pki/ca.key", ca->key_pem()); !s)
    return fail("ca", s.error());

  // The installation's own certificates (TLS servers, the system's and the witness's signing
  // keys): two years from an hour ago.
  auto own_spec = [&](pki::CertKind kind, const std::string& common_name) {
    pki::IssueSpec spec;
    spec.subject.common_name = common_name;
    spec.kind = kind;
    spec.not_before = now - std::chrono::hours(1);
    spec.not_after = now + years(2);
    if (kind == pki::CertKind::TlsServer) {
      spec.dns_names = {"localhost"};
      spec.ip_addresses = {"127.0.0.1"};
    }
    return spec;
  };
  auto tls_key = pki::KeyPair::ec_p256();
  if (!tls_key) return fail("tls", tls_key.error());
  pki::IssueSpec tls = own_spec(pki::CertKind::TlsServer, "aaj demo server");
  if (hp->first != "127.0.0.1" && hp->first != "localhost" && hp->first != "0.0.0.0")
    tls.ip_addresses.push_back(hp->first);
  auto tls_cert = ca->issue(tls, *tls_key);
  if (!tls_cert) return fail("tls", tls_cert.error());
  if (Status s = write_text(dir / "pki/server.pem", tls_cert->cert_pem + ca->cert_pem()); !s)
    return fail("tls", s.error());
  if (Status s = pki::write_secret_file(dir / "pki/server.key", tls_key->private_pem()); !s)
    return fail("tls", s.error());
  // The system's own signing key: an organisation SIGN certificate of the operator (the
  // Committee), P-256 so that one signature per group commit costs little.
  auto system_key = pki::KeyPair::ec_p256();
  if (!system_key) return fail("system_key", system_key.error());
  pki::IssueSpec sys = own_spec(pki::CertKind::Signing, "ҚАО ААЖ ЖҮЙЕСІ / AAJ SYSTEM");
  sys.subject.bin = ids.operator_bin;
  auto sys_cert = ca->issue(sys, *system_key);
  if (!sys_cert) return fail("system_key", sys_cert.error());
  if (Status s = write_text(dir / "pki/system.pem", sys_cert->cert_pem); !s)
    return fail("system_key", s.error());
  if (Status s = pki::write_secret_file(dir / "pki/system.key", system_key->private_pem()); !s)
    return fail("system_key", s.error());
  // The witness: its signing key (the Prosecutor General's Office, BIN of "gpo"), its TLS
  // server certificate, its configuration and an empty state folder.
  {
    fs::create_directories(dir / "witness/state");
    auto wkey = pki::KeyPair::ec_p256();
    auto wtls = pki::KeyPair::ec_p256();
    if (!wkey) return fail("witness", wkey.error());
    if (!wtls) return fail("witness", wtls.error());
    pki::IssueSpec ws = own_spec(pki::CertKind::Signing, "ПРОКУРАТУРА КУӘСІ / WITNESS");
    ws.subject.bin = ids.witness_bin;
    auto wcert = ca->issue(ws, *wkey);
    if (!wcert) return fail("witness", wcert.error());
    const std::string pass = make_password();
    if (Status s = pki::write_pkcs12(dir / "witness/witness.p12", pass, wcert->cert.get(),
                                     wkey->get(), {}, "witness");
        !s)
      return fail("witness", s.error());
    if (Status s = pki::write_secret_file(dir / "witness/witness.pass", pass + "\n"); !s)
      return fail("witness", s.error());
    auto wtls_cert = ca->issue(own_spec(pki::CertKind::TlsServer, "aaj demo witness"), *wtls);
    if (!wtls_cert) return fail("witness", wtls_cert.error());
    if (Status s = write_text(dir / "witness/tls.pem", wtls_cert->cert_pem + ca->cert_pem()); !s)
      return fail("witness", s.error());
    if (Status s = pki::write_secret_file(dir / "witness/tls.key", wtls->private_pem()); !s)
      return fail("witness", s.error());
    if (Status s =
            write_text(dir / "witness/witness.toml", witness_config_text(witness_listen, ids));
        !s)
      return fail("witness", s.error());
  }
  if (Status s = write_text(dir / "pki/revoked.json", "[]\n"); !s) return fail("crl", s.error());
  if (Status s = write_crl(dir); !s) return fail("crl", s.error());
  if (Status s = write_text(dir / "aaj.toml",
                            config_text(listen, sim_listen, systems_listen, witness_listen, ids));
      !s)
    return fail("config", s.error());

  auto cfg = app::load_config(dir / "aaj.toml");
  if (!cfg) return fail("config", cfg.error());
  auto st = store::open_store(cfg->store);
  if (!st) return fail("store", st.error());
  auto bodies = ids.bodies;  // key -> (BIN, name)
  for (const auto& [key, body] : bodies)
    if (Status s = (*st)->put_body({body.first, body.second}); !s) return fail("store", s.error());

  // A person's identity and key stores: an authentication and a signing PKCS#12 each, as NCA
  // issues them (AUTH_RSA256_<id>.p12, RSA256_<id>.p12). Returns the users.json entry.
  int seed = 100;
  auto make_person = [&](const DemoPerson& p, json& entry) -> Status {
    std::string iin = person_iin(p, seed);
    std::string phone = "+7" + std::to_string(7010000000L + seed);
    seed += 7;
    const auto& [bin, body_name] = bodies[p.body];
    std::string full = std::string(p.surname) + " " + p.name + " " + p.patronymic;
    std::string password = make_password();
    entry = {{"iin", iin},           {"full_name", full},
             {"body_bin", bin},      {"body_name", body_name},
             {"password", password}, {"phone", phone}};
    for (auto kind : {pki::CertKind::Authentication, pki::CertKind::Signing}) {
      auto key = pki::KeyPair::rsa(2048);
      if (!key) return key.error();
      pki::IssueSpec spec;
      spec.subject = {std::string(p.surname) + " " + p.name,
                      p.surname,
                      p.patronymic,
                      iin,
                      p.org_certificate ? bin : "",
                      p.org_certificate ? body_name : ""};
      spec.kind = kind;
      spec.not_before = now - std::chrono::hours(1);
      spec.not_after = now + years(1);
      if (p.org_certificate) spec.role_oids = {"1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"};
      auto cert = ca->issue(spec, *key);
      if (!cert) return cert.error();
      bool auth = kind == pki::CertKind::Authentication;
      fs::path p12 = dir / "users" / ((auth ? "AUTH_RSA256_" : "RSA256_") + iin + ".p12");
      if (Status s =
              pki::write_pkcs12(p12, password, cert->cert.get(), key->get(), {ca->cert()}, full);
          !s)
        return s;
      entry[auth ? "auth_key_store" : "key_store"] = p12.string();
      entry[auth ? "auth_cert_serial" : "sign_cert_serial"] = cert->serial_hex;
    }
    return {};
  };

  json users = json::array(), staff = json::array(), applicants = json::array();
  for (const auto& p : kUsers) {
    json e;
    if (Status s = make_person(p, e); !s) return fail("user_keys", s.error());
    e["user_type"] = p.user_type;
    e["status"] = p.blocked ? "blocked" : "active";
    auto added = app::add_user(
        *cfg, {e["iin"], p.user_type, e["body_bin"], e["full_name"], e["phone"]}, "demo-init");
    if (!added) return fail("user_add", added.error());
    if (p.blocked) {
      auto b =
          app::block_user(*cfg, e["iin"], "demo: a blocked user, to show the refusal", "demo-init");
      if (!b) return fail("user_block", b.error());
    }
    users.push_back(e);
  }
  for (const auto& p : kStaff) {
    json e;
    if (Status s = make_person(p, e); !s) return fail("staff_keys", s.error());
    e["role"] = p.role;
    auto r = app::add_staff(*cfg, {e["iin"], "", e["body_bin"], e["full_name"], e["phone"]}, p.role,
                            "demo-init");
    if (!r) return fail("staff_add", r.error());
    staff.push_back(e);
  }
  {
    // Pending applications go through the real submission path (signature, automatic checks).
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::warn);  // the gateway's access log is noise here
    auto rt = http::Runtime::start({1, 1});
    auto gw = app::Gateway::create(*cfg, rt);
    if (!gw) {
      rt->stop();
      return fail("gateway", gw.error());
    }
    struct StopFirst {  // the runtime's threads call into the gateway: stopped before it goes
      std::shared_ptr<http::Runtime>& rt;
      ~StopFirst() { rt->stop(); }
    } stop_first{rt};
    for (const auto& p : kApplicants) {
      json e;
      if (Status s = make_person(p, e); !s) return fail("applicant_keys", s.error());
      e["user_type"] = p.user_type;
      json doc = {
          {"kind", "new"},
          {"iin", e["iin"]},
          {"full_name", e["full_name"]},
          {"body_bin", e["body_bin"]},
          {"body_name", e["body_name"]},
          {"unit", "Тергеу департаменті / Следственный департамент"},
          {"post", "аға анықтаушы / старший дознаватель"},
          {"user_type", p.user_type},
          {"grounds", json::array({"criminal_case"})},
          {"phone", e["phone"]},
          {"order", {{"number", "123-ЛС"}, {"date", time::format_date(time::astana_day(now))}}},
          {"signed_at", time::format_astana(now)}};
      auto ks = pki::load_pkcs12(e["key_store"].get<std::string>(), e["password"]);
      if (!ks) return fail("applicant_sign", ks.error());
      auto cms = pki::sign_cms(doc.dump(), ks->cert.get(), ks->key.get(), {}, true);
      if (!cms) return fail("applicant_sign", cms.error());
      http::Request req;
      req.method = "POST";
      req.path = req.target = "/api/v1/applications";
      req.body = json{{"cms", pki::base64_encode(*cms)}}.dump();
      req.remote = "demo-init";
      auto resp = (*gw)->handle(req);
      json answer = json::parse(resp.body, nullptr, false);
      if (resp.status != 201 || !answer.is_object())
        return fail("application", {"application", resp.body});
      e["application_id"] = answer["application_id"];
      applicants.push_back(e);
    }
    spdlog::set_level(level);
  }

  // The courts' information system: an organisation AUTH certificate for mutual TLS and a
  // SIGN certificate for the CMS of its requests, both with the BIN of its operator.
  json systems = json::array();
  {
    const auto& [bin, org] = bodies["court_is"];
    std::string password = make_password();
    json e = {{"name", "court-is"},
              {"bin", bin},
              {"organisation", org},
              {"url", "https://" + systems_listen},
              {"password", password}};
    for (auto kind : {pki::CertKind::InformationSystem, pki::CertKind::Signing}) {
      auto key = pki::KeyPair::rsa(2048);
      if (!key) return fail("system_keys", key.error());
      pki::IssueSpec spec;
      // X.520 limits O to 64 characters: the department's short name.
      spec.subject = {"ТӨРЕЛІК", "", "", "", bin, "Соттардың қызметін қамтамасыз ету департаменті"};
      spec.kind = kind;
      spec.not_before = now - std::chrono::hours(1);
      spec.not_after = now + years(1);
      if (kind == pki::CertKind::Signing) spec.role_oids = {"1.2.398.3.3.4.1.2.6"};
      auto cert = ca->issue(spec, *key);
      if (!cert) return fail("system_keys", cert.error());
      bool auth = kind == pki::CertKind::InformationSystem;
      fs::path p12 =
          dir / "users" / ((auth ? "AUTH_RSA256_COURT_IS_" : "RSA256_COURT_IS_") + bin + ".p12");
      if (Status s = pki::write_pkcs12(p12, password, cert->cert.get(), key->get(), {ca->cert()},
                                       "court-is");
          !s)
        return fail("system_keys", s.error());
      e[auth ? "auth_key_store" : "key_store"] = p12.string();
    }
    systems.push_back(e);
  }

  // The simulated case register: an open and a closed criminal case of each body, and court
  // cases of the demo court (para 25: number, year, court).
  json cases = json::array();
  int n = 0;
  for (const auto& b : kBodies) {
    const std::string& bin = bodies[b.key].first;
    for (const char* status : {"open", "closed"}) {
      std::string serial = std::to_string(31 + 17 * n++);
      std::string number = "2675100" + std::string(8 - serial.size(), '0') + serial;  // 15 digits
      cases.push_back({{"type", "criminal_case"},
                       {"number", number},
                       {"status", status},
                       {"body_bin", bin},
                       {"registered_on", "2026-01-15"}});
    }
  }
  const std::string court_name = bodies["court"].second;
  for (const char* type : {"civil_case_court", "admin_case_court"})
    cases.push_back({{"type", type},
                     {"number", std::string(type) == "civil_case_court" ? "7194-26-00-2/1532"
                                                                        : "7194-26-00-3а/418"},
                     {"status", "open"},
                     {"body_bin", bodies["court"].first},
                     {"court", court_name},
                     {"registered_on", "2026-02-03"}});
  if (Status s = write_text(dir / "cases.json", json{{"cases", cases}}.dump(2) + "\n"); !s)
    return fail("cases", s.error());

  json out = {{"installation", dir.string()},
              {"config", (dir / "aaj.toml").string()},
              {"ca", (dir / "pki/ca.pem").string()},
              {"server", "https://" + listen},
              {"simulator", "http://" + sim_listen},
              {"users", users},
              {"staff", staff},
              {"applicants", applicants},
              {"systems", systems},
              {"cases", cases}};
  if (Status s = pki::write_secret_file(dir / "users.json", out.dump(2) + "\n"); !s)
    return fail("users", s.error());
  std::cout << json{{"installation", dir.string()},
                    {"users", users.size()},
                    {"staff", staff.size()},
                    {"pending_applications", applicants.size()}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace aaj::cli
