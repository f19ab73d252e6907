#include "pki/crl.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/thread_name.h"
#include "pki/certificate.h"

namespace aaj::pki {

namespace fs = std::filesystem;
using nlohmann::json;

struct CrlStore::Held {
  struct Entry {
    time::Instant revoked_at;
    std::string reason;
  };
  std::string issuer_key;
  std::string issuer_name;
  std::string file;
  std::string sha256;
  std::string crl_number;  // hex magnitude, "" when absent
  time::Instant this_update{};
  time::Instant next_update{};
  std::string desc;  // "CRL of <issuer> (thisUpdate …, nextUpdate …)": made once, quoted per check
  std::unordered_map<std::string, Entry> revoked;  // by serial_to_hex()
};

struct CrlStore::State {
  std::map<std::string, std::shared_ptr<const Held>> by_issuer;  // by issuer_key()
};

struct CrlStore::Candidate {
  std::shared_ptr<const Held> held;
};

namespace {

// A CA clock a little ahead of ours is tolerated; a CRL "issued" further in the future would
// block every genuine newer CRL (they are compared by thisUpdate) until that time.
constexpr auto kFutureTolerance = std::chrono::hours(1);

// Identifies a CA by subject name and public key, so a re-issued CA certificate with the same
// key shares the CRL, while a re-keyed CA under the same name does not.
std::string issuer_key(X509* ca) {
  unsigned char* der = nullptr;
  int n = i2d_X509_NAME(X509_get_subject_name(ca), &der);
  std::string name_hash =
      n > 0 ? sha256_hex(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)))
            : "";
  OPENSSL_free(der);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(ca, EVP_sha256(), md, &len) != 1) return name_hash + ":";
  return name_hash + ":" + to_hex(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string reason_name(long code) {
  static const char* kNames[] = {"unspecified",        "keyCompromise", "cACompromise",
                                 "affiliationChanged", "superseded",    "cessationOfOperation",
                                 "certificateHold",    "reason7",       "removeFromCRL",
                                 "privilegeWithdrawn", "aACompromise"};
  if (code >= 0 && code <= 10) return kNames[code];
  return "reason" + std::to_string(code);
}

std::string strip_zeros(const std::string& hex) {
  size_t i = 0;
  while (i + 1 < hex.size() && hex[i] == '0') ++i;
  return hex.substr(i);
}

// Compares non-negative hex integers.
int compare_hex(const std::string& a, const std::string& b) {
  std::string x = strip_zeros(a), y = strip_zeros(b);
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
}

json reject(const std::string& file, const std::string& reason, const std::string& detail) {
  return {{"file", file}, {"reason", reason}, {"detail", detail}};
}

}  // namespace

std::string_view to_string(RevocationStatus::Kind k) {
  switch (k) {
    case RevocationStatus::Kind::Good:
      return "good";
    case RevocationStatus::Kind::Revoked:
      return "revoked";
    case RevocationStatus::Kind::Unknown:
      return "unknown";
  }
  return "unknown";
}

// The three ways to open a store differ only in where their CRLs come from (`source`).
template <class Source>
Result<std::shared_ptr<CrlStore>> CrlStore::create(std::shared_ptr<const TrustStore> trust,
                                                   Source&& source) {
  init_openssl();
  if (!trust) return Error{"internal_error", "CrlStore needs a trust store"};
  std::shared_ptr<CrlStore> s(new CrlStore(std::move(trust)));
  source(*s);
  s->state_.store(std::make_shared<const State>());
  s->reload();
  return s;
}

Result<std::shared_ptr<CrlStore>> CrlStore::open(const fs::path& folder,
                                                 std::shared_ptr<const TrustStore> trust) {
  std::error_code ec;
  if (trust && !fs::is_directory(folder, ec))
    return Error{"unreadable", folder.string() + ": not a readable directory"};
  return create(std::move(trust), [&](CrlStore& s) { s.folder_ = folder; });
}

Result<std::shared_ptr<CrlStore>> CrlStore::from_files(std::vector<fs::path> files,
                                                       std::shared_ptr<const TrustStore> trust) {
  return create(std::move(trust), [&](CrlStore& s) { s.files_ = std::move(files); });
}

