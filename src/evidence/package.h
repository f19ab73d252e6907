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

// The records of a request from the log: its data_request record at `seq`, then the
// resource_answer records with the same request id that follow within `window` records.
// Errors: "journal_unavailable", "record_unknown".
Result<std::vector<std::string>> request_records(const std::filesystem::path& journal_dir,
                                                 uint64_t seq, const std::string& request_id,
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
// file or anchors.
int verify_evidence(const std::filesystem::path& file,
                    const std::vector<std::filesystem::path>& trust, std::ostream& out);

}  // namespace aaj::evidence
