#include "tools/sourcesim/service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "sources/sim/generator.h"
#include "tools/sourcesim/case_register.h"

namespace aaj::sourcesim {
namespace {

struct Fault {
  std::string mode = "normal";  // "normal" | "slow" | "fail" | "down" | "garbage"
  int delay_ms = 0;
};

class Faults {
 public:
  Fault get(const std::string& resource) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(resource);
    return it == m_.end() ? Fault{} : it->second;
  }
  void set(const std::string& resource, const Fault& f) {
    std::lock_guard<std::mutex> l(mu_);
    if (f.mode == "normal")
      m_.erase(resource);
    else
      m_[resource] = f;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Fault> m_;
};

http::Response json_response(int status, const nlohmann::json& j) {
  http::Response r;
  r.status = status;
  r.body = j.dump();
  return r;
}

std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The case register: POST /control/cases loads cases; a query of the pseudo-resource "CASES"
// with key {"case":{"type","number"}} looks one up (see case_register.h).
http::Response control_cases(CaseRegistry& cases, const nlohmann::json& body) {
  auto list = body.find("cases");
  auto replace = body.find("replace");
  Status s = cases.add(list != body.end() ? *list : nlohmann::json(nullptr),
                       replace != body.end() && replace->is_boolean() && replace->get<bool>());
  if (!s) return json_response(400, {{"result", "bad_request"}, {"message", s.error().detail}});
  return json_response(200, {{"result", "ok"}, {"count", cases.size()}});
}

http::Response query_case(const CaseRegistry& cases, const nlohmann::json& key) {
  auto ref = key.is_object() ? key.find("case") : key.end();
  if (!key.is_object() || key.size() != 1 || ref == key.end() || !ref->is_object())
    return json_response(400,
                         {{"result", "bad_key"}, {"message", "key is {\"case\":{type,number}}"}});
  std::string type = text(*ref, "type"), number = text(*ref, "number");
  if (type.empty() || number.empty())
    return json_response(400, {{"result", "bad_key"}, {"message", "case needs type and number"}});
  auto c = cases.find(type, number);
  if (c.is_null()) return json_response(404, {{"result", "not_found"}});
  return json_response(200, {{"result", "ok"}, {"data", c}});
}

// POST /query, its body already parsed into an object.
http::Response query(Faults& faults, const CaseRegistry& cases, const nlohmann::json& body) {
  std::string resource = text(body, "resource");
  Fault f = faults.get(resource);
  if (f.mode == "down") return json_response(503, {{"result", "down"}});
  if (f.mode == "fail") return json_response(500, {{"result", "internal_failure"}});
  // A well-formed HTTP answer with a body of the wrong shape (a broken or hostile source).
  if (f.mode == "garbage") return json_response(200, {{"result", 1}, {"data", {1, 2}}});
  if (f.mode == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(f.delay_ms));
  auto key = body.find("key");
  if (resource == "CASES") return query_case(cases, key != body.end() ? *key : nlohmann::json());
  auto r = sim::generate(resource, key != body.end() ? *key : nlohmann::json::object());
  if (r) return json_response(200, {{"result", "ok"}, {"data", *r}});
  const std::string& code = r.error().code;
  if (code == "not_found") return json_response(404, {{"result", "not_found"}});
  if (code == "bad_key" || code == "unsupported_key")
    return json_response(400, {{"result", "bad_key"}, {"message", r.error().detail}});
  return json_response(404, {{"result", code}, {"message", r.error().detail}});
}

// The body of a POST as a JSON object, or nullopt (answered 400 bad_request).
std::optional<nlohmann::json> object_body(const http::Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return std::nullopt;
  return body;
}

http::Response bad_request() {
  return json_response(400, {{"result", "bad_request"}});
}

// Every request but the /query ones the I/O thread answers (see start()).
http::Response handle(Faults& faults, CaseRegistry& cases, const http::Request& req) {
  if (req.path == "/healthz") return json_response(200, {{"status", "ok"}});
  if (req.method != "POST") return json_response(405, {{"result", "method_not_allowed"}});
  auto parsed = object_body(req);
  if (!parsed) return bad_request();
  const nlohmann::json& body = *parsed;
  if (req.path == "/control/cases") return control_cases(cases, body);
  if (req.path == "/control") {
    auto delay = body.find("delay_ms");
    Fault f{text(body, "mode"), delay != body.end() && delay->is_number_integer()
                                    ? std::clamp(delay->get<int>(), 0, 60000)  // a bounded test
                                    : 0};
    if (f.mode.empty()) f.mode = "normal";
    if (f.mode != "normal" && f.mode != "slow" && f.mode != "fail" && f.mode != "down" &&
        f.mode != "garbage")
      return json_response(400, {{"result", "bad_request"}, {"message", "unknown mode"}});
    faults.set(text(body, "resource"), f);
    return json_response(200, {{"result", "ok"}});
  }
  if (req.path != "/query") return json_response(404, {{"result", "no_such_endpoint"}});
  return query(faults, cases, body);
}

}  // namespace

Result<std::unique_ptr<http::Server>> start(const std::string& host, uint16_t port) {
  return start(host, port, {});
}

Result<std::unique_ptr<http::Server>> start(const std::string& host, uint16_t port,
                                            const std::filesystem::path& cases_file) {
  auto faults = std::make_shared<Faults>();
  auto cases = std::make_shared<CaseRegistry>();
  if (!cases_file.empty())
    if (Status s = cases->load(cases_file); !s) return s.error();
  http::ServerOptions o;
  o.host = host;
  o.port = port;
  o.tls = false;
  o.worker_threads = 64;  // "slow" sources sleep on a worker
  o.io_threads = 1;
  // Queries are answered on the I/O thread (generating a record is a few microseconds of CPU),
  // from the body parsed once there; except for a resource made slow, which sleeps on a worker
  // like a source that thinks (the blocking handler then parses the body itself: the server
  // hands it the request, not our parse — a test-only path that sleeps anyway).
  return http::Server::start(
      o, [faults, cases](const http::Request& r) { return handle(*faults, *cases, r); },
      [faults, cases](http::Request& r, const http::Responder& respond) {
        if (r.path != "/query" || r.method != "POST") return false;
        auto body = object_body(r);
        if (!body) {
          respond(bad_request());
          return true;
        }
        if (faults->get(text(*body, "resource")).mode == "slow") return false;
        respond(query(*faults, *cases, *body));
        return true;
      });
}

}  // namespace aaj::sourcesim
