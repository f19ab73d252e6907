// The `aaj witness` configuration file (TOML, flat):
//
//   name = "prosecutor-general"            # the witness's name, returned with co-signatures
//   listen = "127.0.0.1:8600"              # HOST:PORT of the HTTPS front
//   tls_cert = "tls/server.pem"            # the witness's own server certificate (chain, PEM)
//   tls_key = "tls/server.key"             # its key (PEM)
//   log_id = "aaj:<operator BIN>:<installation>"
//   operator_bin = "123456789012"          # the BIN the system's signing certificate carries
//   trust = ["ca/nca_rsa.pem"]             # CA certificates of the system's signing key
//   crl_dir = "crl"                        # optional; absent: revocation is NOT checked
//   crl_reload_seconds = 60                # optional
//   key_store = "keys/witness.p12"         # the witness's signing key (PKCS#12)
//   key_store_password_file = "keys/witness.pass"   # the password, one line (0600)
//   state_dir = "state"                    # latest.json, refused.log
//
// Relative paths are resolved against the configuration file's folder. A key of the wrong type,
// and a key this file does not know (a misspelt "crl-dir" would otherwise silently turn
// revocation checking off), are errors naming the key.
#pragma once
#include <filesystem>
#include <string>

#include "core/result.h"
#include "witness/witness.h"

namespace aaj::witness {

struct ServiceConfig {
  std::filesystem::path file;  // the configuration file, absolute
  Config witness;              // key_store_password read from key_store_password_file
  std::string listen;          // "HOST:PORT", not yet parsed
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::filesystem::path key_store_password_file;
};

// Reads and checks the file; reads the password file (its trailing line break is not part of
// the password). Does not open the key store or the state (Witness::open does). Errors:
// "config" (unparsable TOML, wrong type, unknown or missing key; the detail names the key),
// "unreadable" (the password file).
Result<ServiceConfig> load_config(const std::filesystem::path& file);

}  // namespace aaj::witness
