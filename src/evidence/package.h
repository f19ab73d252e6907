// The evidence package of an answered request (R-LOG, R-USE): one JSON file holding everything
// a court needs to check, offline and with the CA certificates alone, that the information was
// obtained by this signed request, under this policy decision, answered with these bytes, and
// logged at this place of a log the system signed:
//
//   {"format":"aaj-evidence/1","request_id",
//    "records":[{"line":"<the log record as stored>","seal":{…§4…},
//                "inclusion":{"size","root","proof":[…],"signed_head":{"head","signature"}}}, …],
//    "answers":[{"resource","data":"<the answer's bytes>"|null,"sha256","destroyed":{…}|null}],
//    "certificates":["<PEM>", …], "crls":["<PEM>", …],
//    "exported_at","exported_by"}
//
// The first record is the request's data_request record (its body holds the signed request as
// base64 CMS, the document, the signer, the policy version and rule, the answer hash); a request
// for several resources adds each resource_answer record. The certificates are the issuers the
// system trusted (for convenience: the checker trusts only its own --trust), the CRLs those it
// held (revocation evidence). Building reads the log's files; checking reads nothing but the file.
#pragma once
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::evidence {

struct AnswerBytes {
  std::string resource;
  std::optional<std::string> data;  // the exact bytes; nullopt once destroyed
  std::string sha256;
  nlohmann::json destroyed;  // null, or {at, by, act, act_date}
};

// The seal of the record at `seq`, rebuilt from heads.log and the records of its batch (§4).
// Errors: "journal_unavailable", "not_sealed" (no signed head covers the record).
Result<nlohmann::json> rebuild_seal(const std::filesystem::path& journal_dir, uint64_t seq);

// The records of a request from the log: its data_request record, then its resource_answer
// records (a request for several resources writes one per resource, each with its own seq),
// found from the seqs of any of them (`seqs`: e.g. the stored answers' log_seq). The walk starts
// `window` records before the smallest seq and ends `window` after the largest, or as soon as the
// data_request and as many resource_answer records as its "resources" summary names are found.
// Errors: "journal_unavailable", "journal_corrupt", "record_unknown" (a seq that is no record of
// the request, or no data_request record of it).
Result<std::vector<std::string>> request_records(const std::filesystem::path& journal_dir,
                                                 const std::vector<uint64_t>& seqs,
                                                 const std::string& request_id,
                                                 uint64_t window = 4096);

// Assembles the package. `inclusion_of(seq)` gives {"size","root","proof","signed_head"} for a
// record (the server's live tree). Errors from the readers.
struct PackageParts {
  std::string request_id;
  std::vector<std::string> record_lines;
  std::vector<nlohmann::json> seals;
  std::vector<nlohmann::json> inclusions;
  std::vector<AnswerBytes> answers;
  std::vector<std::string> certificates_pem;
  std::vector<std::string> crls_pem;
  std::string exported_at, exported_by;
};
nlohmann::json make_package(const PackageParts& parts);

// `aaj verify-evidence FILE --trust CA…`: checks every part and prints one JSON report; exit 0
// when everything holds, 1 when something does not (the report names it), 2 for an unreadable
// or malformed file (members of the wrong JSON type) or anchors. Every answer a record logged
// (answer_sha256) must be in the package with its bytes, or with its destruction recorded; a
// CRL of the package that is damaged or forged (empty, corrupt, bad_signature) fails it, and
// every CRL not used is reported ("crls").
int verify_evidence(const std::filesystem::path& file,
                    const std::vector<std::filesystem::path>& trust, std::ostream& out);

}  // namespace aaj::evidence
