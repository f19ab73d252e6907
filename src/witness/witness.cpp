#include "witness/witness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/ids.h"
#include "journal/codec.h"
#include "pki/openssl_util.h"
#include "witness/internal.h"

namespace aaj::witness {
namespace {

namespace fs = std::filesystem;
namespace merkle = journal::merkle;
using internal::string_member;
using nlohmann::json;

// A consistency proof has at most about 2*log2(n) hashes; n <= 2^62 keeps it well below this.
constexpr size_t kMaxProofHashes = 128;

Error malformed(std::string detail) {
  return Error{"malformed", std::move(detail)};
}

// Whether obj[key] is 64 lowercase hex characters (the canonical form of a hash).
bool is_lower_hex64(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// An integer member (signed or unsigned JSON integer that fits int64_t), or nullopt.
std::optional<int64_t> int_member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) {
    auto u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return it->get<int64_t>();
}

// Canonical JSON has integers only: a float has no single canonical rendering.
bool has_float(const json& v) {
  if (v.is_number_float()) return true;
  if (v.is_structured())
    for (const auto& e : v)
      if (has_float(e)) return true;
  return false;
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Makes a rename or file creation in `dir` durable.
bool fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

struct Offer {
  HeadSummary head;
  int64_t previous_size = 0;
  std::vector<merkle::Hash> proof;
};

// The shape of a §6 request body (the signature is checked separately).
Result<Offer> parse_request(const json& req) {
  if (!req.is_object()) return malformed("the body must be a JSON object");
  auto cp = req.find("checkpoint");
  if (cp == req.end() || !cp->is_object())
    return malformed("\"checkpoint\" must be an object {\"head\", \"signature\"}");
  auto head = cp->find("head");
  if (head == cp->end() || !head->is_object())
    return malformed("\"checkpoint.head\" must be an object");
  auto sig = cp->find("signature");
  if (sig == cp->end() || !sig->is_string() || sig->get_ref<const std::string&>().empty())
    return malformed("\"checkpoint.signature\" must be a base64 CMS string");
  Offer o;
  auto h = parse_head(*head);
  if (!h) return h.error();
  o.head = std::move(*h);
  auto m = int_member(req, "previous_size");
  if (!m || *m < 0 || *m > merkle::kMaxRecords)
    return malformed("\"previous_size\" must be an integer from 0");
  o.previous_size = *m;
  auto c = req.find("consistency");
  if (c == req.end() || !c->is_array())
    return malformed("\"consistency\" must be an array of hex hashes (empty when there is none)");
  if (c->size() > kMaxProofHashes)
    return malformed("\"consistency\" has " + std::to_string(c->size()) + " hashes (at most " +
                     std::to_string(kMaxProofHashes) + ")");
  for (size_t i = 0; i < c->size(); ++i) {
    const json& e = (*c)[i];
    std::optional<merkle::Hash> hash;
    if (e.is_string()) hash = merkle::from_hex(e.get_ref<const std::string&>());
    if (!hash)
      return malformed("\"consistency[" + std::to_string(i) + "]\" is not 64 hex characters");
    o.proof.push_back(*hash);
  }
  return o;
}

Result<pki::CertInfo> verify_detached_b64(const json& head, std::string_view b64,
                                          const pki::CmsVerifier& verifier,
                                          std::string_view expected_bin, time::Instant at,
                                          std::string_view whose) {
  auto der = pki::base64_decode(b64);
  if (!der) return malformed(std::string(whose) + " is not base64");
  pki::VerifyResult r =
      verifier.verify_detached(*der, canonical_head(head), {at, pki::Usage::Signing, true});
  if (!r.valid)
    return Error{"bad_signature", r.reason + ": " + std::string(whose) + ": " + r.detail};
  if (!expected_bin.empty() && r.signer.bin != expected_bin)
    return Error{"bad_signature", "wrong_bin: " + std::string(whose) + " is by BIN \"" +
                                      r.signer.bin + "\" (" + r.signer.common_name +
                                      "), expected " + std::string(expected_bin)};
  return r.signer;
}

}  // namespace

// ---- Pure helpers ----

std::string canonical_head(const json& head) {
  return head.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<HeadSummary> parse_head(const json& head) {
  if (!head.is_object()) return malformed("the head must be an object");
  if (has_float(head)) return malformed("the head holds a non-integer number");
  for (const char* k : {"at", "at_astana"}) {
    const std::string* t = string_member(head, k);
    if (!t || !time::parse_iso8601(*t))
      return malformed("head." + std::string(k) + " must be an ISO 8601 time");
  }
  HeadSummary h;
  auto size = int_member(head, "size");
  if (!size || *size < 1 || *size > merkle::kMaxRecords)
    return malformed("head.size must be an integer from 1");
  h.size = *size;
  if (!is_lower_hex64(head, "root"))
    return malformed("head.root must be 64 lowercase hex characters");
  h.root_hex = *string_member(head, "root");
  h.root = *merkle::from_hex(h.root_hex);
  const std::string* log = string_member(head, "log");
  if (!log || log->empty()) return malformed("head.log must be a non-empty string");
  h.log = *log;
  auto b = head.find("batch");
  if (b == head.end() || !b->is_object()) return malformed("head.batch must be an object");
  auto first = int_member(*b, "first_seq");
  auto last = int_member(*b, "last_seq");
  if (!first || !last || *first < 1 || *first > *last || *last != h.size)
    return malformed("head.batch must have 1 <= first_seq <= last_seq == size");
  if (!is_lower_hex64(*b, "root"))
    return malformed("head.batch.root must be 64 lowercase hex characters");
  return h;
}

Result<pki::CertInfo> verify_signed_head(const json& signed_head, const pki::CmsVerifier& verifier,
                                         std::string_view expected_bin, time::Instant at) {
  if (!signed_head.is_object()) return malformed("a signed head must be an object");
  auto head = signed_head.find("head");
  auto sig = signed_head.find("signature");
  if (head == signed_head.end() || !head->is_object() || sig == signed_head.end() ||
      !sig->is_string())
    return malformed("a signed head is {\"head\": {…}, \"signature\": \"<base64 CMS>\"}");
  // An empty expected BIN would accept any signer without a BIN: refuse instead.
  if (expected_bin.empty()) return Error{"bad_signature", "no operator BIN to check against"};
  return verify_detached_b64(*head, sig->get_ref<const std::string&>(), verifier, expected_bin, at,
                             "the head's signature");
}

Result<pki::CertInfo> verify_cosignature(const json& head, std::string_view cosignature_b64,
                                         const pki::CmsVerifier& verifier,
                                         std::string_view expected_bin, time::Instant at) {
  return verify_detached_b64(head, cosignature_b64, verifier, expected_bin, at, "the co-signature");
}

int http_status(std::string_view code) {
  if (code == "malformed") return 400;
  if (code == "bad_signature" || code == "unknown_log") return 403;
  if (code == "stale" || code == "wrong_previous_size" || code == "inconsistent") return 409;
  if (code == "witness_storage_failed") return 503;
  return 500;
}

const std::vector<std::string>& error_codes() {
  static const std::vector<std::string> codes = {
      // submit()
      "malformed", "bad_signature", "unknown_log", "stale", "wrong_previous_size", "inconsistent",
      "witness_storage_failed", "internal_error",
      // the HTTP front (server.cpp) and the HTTP server itself
      "no_checkpoint", "not_found", "method_not_allowed", "payload_too_large", "malformed_request",
      // the client (client.h)
      "witness_unavailable"};
  return codes;
}

// ---- Witness ----

Result<std::unique_ptr<Witness>> Witness::open(Config cfg) {
  if (cfg.name.empty()) return Error{"config", "the witness needs a name"};
  if (cfg.log_id.empty()) return Error{"config", "log_id is required"};
  if (!ids::is_twelve_digits(cfg.operator_bin))
    return Error{"config", "operator_bin must be 12 digits, got \"" + cfg.operator_bin + "\""};
  if (cfg.state_dir.empty()) return Error{"config", "state_dir is required"};
  if (cfg.key_store.empty()) return Error{"config", "key_store is required"};
  if (cfg.crl_reload_seconds <= 0) return Error{"config", "crl_reload_seconds must be positive"};
  if (Status s = time::load_astana_zone(); !s) return Error{"time_zone", s.error().detail};

  std::unique_ptr<Witness> w(new Witness(std::move(cfg)));
  const Config& c = w->cfg_;
  auto trust = pki::TrustStore::load(c.trust);
  if (!trust) return trust.error();
  w->trust_ = *trust;
  if (!c.crl_dir.empty()) {
    auto crls = pki::CrlStore::open(c.crl_dir, w->trust_);
    if (!crls) return crls.error();
    w->crls_ = *crls;
    w->crls_->start_watching(std::chrono::seconds(c.crl_reload_seconds));
  }
  w->verifier_.emplace(w->trust_, w->crls_);

  auto ks = pki::load_pkcs12(c.key_store, c.key_store_password);
  if (!ks) return ks.error();
  w->key_ = std::move(*ks);
  for (const auto& x : w->key_.chain) w->chain_.push_back(x.get());
  auto info = pki::describe(w->key_.cert.get());
  if (!info) return info.error();
  if (X509_check_private_key(w->key_.cert.get(), w->key_.key.get()) != 1) {
    pki::clear_openssl_errors();
    return Error{"config", c.key_store.string() + ": the key does not match the certificate"};
  }
  if (std::string why = pki::key_usage_problem(*info, pki::Usage::Signing); !why.empty())
    return Error{"config",
                 c.key_store.string() + ": co-signatures need a signing certificate: " + why};
  const auto now = time::now();
  if (now < info->not_before || now > info->not_after)
    return Error{"config", c.key_store.string() + ": the witness certificate is valid only " +
                               time::format_utc(info->not_before) + " … " +
                               time::format_utc(info->not_after)};

  std::error_code ec;
  fs::create_directories(c.state_dir, ec);
  if (ec) return Error{"state_unavailable", c.state_dir.string() + ": " + ec.message()};
  const fs::path lock = c.state_dir / "lock";
  w->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->lock_fd_ < 0) return Error{"state_unavailable", errno_text(lock.string())};
  if (::flock(w->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return Error{"state_locked", c.state_dir.string() + " is in use by another witness"};
    return Error{"state_unavailable", errno_text("flock " + lock.string())};
  }
  if (Status s = w->load_state(); !s) return s.error();
  const fs::path refused = c.state_dir / "refused.log";
  w->refused_fd_ = ::open(refused.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (w->refused_fd_ < 0) return Error{"state_unavailable", errno_text(refused.string())};
  // The file's creation must survive a crash like its lines do.
  if (!fsync_dir(c.state_dir))
    return Error{"state_unavailable", errno_text("fsync " + c.state_dir.string())};
  return w;
}

Witness::~Witness() {
  if (refused_fd_ >= 0) ::close(refused_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status Witness::load_state() {
  const fs::path p = cfg_.state_dir / "latest.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) {
    if (ec) return Error{"state_unavailable", p.string() + ": " + ec.message()};
    return {};  // nothing co-signed yet
  }
  auto text = pki::read_file(p);
  if (!text) return Error{"state_unavailable", text.error().detail};
  // Never start from zero over a state we cannot read: that would co-sign any rewrite.
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("head") || !j["head"].is_object() ||
      !j.contains("signature") || !j["signature"].is_string() || !j.contains("cosignature") ||
      !j["cosignature"].is_string())
    return Error{"state_corrupt",
                 p.string() + " is not {\"head\",\"signature\",\"cosignature\",\"witness\"}"};
  auto h = parse_head(j["head"]);
  if (!h) return Error{"state_corrupt", p.string() + ": " + h.error().detail};
  if (h->log != cfg_.log_id)
    return Error{"state_mismatch",
                 p.string() + " holds log \"" + h->log + "\", configured \"" + cfg_.log_id + "\""};
  held_ = Held{std::move(*h), j["head"], j["signature"].get<std::string>(),
               j["cosignature"].get<std::string>()};
  return {};
}

Status Witness::store_state(const json& state) {
  const fs::path final_path = cfg_.state_dir / "latest.json";
  const fs::path tmp = cfg_.state_dir / ".latest.json.tmp";
  const std::string data = state.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"witness_storage_failed", errno_text(tmp.string())};
  std::string why;
  if (Status w = journal::codec::write_all(fd, data); !w)
    why = "writing " + tmp.string() + ": " + w.error().detail;
  else if (::fsync(fd) != 0)
    why = errno_text("fsync " + tmp.string());
  bool ok = why.empty();
  if (::close(fd) != 0 && ok) {
    ok = false;
    why = errno_text("closing " + tmp.string());
  }
  if (!ok) return Error{"witness_storage_failed", why};
  if (::rename(tmp.c_str(), final_path.c_str()) != 0)
    return Error{"witness_storage_failed", errno_text("renaming to " + final_path.string())};
  if (!fsync_dir(cfg_.state_dir))
    return Error{"witness_storage_failed", errno_text("fsync " + cfg_.state_dir.string())};
  return {};
}

Result<bool> Witness::record_refusal(const Error& why, const json& request) {
  // Signed heads are public (GET /v1/latest) and only the head is signed: the same head with
  // any previous_size and proof can be replayed at will. Bound the lines per (code, head).
  std::string key =
      why.code + "\n" + pki::sha256_hex(canonical_head(request["checkpoint"]["head"]));
  int& lines = refusal_lines_[std::move(key)];
  if (lines >= kMaxRefusalLines) return false;
  const auto now = time::now();
  json held = nullptr;
  if (held_) held = {{"head", held_->head}, {"signature", held_->signature}};
  json line = {{"at", time::format_utc(now)},
               {"at_astana", time::format_astana(now)},
               {"reason", {{"code", why.code}, {"detail", why.detail}}},
               {"checkpoint", request["checkpoint"]},
               {"previous_size", request["previous_size"]},
               {"consistency", request["consistency"]},
               {"held", std::move(held)}};
  const std::string data = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  // O_APPEND and one write per line: a crash can leave at most a partial last line.
  if (Status w = journal::codec::write_all(refused_fd_, data); !w)
    return Error{"witness_storage_failed", "refused.log: " + w.error().detail};
  if (::fdatasync(refused_fd_) != 0)
    return Error{"witness_storage_failed", errno_text("refused.log")};
  ++lines;
  return true;
}

json Witness::latest_tree_locked() const {
  if (!held_) return {{"size", 0}, {"root", merkle::to_hex(merkle::empty_root())}};
  return {{"size", held_->summary.size}, {"root", held_->summary.root_hex}};
}

Result<json> Witness::submit(const json& request, json* latest) {
  // The parts that do not depend on the state run outside the lock: a CMS verification is the
  // costly part, and refusing garbage must not wait for another submission's fsync.
  Result<Offer> offer = parse_request(request);
  Result<pki::CertInfo> signer = Error{};
  if (offer)
    signer = verify_signed_head(request["checkpoint"], *verifier_, cfg_.operator_bin, time::now());

  std::lock_guard<std::mutex> l(mu_);
  if (latest) *latest = latest_tree_locked();
  if (!offer) return offer.error();
  if (!signer) return signer.error();
  if (broken_)
    return Error{"witness_storage_failed",
                 "an earlier state write failed (" + broken_detail_ + "); restart the witness"};

  auto refuse = [&](Error e) -> Error {
    Result<bool> written = record_refusal(e, request);
    if (!written) {
      spdlog::error("{}", json{{"event", "witness_refusal_not_recorded"},
                               {"code", e.code},
                               {"detail", written.error().detail}}
                              .dump(-1, ' ', false, json::error_handler_t::replace));
      e.detail += " (not recorded in refused.log: " + written.error().detail + ")";
    } else if (!*written) {
      e.detail += " (not recorded in refused.log again: this head was refused for this reason " +
                  std::to_string(kMaxRefusalLines) + " times already)";
    }
    return e;
  };
  const HeadSummary& h = offer->head;
  if (h.log != cfg_.log_id)
    return refuse({"unknown_log", "head.log \"" + h.log + "\" is not \"" + cfg_.log_id + "\""});
  const int64_t m = held_ ? held_->summary.size : 0;
  if (h.size < m)
    return refuse({"stale", "head size " + std::to_string(h.size) +
                                " is below the last co-signed size " + std::to_string(m)});
  if (offer->previous_size != m)
    return refuse({"wrong_previous_size", "previous_size " + std::to_string(offer->previous_size) +
                                              ", the last co-signed size is " + std::to_string(m)});
  if (m == 0) {
    if (!offer->proof.empty())
      return refuse({"inconsistent", "nothing co-signed yet: the consistency proof must be empty"});
  } else if (Status s = merkle::check_tree(offer->proof, h.size, h.root, m, held_->summary.root);
             !s) {
    return refuse({"inconsistent", "the head (size " + std::to_string(h.size) + ", root " +
                                       h.root_hex + ") does not extend the co-signed tree (size " +
                                       std::to_string(m) + ", root " + held_->summary.root_hex +
                                       "): " + s.error().detail});
  }

  const json& head = request["checkpoint"]["head"];
  auto cms = pki::sign_cms(canonical_head(head), key_.cert.get(), key_.key.get(), chain_,
                           /*attach=*/false);
  if (!cms) return Error{"internal_error", "co-signing failed: " + cms.error().detail};
  std::string cosignature = pki::base64_encode(*cms);
  const std::string& signature = request["checkpoint"]["signature"].get_ref<const std::string&>();
  json state = {{"head", head},
                {"signature", signature},
                {"cosignature", cosignature},
                {"witness", cfg_.name}};
  // Durable before anyone sees the co-signature: after a crash the witness must never accept a
  // head that contradicts one it has co-signed.
  if (Status s = store_state(state); !s) {
    broken_ = true;
    broken_detail_ = s.error().detail;
    return s.error();
  }
  held_ = Held{h, head, signature, cosignature};
  if (latest) *latest = latest_tree_locked();
  return json{{"witness", cfg_.name}, {"cosignature", std::move(cosignature)}};
}

std::optional<json> Witness::latest() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!held_) return std::nullopt;
  return json{
      {"size", held_->summary.size},   {"root", held_->summary.root_hex},   {"head", held_->head},
      {"signature", held_->signature}, {"cosignature", held_->cosignature}, {"witness", cfg_.name}};
}

}  // namespace aaj::witness