Result<std::shared_ptr<CrlStore>> CrlStore::from_bytes(
    std::vector<std::pair<std::string, std::string>> crls,
    std::shared_ptr<const TrustStore> trust) {
  return create(std::move(trust), [&](CrlStore& s) { s.blobs_ = std::move(crls); });
}

CrlStore::~CrlStore() {
  {
    std::lock_guard<std::mutex> lk(watch_mu_);
    stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::vector<fs::path> CrlStore::list_files() const {
  if (!folder_) return files_;
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(*folder_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    // Dot-files are skipped: atomic writers (write_public_file, the demo) stage files there.
    if (it->path().filename().string().rfind('.', 0) == 0) continue;
    if (it->is_regular_file(ec2)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CrlStore::fingerprint() const {
  std::string fp;
  for (const auto& f : list_files()) {
    std::error_code ec;
    auto size = fs::file_size(f, ec);
    auto mtime = fs::last_write_time(f, ec);
    fp += f.string() + '|' +
          (ec ? std::string("missing")
              : std::to_string(size) + '|' + std::to_string(mtime.time_since_epoch().count())) +
          '\n';
  }
  return fp;
}

void CrlStore::parse_file(const fs::path& file, std::vector<Candidate>& out, json& rejected) const {
  auto data = read_file(file);
  if (!data.ok()) {
    rejected.push_back(reject(file.string(), "unreadable", data.error().detail));
    return;
  }
  parse_bytes(file.string(), *data, out, rejected);
}

void CrlStore::parse_bytes(const std::string& name, const std::string& data,
                           std::vector<Candidate>& out, json& rejected) const {
  if (data.empty()) {
    rejected.push_back(reject(name, "empty", "the file is empty"));
    return;
  }
  std::vector<X509CrlPtr> crls;
  if (data.find("-----BEGIN") != std::string::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    for (;;) {
      X509_CRL* c = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
      if (c == nullptr) break;
      crls.emplace_back(c);
    }
    unsigned long e = ERR_peek_last_error();
    bool clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    std::string why = last_openssl_error();
    if (crls.empty() || !clean_end) {
      rejected.push_back(reject(name, "corrupt", "not a PEM CRL: " + why));
      return;
    }
  } else {
    auto der = decode_der_or_base64(data);
    if (!der.ok()) {
      rejected.push_back(reject(name, "corrupt", "neither a DER nor a PEM CRL"));
      return;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    X509CrlPtr c(d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())));
    if (!c || p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
      rejected.push_back(reject(name, "corrupt", "not a DER CRL: " + last_openssl_error()));
      return;
    }
    crls.push_back(std::move(c));
  }

  for (size_t k = 0; k < crls.size(); ++k) {
    X509_CRL* crl = crls[k].get();
    const std::string label = crls.size() > 1 ? name + "#" + std::to_string(k + 1) : name;
    auto fail = [&](const std::string& reason, const std::string& detail) {
      rejected.push_back(reject(label, reason, detail));
      clear_openssl_errors();
    };
    auto held = std::make_shared<Held>();
    held->file = label;
    unsigned char* der = nullptr;
    int der_len = i2d_X509_CRL(crl, &der);
    if (der_len <= 0) {
      fail("corrupt", "cannot re-encode the CRL");
      continue;
    }
    held->sha256 = sha256_hex(std::string_view(reinterpret_cast<char*>(der), der_len));
    OPENSSL_free(der);

    const X509_NAME* issuer_name = X509_CRL_get_issuer(crl);
    held->issuer_name = name_to_string(issuer_name);

    const X509_ALGOR* alg = nullptr;
    X509_CRL_get0_signature(crl, nullptr, &alg);
    const ASN1_OBJECT* alg_oid = nullptr;
    if (alg != nullptr) X509_ALGOR_get0(&alg_oid, nullptr, nullptr, alg);
    std::string sig_oid = oid_text(alg_oid);

    // The issuer must be an anchor: signature first, then the CA's right to sign CRLs.
    X509* issuer = nullptr;
    bool named = false, undecodable = false;
    for (const auto& a : trust_->anchors()) {
      if (X509_NAME_cmp(X509_get_subject_name(a.get()), issuer_name) != 0) continue;
      named = true;
      EVP_PKEY* key = X509_get0_pubkey(a.get());
      if (key == nullptr) {
        undecodable = true;
        continue;
      }
      if (X509_CRL_verify(crl, key) == 1) {
        issuer = a.get();
        break;
      }
    }
    if (issuer == nullptr) {
      if (!named)
        fail("unknown_issuer", "no trust anchor named " + held->issuer_name);
      else if (is_gost_oid(sig_oid) || undecodable)
        fail("unsupported_algorithm",
             "signature algorithm " + sig_oid + " of " + held->issuer_name + " cannot be verified");
      else
        fail("bad_signature", "signature does not verify with the key of " + held->issuer_name);
      continue;
    }
    if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(issuer) & KU_CRL_SIGN)) {
      fail("not_crl_signer", held->issuer_name + " has no cRLSign key usage");
      continue;
    }
    held->issuer_key = issuer_key(issuer);

    std::string ext_problem, ext_reason;
    for (int i = 0; i < X509_CRL_get_ext_count(crl) && ext_reason.empty(); ++i) {
      X509_EXTENSION* ext = X509_CRL_get_ext(crl, i);
      int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
      if (nid == NID_delta_crl) {
        ext_reason = "delta_crl_unsupported";
        ext_problem = "delta CRLs are not used yet; only complete CRLs";
      } else if (nid == NID_issuing_distribution_point) {
        // A partitioned or indirect CRL covers only part of the CA's certificates, so absence
        // from it would not mean "not revoked".
        ext_reason = "partitioned_crl_unsupported";
        ext_problem = "CRL with an issuingDistributionPoint (partitioned/indirect)";
      } else if (X509_EXTENSION_get_critical(ext) && nid != NID_crl_number &&
                 nid != NID_authority_key_identifier) {
        ext_reason = "unsupported_critical_extension";
        ext_problem = "critical CRL extension " + oid_text(X509_EXTENSION_get_object(ext));
      }
    }
    if (!ext_reason.empty()) {
      fail(ext_reason, ext_problem);
      continue;
    }

    auto this_update = from_asn1_time(X509_CRL_get0_lastUpdate(crl));
    if (!this_update) {
      fail("corrupt", "unreadable thisUpdate");
      continue;
    }
    if (X509_CRL_get0_nextUpdate(crl) == nullptr) {
      fail("no_next_update", "a CRL without nextUpdate cannot be judged fresh");
      continue;
    }
    auto next_update = from_asn1_time(X509_CRL_get0_nextUpdate(crl));
    if (!next_update || *next_update < *this_update) {
      fail("corrupt", "unreadable nextUpdate, or nextUpdate before thisUpdate");
      continue;
    }
    if (*this_update > time::now() + kFutureTolerance) {
      fail("from_the_future", "thisUpdate " + time::format_utc(*this_update) + " is in the future");
      continue;
    }
    held->this_update = *this_update;
    held->next_update = *next_update;
    held->desc = "CRL of " + held->issuer_name + " (thisUpdate " +
                 time::format_utc(held->this_update) + ", nextUpdate " +
                 time::format_utc(held->next_update) + ")";
    if (auto* num = static_cast<ASN1_INTEGER*>(
            X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr))) {
      held->crl_number = serial_to_hex(num);
      ASN1_INTEGER_free(num);
    }

    STACK_OF(X509_REVOKED)* revs = X509_CRL_get_REVOKED(crl);
    std::string entry_problem, entry_reason;
    for (int i = 0; i < sk_X509_REVOKED_num(revs) && entry_reason.empty(); ++i) {
      X509_REVOKED* r = sk_X509_REVOKED_value(revs, i);
      for (int j = 0; j < X509_REVOKED_get_ext_count(r); ++j) {
        X509_EXTENSION* ext = X509_REVOKED_get_ext(r, j);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
        if (nid == NID_certificate_issuer) {
          entry_reason = "partitioned_crl_unsupported";
          entry_problem = "indirect CRL entry (certificateIssuer)";
        } else if (X509_EXTENSION_get_critical(ext) && nid != NID_crl_reason &&
                   nid != NID_invalidity_date) {
          entry_reason = "unsupported_critical_extension";
          entry_problem =
              "critical CRL entry extension " + oid_text(X509_EXTENSION_get_object(ext));
        }
      }
      auto when = from_asn1_time(X509_REVOKED_get0_revocationDate(r));
      if (!when) {
        entry_reason = "corrupt";
        entry_problem = "unreadable revocationDate";
        break;
      }
      std::string reason;
      if (auto* e = static_cast<ASN1_ENUMERATED*>(
              X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr))) {
        reason = reason_name(ASN1_ENUMERATED_get(e));
        ASN1_ENUMERATED_free(e);
      }
      // removeFromCRL belongs in delta CRLs only; in a complete CRL it revokes nothing.
      if (reason == "removeFromCRL") continue;
      std::string serial = serial_to_hex(X509_REVOKED_get0_serialNumber(r));
      auto [it, inserted] = held->revoked.try_emplace(serial, Held::Entry{*when, reason});
      if (!inserted && *when < it->second.revoked_at) it->second = Held::Entry{*when, reason};
    }
    if (!entry_reason.empty()) {
      fail(entry_reason, entry_problem);
      continue;
    }
    clear_openssl_errors();
    out.push_back(Candidate{std::move(held)});
  }
}

