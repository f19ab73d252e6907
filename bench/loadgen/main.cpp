// aaj-loadgen: closed-loop HTTP/1.1 load from the command line; prints one JSON line with the
// LoadResult (see loadgen.h). Exit status: 0 on a completed run (even with transport errors, which
// are in the JSON), 2 on bad arguments or unreadable files, 1 when run_load refuses the spec.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "loadgen.h"

namespace {

struct Url {
  bool tls = true;
  std::string host;
  uint16_t port = 0;
  std::string path = "/";
};

// http[s]://host[:port][/path]; host may be [v6].
bool parse_url(const std::string& s, Url& u, std::string& err) {
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    u.tls = false;
    rest = s.substr(7);
  } else {
    err = "URL must start with http:// or https://";
    return false;
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      err = "unterminated [ in URL";
      return false;
    }
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        err = "bad URL authority";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) {
    err = "URL has no host";
    return false;
  }
  if (port.empty()) {
    u.port = u.tls ? 443 : 80;
  } else {
    try {
      size_t used = 0;
      int p = std::stoi(port, &used);
      if (used != port.size() || p < 1 || p > 65535) throw std::out_of_range("port");
      u.port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
      err = "bad port in URL";
      return false;
    }
  }
  return true;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<long long>(std::llround(s * 1000.0)));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aaj-loadgen: closed-loop HTTP/1.1 keep-alive load (TLS or plain); prints JSON"};
  std::string url, method = "POST", body_file, bodies_jsonl;
  std::vector<std::string> headers;
  bool once = false;
  int connections = 64, threads = 1;
  double duration = 5, warmup = 0, timeout = 10;
  size_t max_requests = 0;
  app.add_option("--url", url, "http[s]://host:port/path")->required();
  app.add_option("--method", method, "HTTP method")->capture_default_str();
  app.add_option("--header,-H", headers, "request header \"Name: value\" (repeatable)");
  auto* bf = app.add_option("--body-file", body_file, "one request body, read from a file");
  auto* bj = app.add_option("--bodies-jsonl", bodies_jsonl,
                            "request bodies, one per line (empty lines skipped); cycled");
  bf->excludes(bj);
  app.add_flag("--once", once, "send each body at most once (needs --bodies-jsonl/--body-file)");
  app.add_option("--connections,-c", connections, "connections")->capture_default_str();
  app.add_option("--threads,-t", threads, "I/O threads")->capture_default_str();
  app.add_option("--duration,-d", duration, "measured seconds (after warmup)")
      ->capture_default_str();
  app.add_option("--max-requests,-n", max_requests, "cap on requests sent, warmup included");
  app.add_option("--warmup", warmup, "warmup seconds (answers not counted)")->capture_default_str();
  app.add_option("--timeout", timeout, "seconds per connect/handshake/request")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  aaj::loadgen::LoadSpec spec;
  Url u;
  std::string err;
  if (!parse_url(url, u, err)) {
    std::cerr << "aaj-loadgen: " << err << "\n";
    return 2;
  }
  spec.host = u.host;
  spec.port = u.port;
  spec.tls = u.tls;
  spec.path = u.path;
  spec.method = method;
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "aaj-loadgen: header must be \"Name: value\": " << h << "\n";
      return 2;
    }
    std::string v = h.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    spec.headers.emplace_back(h.substr(0, colon), v);
  }
  std::vector<std::string> bodies;
  if (!body_file.empty()) {
    std::string b;
    if (!read_file(body_file, b)) {
      std::cerr << "aaj-loadgen: cannot read " << body_file << "\n";
      return 2;
    }
    bodies.push_back(std::move(b));
  } else if (!bodies_jsonl.empty()) {
    std::ifstream f(bodies_jsonl, std::ios::binary);
    if (!f) {
      std::cerr << "aaj-loadgen: cannot read " << bodies_jsonl << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) bodies.push_back(std::move(line));
    }
    if (bodies.empty()) {
      std::cerr << "aaj-loadgen: no bodies in " << bodies_jsonl << "\n";
      return 2;
    }
  }
  spec.bodies = &bodies;
  spec.once = once;
  spec.connections = connections;
  spec.threads = threads;
  spec.duration = seconds_to_ms(duration);
  spec.warmup = seconds_to_ms(warmup);
  spec.timeout = seconds_to_ms(timeout);
  if (max_requests > 0) spec.max_requests = max_requests;

  auto r = aaj::loadgen::run_load(spec);
  if (!r) {
    std::cerr << "aaj-loadgen: " << r.error().code << ": " << r.error().detail << "\n";
    return 1;
  }
  std::cout << aaj::loadgen::to_json(*r) << std::endl;
  return 0;
}
