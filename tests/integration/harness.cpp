#include "harness.h"

#include "core/time.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace aaj::testing {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
            const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

CommandResult run_aaj(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  static std::atomic<int> n{0};
  fs::path tmp = fs::temp_directory_path() /
                 ("aaj-cmd-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::vector<std::string> argv = {AAJ_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn(argv, tmp.string() + ".out", tmp.string() + ".err", env);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(tmp.string() + ".out");
  r.err = slurp(tmp.string() + ".err");
  fs::remove(tmp.string() + ".out");
  fs::remove(tmp.string() + ".err");
  return r;
}

CommandResult run_shell(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

uint16_t free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

Process::Process(const std::vector<std::string>& argv, const fs::path& log,
                 const std::vector<std::string>& env) {
  pid_ = spawn(argv, log.string() + ".out", log.string() + ".err", env);
}

Process::~Process() {
  stop();
}

bool Process::running() const {
  if (pid_ <= 0) return false;
  return waitpid(pid_, nullptr, WNOHANG) == 0;
}

void Process::kill_now() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void Process::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Installation::Installation(const std::string& config_patch) {
  char tmpl[] = "/tmp/aaj-it-XXXXXX";
  dir_ = mkdtemp(tmpl);
  port_ = free_port();
  sim_port_ = free_port();
  systems_port_ = free_port();
  witness_port_ = free_port();
  auto r =
      run_aaj({"demo", "init", dir_.string(), "--listen", "127.0.0.1:" + std::to_string(port_)},
              {"AAJ_DEMO_SIM_LISTEN=127.0.0.1:" + std::to_string(sim_port_),
               "AAJ_DEMO_SYSTEMS_LISTEN=127.0.0.1:" + std::to_string(systems_port_),
               "AAJ_DEMO_WITNESS_LISTEN=127.0.0.1:" + std::to_string(witness_port_)});
  if (r.exit_code != 0) throw std::runtime_error("demo init failed: " + r.err);
  if (!config_patch.empty()) {
    std::string patch = config_patch;
    auto replace = [&](const std::string& from, const std::string& to) {
      for (size_t p = patch.find(from); p != std::string::npos; p = patch.find(from, p))
        patch.replace(p, from.size(), to);
    };
    replace("{DIR}", dir_.string());
    replace("{SIM}", "127.0.0.1:" + std::to_string(sim_port_));
    std::ofstream(config(), std::ios::app) << "\n" << patch << "\n";
  }
  installation_ = nlohmann::json::parse(slurp(dir_ / "users.json"));
  users_ = installation_["users"];
}

Installation::~Installation() {
  stop();
  if (!std::getenv("AAJ_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void Installation::set_config(const std::string& key, const std::string& value) {
  std::string text = slurp(config());
  size_t p = text.find("\n" + key + " = ");
  if (p == std::string::npos) throw std::runtime_error("no config key " + key);
  size_t e = text.find('\n', p + 1);
  text.replace(p + 1, e - p - 1, key + " = " + value);
  std::ofstream(config(), std::ios::trunc) << text;
}

void Installation::start() {
  sim_ = std::make_unique<Process>(
      std::vector<std::string>{AAJ_BINARY, "sourcesim", "--config", config().string()},
      dir_ / "sourcesim");
  server_ = std::make_unique<Process>(
      std::vector<std::string>{AAJ_BINARY, "serve", "--config", config().string()}, dir_ / "serve");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool up = false;
  while (std::chrono::steady_clock::now() < deadline) {
    client::ApiClient probe(url(), ca());
    auto h = probe.get("/healthz");
    if (h && (h->status == 200 || h->status == 503)) {  // up, healthy or degraded
      up = true;
      break;
    }
    if (!server_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!up)
    throw std::runtime_error("server did not start: " + slurp(dir_ / "serve.out") +
                             slurp(dir_ / "serve.err"));
}

void Installation::stop() {
  if (server_) server_->stop();
  if (sim_) sim_->stop();
  if (witness_) witness_->stop();
}

void Installation::start_witness() {
  witness_ =
      std::make_unique<Process>(std::vector<std::string>{AAJ_BINARY, "witness", "--config",
                                                         (dir_ / "witness/witness.toml").string()},
                                dir_ / "witness");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    client::ApiClient probe(witness_url(), ca());
    auto h = probe.get("/healthz");
    if (h && h->status == 200) return;
    if (!witness_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("witness did not start: " + slurp(dir_ / "witness.out") +
                           slurp(dir_ / "witness.err"));
}

void Installation::kill_server() {
  if (server_) server_->kill_now();
}

void Installation::restart_server() {
  if (server_) server_->stop();
  server_ = std::make_unique<Process>(
      std::vector<std::string>{AAJ_BINARY, "serve", "--config", config().string()},
      dir_ / "serve-restarted");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    client::ApiClient probe(url(), ca());
    auto h = probe.get("/healthz");
    if (h && (h->status == 200 || h->status == 503)) return;
    if (!server_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("server did not restart: " + slurp(dir_ / "serve-restarted.err"));
}

const nlohmann::json& Installation::user(const std::string& user_type,
                                         const std::string& status) const {
  for (const auto& u : users_)
    if (u["user_type"] == user_type && u["status"] == status) return u;
  throw std::runtime_error("no demo user " + user_type + "/" + status);
}

const nlohmann::json& Installation::staff(const std::string& role) const {
  for (const auto& s : installation_["staff"])
    if (s["role"] == role) return s;
  throw std::runtime_error("no demo staff " + role);
}

std::shared_ptr<client::Signer> Installation::auth_key(const nlohmann::json& u) const {
  auto s = client::Signer::from_pkcs12(u["auth_key_store"].get<std::string>(),
                                       u["password"].get<std::string>());
  if (!s) throw std::runtime_error("auth key store: " + s.error().detail);
  return *s;
}

std::shared_ptr<client::Signer> Installation::sign_key(const nlohmann::json& u) const {
  auto s = client::Signer::from_pkcs12(u["key_store"].get<std::string>(),
                                       u["password"].get<std::string>());
  if (!s) throw std::runtime_error("sign key store: " + s.error().detail);
  return *s;
}

std::string Installation::enter(client::ApiClient& api, const nlohmann::json& u) const {
  auto t = client::enter_fully(api, *auth_key(u), *sign_key(u), sms_code_for(u["phone"]));
  if (!t) throw std::runtime_error("entry failed: " + t.error().code + " " + t.error().detail);
  return *t;
}

client::CodeSource Installation::sms_code_for(const std::string& phone) const {
  int64_t since = time::to_micros(time::now());
  fs::path outbox = dir_ / "data/sms-outbox";
  return [outbox, phone, since]() -> Result<std::string> {
    for (int i = 0; i < 50; ++i) {
      auto c = client::read_outbox_code(outbox, phone, since);
      if (c) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Error{"no_code", "no SMS code for " + phone};
  };
}

void Installation::set_source_mode(const std::string& resource, const std::string& mode,
                                   int delay_ms) {
  client::ApiClient sim(sim_url(), "");
  auto r = sim.post(
      "/control",
      nlohmann::json{{"resource", resource}, {"mode", mode}, {"delay_ms", delay_ms}}.dump());
  if (!r || r->status != 200) throw std::runtime_error("simulator control failed");
}

void Installation::add_cases(const nlohmann::json& cases) {
  client::ApiClient sim(sim_url(), "");
  auto r = sim.post("/control/cases", nlohmann::json{{"cases", cases}}.dump());
  if (!r || r->status != 200) throw std::runtime_error("simulator case control failed");
}

nlohmann::json Installation::source_answer(const std::string& resource, const nlohmann::json& key) {
  client::ApiClient sim(sim_url(), "");
  auto r = sim.post("/query", nlohmann::json{{"resource", resource}, {"key", key}}.dump());
  if (!r || r->status != 200) throw std::runtime_error("simulator query failed");
  return r->body["data"];
}

}  // namespace aaj::testing
