// Deterministic synthetic answers of the state databases (resources R01..R52) for the source
// simulator and for tests.
//
// Determinism: the same (resource, key) gives a byte-identical JSON (nlohmann::json::dump()) on
// every run, build and machine. Every value is derived from the key through a fixed integer
// stream (FNV-1a 64 of a label, then splitmix64); nothing reads the clock, the environment or a
// file, and no std::hash / rand() / <random> distribution is used. The synthetic world's "today"
// is the fixed date kToday, so ages and document validity never drift.
//
// Thread-safety: every function here is pure (no I/O, no mutable state except the census of the
// synthetic population, built once on first use under a function-local static's guarantee and
// immutable afterwards) and may be called from any number of threads at once.
//
// Privacy: all data is invented. Synthetic identifiers carry a marker: generated IINs use serials
// 0000-0999 (synthetic_iin), generated BINs use serials 00000-00999 (synthetic_bin), companies
// are named «Синтетика-N». Street names are real public street names; people are not real.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::sim {

// The synthetic world's fixed "today" (ages, document validity, registration dates).
inline constexpr int kTodayYear = 2026, kTodayMonth = 1, kTodayDay = 31;
inline constexpr std::string_view kToday = "2026-01-31";
// The last full calendar year before kToday: R11 pension payments are generated for this year
// (most recent agent) and the years before it (older agents).
inline constexpr int kReferenceYear = 2025;

// A coded dictionary value as the state services return it: {"code","nameRu","nameKz"}.
struct DictItem {
  std::string code;
  std::string name_ru;
  std::string name_kz;
};

struct Address {
  DictItem country;
  DictItem region;         // GBDFL-style 4-digit region code (synthetic codes)
  DictItem district;       // 7-digit district code starting with the region code
  std::string city;        // upper-case Cyrillic, e.g. "АСТАНА"
  std::string street;      // empty for a birth place
  std::string building;    // empty for a birth place
  std::string flat;        // empty for a birth place or a private house
  std::string ar_code;     // 16 digits (address register code), empty for a birth place
  std::string begin_date;  // YYYY-MM-DD registration date, empty for a birth place
};

// The identity document: type {"002","УДОСТОВЕРЕНИЕ РК"} for citizens, a residence permit
// (synthetic code "003") for foreigners.
struct IdCard {
  DictItem type;
  std::string number;      // 9 digits, starts with '0'
  std::string begin_date;  // YYYY-MM-DD, on or after the 16th birthday, before kToday
  std::string end_date;    // begin_date + 10 years (same month and day), after kToday
};

// One synthetic person, fully derived from an IIN. Every resource that describes a person uses
// person_for() so that answers about the same IIN agree across resources.
struct Person {
  std::string iin;
  std::string surname;  // upper-case Cyrillic, agrees with sex (НУРЛАНОВ / НУРЛАНОВА)
  std::string name;     // upper-case Cyrillic
  std::string patronymic;      // -ҰЛЫ / -ҚЫЗЫ or -ОВИЧ / -ОВНА, by sex
  std::string eng_surname;     // Latin transliteration, upper case
  std::string eng_first_name;  // Latin transliteration, upper case
  int birth_year = 0;          // birth date and sex come FROM the IIN (ids::parse_iin)
  int birth_month = 0;
  int birth_day = 0;
  std::string birth_date;  // YYYY-MM-DD
  bool male = false;       // from the IIN; for century digit 0 (sex not encoded) drawn from the IIN
  bool foreigner = false;  // century digit 0: not a citizen (citizenship and birth place abroad)
  DictItem nationality;    // mostly {"005","КАЗАХ","ҚАЗАҚ"}
  DictItem citizenship;  // {"398","КАЗАХСТАН","ҚАЗАҚСТАН"}; a foreign ISO code for foreigners
  Address birth_place;            // country, region, district, city only
  Address reg_address;            // registered (permanent) address
  std::optional<IdCard> id_card;  // absent for persons younger than 16 at kToday
};

// The person behind `iin`. Requires ids::parse_iin(iin) to succeed; for any other input returns a
// default-constructed Person (empty iin), so callers must validate first (generate() does).
Person person_for(std::string_view iin);

// Age in full years at kToday of someone born on the given date.
int age_at_today(int birth_year, int birth_month, int birth_day);

// The n-th synthetic IIN: valid (ids::parse_iin succeeds), serial = n % 1000 (so serials
// 0000-0999 mark synthetic IINs), birth date 1950-01-01..2015-12-31 and sex derived from n.
// Distinct for distinct n < 1000. Never has serial 9999, so it is never "not_found".
std::string synthetic_iin(uint32_t n);

// The n-th synthetic BIN: valid (ids::is_valid_bin), a resident head unit (type 4, attribute 0),
// serial n % 1000 (serials 00000-00999 mark synthetic BINs). Distinct for distinct n < 1000.
std::string synthetic_bin(uint32_t n);

// The company name of synthetic_bin(n): "ТОО «Синтетика-N»", or "ГУ «Синтетика-N»" (a state
// institution) for n 900..999.
std::string synthetic_company_name(uint32_t n);

// The n-th synthetic foreigner's IIN: century digit 0 (foreigner, see Person::foreigner), serial
// n % 1000, born 1960..2005. Distinct for distinct n < 1000.
std::string synthetic_foreign_iin(uint32_t n);