json CrlStore::reload() {
  std::lock_guard<std::mutex> lk(reload_mu_);
  std::string fp = fingerprint();  // before reading, so a change during the scan is seen later
  json report = {{"loaded", json::array()},
                 {"unchanged", json::array()},
                 {"rejected", json::array()},
                 {"held", json::array()}};
  std::vector<Candidate> candidates;
  for (const auto& f : list_files()) parse_file(f, candidates, report["rejected"]);
  for (const auto& [name, data] : blobs_) parse_bytes(name, data, candidates, report["rejected"]);

  std::shared_ptr<const State> old = state_.load();
  auto next = std::make_shared<State>(*old);
  std::map<std::string, std::vector<std::shared_ptr<const Held>>> groups;
  for (auto& c : candidates) groups[c.held->issuer_key].push_back(c.held);

  for (auto& [key, list] : groups) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      if (a->this_update != b->this_update) return a->this_update > b->this_update;
      int n = compare_hex(a->crl_number, b->crl_number);
      if (n != 0) return n > 0;
      return a->file < b->file;
    });
    auto found = old->by_issuer.find(key);
    std::shared_ptr<const Held> held = found == old->by_issuer.end() ? nullptr : found->second;
    std::shared_ptr<const Held> chosen = held;
    bool installed = false;
    for (const auto& c : list) {
      if (chosen && c->sha256 == chosen->sha256) {
        report["unchanged"].push_back({{"file", c->file}, {"issuer", c->issuer_name}});
        continue;
      }
      if (!installed && (!held || c->this_update > held->this_update)) {
        if (held && !held->crl_number.empty() && !c->crl_number.empty() &&
            compare_hex(c->crl_number, held->crl_number) < 0) {
          report["rejected"].push_back(
              reject(c->file, "crl_number_regressed",
                     "CRL number " + c->crl_number + " is below the held " + held->crl_number));
          continue;
        }
        chosen = c;
        installed = true;
        report["loaded"].push_back({{"file", c->file},
                                    {"issuer", c->issuer_name},
                                    {"this_update", time::format_utc(c->this_update)},
                                    {"next_update", time::format_utc(c->next_update)},
                                    {"entries", c->revoked.size()},
                                    {"crl_number", c->crl_number},
                                    {"sha256", c->sha256}});
        continue;
      }
      report["rejected"].push_back(reject(
          c->file, "not_newer",
          "thisUpdate " + time::format_utc(c->this_update) + " is not after " +
              time::format_utc(chosen->this_update) + " of the CRL held (" + chosen->file + ")"));
    }
    if (installed) next->by_issuer[key] = chosen;
  }
  for (const auto& [key, h] : next->by_issuer)
    report["held"].push_back({{"issuer", h->issuer_name},
                              {"file", h->file},
                              {"this_update", time::format_utc(h->this_update)},
                              {"next_update", time::format_utc(h->next_update)},
                              {"entries", h->revoked.size()}});
  state_.store(std::shared_ptr<const State>(std::move(next)));
  last_fingerprint_ = std::move(fp);
  last_report_ = report;
  ++reloads_;
  return report;
}

