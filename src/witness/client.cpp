#include "witness/client.h"

#include "witness/internal.h"

namespace aaj::witness {
namespace {

using internal::string_member;
using nlohmann::json;

Error unavailable(const std::string& detail) {
  return Error{"witness_unavailable", detail};
}

// The witness's error answer as an Error, or witness_unavailable when it is not one.
Error witness_error(const http::ClientResponse& r, const json& body) {
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& e = body["error"];
    const std::string* code = string_member(e, "code");
    if (code && !code->empty()) {
      const std::string* detail = string_member(e, "detail");
      std::string d = detail ? *detail : "";
      if (body.contains("latest") && body["latest"].is_object()) {
        const json& l = body["latest"];
        d += (d.empty() ? "" : " ") + std::string("(the witness holds size ") +
             (l.contains("size") ? l["size"].dump() : "?") + ", root " +
             (l.contains("root") ? l["root"].dump() : "?") + ")";
      }
      return Error{*code, d};
    }
  }
  return unavailable("HTTP " + std::to_string(r.status) + " without an error object");
}

}  // namespace

Result<std::shared_ptr<WitnessClient>> WitnessClient::create(std::shared_ptr<http::Runtime> rt,
                                                             ClientOptions opts) {
  http::ClientOptions o;
  o.url = opts.url;
  o.ca_file = opts.ca_file;
  o.connect_timeout = opts.connect_timeout;
  o.timeout = opts.timeout;
  o.max_response_bytes = 4u << 20;  // a head, two signatures and a certificate chain or two
  auto c = http::Client::create(std::move(rt), std::move(o));
  if (!c) return c.error();
  return std::shared_ptr<WitnessClient>(new WitnessClient(std::move(*c)));
}

void WitnessClient::submit(const json& signed_head, int64_t previous_size,
                           const std::vector<std::string>& consistency_hex, SubmitDone done) const {
  json body = {{"checkpoint", signed_head},
               {"previous_size", previous_size},
               {"consistency", consistency_hex}};
  http_->post("/v1/checkpoint", body.dump(-1, ' ', false, json::error_handler_t::replace),
              "application/json", [done = std::move(done)](Result<http::ClientResponse> r) {
                if (!r) {
                  done(unavailable(r.error().code + ": " + r.error().detail));
                  return;
                }
                json j = json::parse(r->body, nullptr, false);
                if (r->status != 200) {
                  done(witness_error(*r, j));
                  return;
                }
                const std::string* w = j.is_object() ? string_member(j, "witness") : nullptr;
                const std::string* c = j.is_object() ? string_member(j, "cosignature") : nullptr;
                if (!w || !c || c->empty()) {
                  done(unavailable("the witness's answer is not {\"witness\",\"cosignature\"}"));
                  return;
                }
                done(Cosignature{*w, *c});
              });
}

void WitnessClient::latest(LatestDone done) const {
  http_->get("/v1/latest", [done = std::move(done)](Result<http::ClientResponse> r) {
    if (!r) {
      done(unavailable(r.error().code + ": " + r.error().detail));
      return;
    }
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 200) {
      Error e = witness_error(*r, j);
      if (r->status == 404 && e.code == "no_checkpoint")
        done(std::optional<Checkpoint>());
      else
        done(std::move(e));
      return;
    }
    Checkpoint c;
    const std::string *root = nullptr, *sig = nullptr, *cosig = nullptr;
    if (j.is_object()) {
      root = string_member(j, "root");
      sig = string_member(j, "signature");
      cosig = string_member(j, "cosignature");
    }
    if (!root || !sig || !cosig || !j.contains("size") || !j["size"].is_number_integer() ||
        !j.contains("head") || !j["head"].is_object()) {
      done(
          unavailable("the witness's latest is not {\"size\",\"root\",\"head\",\"signature\","
                      "\"cosignature\"}"));
      return;
    }
    c.size = j["size"].get<int64_t>();
    c.root = *root;
    c.head = j["head"];
    c.signature = *sig;
    c.cosignature = *cosig;
    if (const std::string* w = string_member(j, "witness")) c.witness = *w;
    done(std::optional<Checkpoint>(std::move(c)));
  });
}

}  // namespace aaj::witness
