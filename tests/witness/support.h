// Shared by the witness's unit and integration tests: a test PKI (the system's CA and
// certificates, the witness's CA, key and TLS certificate), an in-memory log whose heads are
// signed as docs/journal-format.md §3 says, and §6 request bodies.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "journal/merkle.h"
#include "pki/issue.h"
#include "pki/trust.h"

namespace aaj::witness::test {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr const char* kOperatorBin = "100140011059";
inline constexpr const char* kOtherBin = "200240022068";
inline constexpr const char* kProsecutorBin = "300340033077";
inline constexpr const char* kLogId = "aaj:100140011059:test";
inline constexpr const char* kPassword = "witness-password";

struct Holder {
  pki::Issued issued;
  pki::KeyPair key;
  X509* cert() const { return issued.cert.get(); }
};

// Created once per process (RSA CA keys are slow to make).
struct Keys {
  pki::Authority system_ca;   // issues the operator's certificates: the witness's trust anchor
  pki::Authority other_ca;    // not trusted by the witness
  pki::Authority witness_ca;  // issues the witness's key and TLS certificate
  Holder system_sign;         // organisation signing certificate with the operator's BIN
  Holder system_auth;         // organisation authentication certificate, same BIN
  Holder other_bin_sign;      // signing certificate of another organisation, same CA
  Holder untrusted_sign;      // operator's BIN, signing, from other_ca
  Holder witness_sign;        // the witness's signing key (prosecutor's office)
  Holder witness_auth;        // an authentication key: refused as the witness's key
  Holder tls;                 // TLS server certificate for 127.0.0.1 / localhost
};
const Keys& keys();

// Writes, into `dir`: system_ca.pem, witness_ca.pem, witness.p12 (kPassword), witness.pass
// (the password and a line break), witness_auth.p12, tls/server.pem (chain) and
// tls/server.key. Returns false (with a gtest failure) on an error.
bool write_files(const fs::path& dir);

// An append-only log in memory: record i (0-based) has the entry "record i", except from
// `fork_at` on, where it is "forged record i": the same history as the honest log up to fork_at.
class Log {
 public:
  explicit Log(int64_t fork_at = -1) : fork_at_(fork_at) {}
  void grow_to(int64_t n);
  int64_t size() const { return store_.records(); }
  journal::merkle::Hash root();
  // The §3 head of the current tree (a batch of the records since `batch_first`, 1-based; the
  // last record alone by default), for `log`.
  json head(const std::string& log = kLogId, int64_t batch_first = 0);
  // The RFC 9162 proof from size m to the current size, hex (empty for m == 0 or m == size).
  std::vector<std::string> proof_from(int64_t m);

 private:
  int64_t fork_at_;
  journal::merkle::MemoryHashStore store_;
};

// {"head": head, "signature": base64 detached CMS over the canonical head by `by`}.
json sign_head(const json& head, const Holder& by);

// The §6 body.
json request(const json& signed_head, int64_t previous_size,
             const std::vector<std::string>& consistency);

std::vector<json> read_json_lines(const fs::path& p);

}  // namespace aaj::witness::test