json CrlStore::last_report() const {
  std::lock_guard<std::mutex> lk(reload_mu_);
  return last_report_;
}

std::string CrlStore::issuer_key_of(X509* issuer) {
  return issuer ? issuer_key(issuer) : std::string();
}

RevocationStatus CrlStore::status(X509* cert, X509* issuer, time::Instant at) const {
  return status(cert, issuer, issuer ? issuer_key(issuer) : std::string(), at);
}

RevocationStatus CrlStore::status(X509* cert, X509* issuer, const std::string& key,
                                  time::Instant at) const {
  using Kind = RevocationStatus::Kind;
  RevocationStatus st;
  if (cert == nullptr || issuer == nullptr) {
    st.detail = "no certificate or issuer to check";
    return st;
  }
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
    st.detail = "the given issuer did not issue this certificate";
    return st;
  }
  std::shared_ptr<const State> snap = state_.load();
  auto found = snap->by_issuer.find(key);
  if (found == snap->by_issuer.end()) {
    st.detail = "no CRL held for issuer " + name_to_string(X509_get_subject_name(issuer));
    return st;
  }
  const Held& h = *found->second;
  const std::string& crl_desc = h.desc;
  if (h.next_update < at) {
    st.detail = "stale: the newest " + crl_desc + " had expired by " + time::format_utc(at);
    return st;
  }
  std::string serial = serial_to_hex(X509_get0_serialNumber(cert));
  auto entry = h.revoked.find(serial);
  if (entry != h.revoked.end()) {
    st.revoked_at = entry->second.revoked_at;
    st.crl_reason = entry->second.reason;
    std::string what =
        "serial " + serial + " revoked at " + time::format_utc(entry->second.revoked_at) +
        (st.crl_reason.empty() ? "" : " (" + st.crl_reason + ")") + " per " + crl_desc;
    if (entry->second.revoked_at <= at) {
      st.kind = Kind::Revoked;
      st.detail = what;
    } else {
      st.kind = Kind::Good;
      st.detail = "not revoked at " + time::format_utc(at) + "; " + what;
    }
    return st;
  }
  if (h.this_update > at) {
    auto not_after = from_asn1_time(X509_get0_notAfter(cert));
    if (!not_after || *not_after < h.this_update) {
      st.detail = "the held " + crl_desc +
                  " was issued after the certificate expired, and CAs drop entries of expired "
                  "certificates, so its silence proves nothing for " +
                  time::format_utc(at);
      return st;
    }
  }
  st.kind = Kind::Good;
  st.detail = "serial " + serial + " not listed in the " + crl_desc;
  return st;
}

