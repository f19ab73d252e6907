// The `aaj log …` tools over a log directory or an exported archive, offline: verification with
// the system's signatures, inclusion and consistency proofs against signed heads, checking a
// proof file, exporting sealed segments to an archive folder, and checking an answer's seal.
// Each prints one JSON object on `out` and returns the exit code: 0 good, 1 refused or bad
// evidence (the JSON says why), 2 unusable input (missing files, bad arguments).
#pragma once
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "pki/cms.h"

namespace aaj::evidence {

// The anchors an offline check trusts: CA certificate files, and CRL files or a CRL folder
// (revocation is checked only when some are given).
struct Anchors {
  std::vector<std::filesystem::path> trust;
  std::vector<std::filesystem::path> crl_files;
  std::filesystem::path crl_dir;
};
// Errors: the TrustStore's and CrlStore's.
Result<std::shared_ptr<const pki::CmsVerifier>> make_verifier(const Anchors& anchors);

// verify() of the log or archive at `dir`, with every signature checked when `verifier` is set.
int log_verify(const std::filesystem::path& dir, const pki::CmsVerifier* verifier,
               std::ostream& out);

// {"kind":"inclusion","seq","record":"<the record's line>","size","root","proof":[…],
//  "signed_head":{"head","signature"}|null}: record `seq` in the tree of `size` records (default:
// the newest signed head's size, else all records). The signed head is the one of that size
// when heads.log has it.
int log_prove_inclusion(const std::filesystem::path& dir, uint64_t seq,
                        std::optional<uint64_t> size, std::ostream& out);

// {"kind":"consistency","from":{"size","root","signed_head"},"to":{…},"proof":[…]}.
int log_prove_consistency(const std::filesystem::path& dir, uint64_t from,
                          std::optional<uint64_t> to, std::ostream& out);

// Checks a proof file made by the two above: the record itself (check_record_line: canonical
// bytes, its hash, its seq; "bad_record"), the proof against the roots, and the signed heads'
// sizes, roots and signatures. The tree proved into (an inclusion's, a consistency proof's "to")
// must have a signed head ("unsigned" otherwise); a consistency proof's "from" is checked when it
// has one. A file of the wrong shape is malformed input (exit 2).
int check_proof(const std::filesystem::path& file, const pki::CmsVerifier& verifier,
                std::ostream& out);

// Copies the sealed segments with their seals, and the signed heads and co-signatures they
// cover, into `to` (same layout). An archive never changes: segments and seals already there
// must be identical, and the archive's heads.log / cosignatures.log must be a beginning of the
// live log's (the rest is appended: "appended"); otherwise "archive_conflict" (exit 1), the
// archive left as it is. Then verifies the archive (with signatures when `verifier` is set).
int log_export(const std::filesystem::path& dir, const std::filesystem::path& to,
               const pki::CmsVerifier* verifier, std::ostream& out);

// Checks the seal of an answer as received (the JSON of POST /api/v1/requests): its "data"
// bytes against the seal, the batch proof and the system's signature. An answer without "data"
// whose seal names an answer_sha256 fails ("answer_missing"); a refusal has neither.
int verify_answer_seal(const std::filesystem::path& answer_file, const pki::CmsVerifier& verifier,
                       std::ostream& out);

}  // namespace aaj::evidence
