#include "witness/server.h"

#include <spdlog/spdlog.h>

#include "core/json_limits.h"
#include "core/messages.h"

namespace aaj::witness {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

http::Response answer(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.body = dump(body);
  return r;
}

json error_json(const std::string& code, const std::string& detail) {
  json e = {{"code", code}, {"message", messages::localized(code)}};
  if (!detail.empty()) e["detail"] = detail;
  return json{{"error", std::move(e)}};
}

http::Response error_answer(int status, const std::string& code, const std::string& detail = "") {
  return answer(status, error_json(code, detail));
}

http::Response checkpoint(Witness& w, const http::Request& req) {
  json body;
  if (json_limits::too_deep(req.body))
    return error_answer(400, "malformed", "the body nests deeper than allowed");
  body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return error_answer(400, "malformed", "the body is not JSON");
  json latest;
  auto r = w.submit(body, &latest);
  if (r) {
    spdlog::info("{}", dump({{"event", "cosigned"},
                             {"size", latest["size"]},
                             {"root", latest["root"]},
                             {"remote", req.remote}}));
    return answer(200, *r);
  }
  const Error& e = r.error();
  const int status = http_status(e.code);
  spdlog::info("{}", dump({{"event", "refused"},
                           {"code", e.code},
                           {"detail", e.detail},
                           {"status", status},
                           {"remote", req.remote}}));
  json out = error_json(e.code, e.detail);
  if (status == 409) out["latest"] = latest;
  return answer(status, out);
}

}  // namespace

std::string error_body(const std::string& code, const std::string& detail) {
  return dump(error_json(code, detail));
}

http::Response handle(Witness& w, const http::Request& req) {
  if (req.path == "/v1/checkpoint") {
    if (req.method != "POST") return error_answer(405, "method_not_allowed");
    return checkpoint(w, req);
  }
  if (req.path == "/v1/latest") {
    if (req.method != "GET") return error_answer(405, "method_not_allowed");
    auto l = w.latest();
    if (!l) return error_answer(404, "no_checkpoint", "nothing co-signed yet");
    return answer(200, *l);
  }
  if (req.path == "/healthz") {
    if (req.method != "GET") return error_answer(405, "method_not_allowed");
    auto l = w.latest();
    return answer(200, {{"status", "ok"},
                        {"witness", w.config().name},
                        {"log", w.config().log_id},
                        {"size", l ? (*l)["size"] : json(0)}});
  }
  return error_answer(404, "not_found");
}

Result<std::unique_ptr<http::Server>> start_server(std::shared_ptr<Witness> w,
                                                   http::ServerOptions opts) {
  if (!w) return Error{"config", "no witness"};
  opts.error_body = [](const std::string& code) { return error_body(code); };
  return http::Server::start(std::move(opts),
                             [w](const http::Request& r) { return handle(*w, r); });
}

}  // namespace aaj::witness