void CrlStore::set_reload_listener(std::function<void(const json&)> listener) {
  std::lock_guard<std::mutex> lk(watch_mu_);
  listener_ = std::move(listener);
}

void CrlStore::start_watching(std::chrono::seconds period) {
  std::lock_guard<std::mutex> lk(watch_mu_);
  if (watcher_.joinable() || stop_) return;
  if (period < std::chrono::seconds(1)) period = std::chrono::seconds(1);
  watcher_ = std::thread([this, period] {
    name_this_thread("aaj-crl-watch");
    watch_loop(period);
  });
}

void CrlStore::watch_loop(std::chrono::seconds period) {
  std::unique_lock<std::mutex> lk(watch_mu_);
  while (!stop_) {
    if (watch_cv_.wait_for(lk, period, [this] { return stop_; })) break;
    auto listener = listener_;
    lk.unlock();
    try {
      std::string fp = fingerprint();
      bool changed;
      {
        std::lock_guard<std::mutex> g(reload_mu_);
        changed = fp != last_fingerprint_;
      }
      if (changed) {
        json report = reload();
        if (listener) listener(report);
      }
    } catch (...) {
      // Out of memory or a listener bug: keep the last good state and try again next period.
    }
    lk.lock();
  }
}

}  // namespace aaj::pki