// The synthetic answer of `resource` ("R01".."R52") for the search `key`: a JSON object with
// exactly one member named by a key type of catalog/resources.json "key_types" that the resource
// lists in its "keys", e.g. {"iin": "850615300000"}. Every value is a string except
// name_birth_date: {"surname","name","patronymic"?,"birth_date":"YYYY-MM-DD"} (letter case and
// blanks are ignored; patronymic absent = any).
//
// The world. Every valid IIN is a person (person_for). The linked population is synthetic_iin(n)
// (residents), synthetic_foreign_iin(n) (foreigners) and synthetic_bin(n) (companies; n 900..999
// are state institutions), n < 1000: only they own things that reverse keys find, and the census
// links them (spouses, parents/children, employer = the most recent R11 agent, directors and
// founders, hosts/inviters/employers of foreigners). Other IINs answer identity resources (R01,
// R11, R12, R13, R19, R20, R25, R34, R43, R49, R50/R51) and empty lists elsewhere. Reverse
// identifiers embed the owner code KNNN (K 1 resident, 2 company, 3 foreigner; NNN the index):
//   document_number  ID card/residence permit "0" + 4 digits + KNNN; passport "N" + 4 digits +
//                    KNNN; foreign passport 2 letters + 3 digits + KNNN
//   plate            car "NNN LLL RR" (resident NNN), "NNN LL RR" (company NNN); machinery
//                    "KNNN ЛЛ RR" (Cyrillic letters); RR the owner's city region
//   vin              17 characters, characters 12-15 = KNNN; machinery serial KNNN + 4 digits
//   cadastral_number OO:RRR:KQQ:NNN[:B[:P]] (K = owner kind); rca 16 digits ending in KNNN
//   phone            mobile 7OO KNNN RRR; fixed <area 727|7172|7252|7212> KNNN R..
//   erdr_number      15 digits, 9-12 = KNNN; court_case_number CCCC-YY-00-C/KNNNR
//   postal_item_id   UPU S10: 2 letters + KNNN + 4 digits + check + "KZ"
//   imo_number       IMO 9NNNRRC (company NNN); wagon_number T + KNNN + RR + check digit
//   declaration_number  PPPPP/DDMMYY/KNNNRRR
//   register_number  "<PFX>-KNNN-RRRR": R06 GUN, R08 KZS, R21 NTR, R22 AZB (birth) / AZM
//                    (marriage), R27 GZ, R32 SUH, R33 SUT, R37 WNT, R38 MIS, R45 VNZ; R05: the
//                    registration certificate, 2 letters + KNNN + 4 digits; R26: KZ + 2 digits +
//                    3 letters + KNNN + 4 digits
//   org_name         any text containing «Синтетика-N» (any letter case)
// A reverse key regenerates its owner's records and keeps those carrying exactly that
// identifier, so it finds the same record as the owner's IIN/BIN.
//
// Answers. Each resource has one shape whatever the key: its top-level members are exactly the
// catalogue's "fields" for it. Dates are "YYYY-MM-DD" (times "YYYY-MM-DDTHH:MM:SS+05:00"),
// amounts strings "N.NN", coded values {"code","nameRu","nameKz"}; no floats. A subject with
// nothing on record gets empty lists (most people have no weapon, vessel, case or search
// record); a reverse key answers only the matching records.
//
// Errors (Error::code is stable; detail is English for logs):
//   "unsupported_resource"  resource is not in supported_resources()
//   "unsupported_key"       the key's member name is not a key of this resource
//   "bad_key"               key is not an object with exactly one member, the value has the
//                           wrong type, or it is malformed for its key type (IIN/BIN check digit
//                           or date, plate/VIN/phone/S10/IMO/wagon/declaration format or check,
//                           or a register number not in this register's format)
//   "not_found"             well formed, but nothing exists: an IIN with serial 9999 (reserved,
//                           every resource); a BIN that is not synthetic_bin(0..999) (incl.
//                           serial 99999); a reverse key that decodes to nobody or to an owner
//                           without that record; a name/birth date matching nobody in the
//                           population; R19 for a person without an identity document.
//
// Full shapes kept as contracts because other code relies on them (policy truncation, tests):
//   R01 (ГБД ФЛ) {"iin","surname","name","patronymic","engSurname","engFirstName","birthDate",
//     "gender","nationality","citizenship","lifeStatus" (dictionary items),"birthPlace"
//     {"country","region","district","city"},"regAddress"{"country","region","district","city",
//     "street","building","flat","arCode","beginDate","status"},"documents"[{"type","number",
//     "beginDate","endDate","issueOrganization","status"}] (empty under 16),"removed":false}.
//     A century-digit-0 IIN (foreigner) gets a foreign citizenship and birth place and a
//     residence permit instead of the ID card.
//   R11 (ГЦВП pension contributions, by IIN only) exactly {"iin","contributor"{"surname","name",
//     "patronymic"},"agents"[{"bin","name","payments"[{"period","pay_date","knp","amount"}],
//     "payment_count","sum010","total_amount"}],"total_amount"}. Agents: 1-3 for persons aged
//     16..63 in kReferenceYear (fewer if they were younger than 16 in the earlier years), none
//     otherwise (then total_amount is "0.00"). Agent i (0 = most recent) has 12 monthly ОПВ
//     payments (knp "010") for year kReferenceYear - i. Amounts are strings "N.NN" whose tiyn
//     part is never "00" (so never round thousands); sums are exact integer-tiyn sums.
//
// Cost: tens of microseconds per call (the R51 link graph of up to 30 nodes is the largest);
// the first call that needs the census builds it once (~tens of milliseconds).
Result<nlohmann::json> generate(std::string_view resource, const nlohmann::json& key);

// The resources generate() answers, in ascending order: "R01".."R52".
std::vector<std::string> supported_resources();

}  // namespace aaj::sim
