// Internal to the simulator library: the shared synthetic world (populations, companies, the
// census of family and work links, identifier codes) and the per-group generator functions. Not
// part of the API (include generator.h instead).
//
// Adding a resource: write its generator in the group file it belongs to, declare it below, add
// one row to the registry table in generator.cpp and its "fields" to catalog/resources.json.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "sources/sim/generator.h"

namespace aaj::sim::internal {

using nlohmann::json;

// A generator answers one resource for a key that generate() has already validated: key_name is
// one of the resource's key names and value is the key's canonical form (see generator.cpp):
//   iin, bin        the number; it exists (IIN serial not 9999; BIN one of synthetic_bin(0..999))
//   name_birth_date "SURNAME\x1fNAME\x1fPATRONYMIC\x1fYYYY-MM-DD", upper case, patronymic may
//                   be empty (= any)
//   phone           the 10 digits after +7
//   vin, plate, document_number, postal_item_id, register_number: upper-case ASCII, trimmed
//   imo_number      the 7 digits; others: as given, format-checked
using Generator = Result<json> (*)(std::string_view key_name, const std::string& value);

// ---- Populations and owner codes ----

// The linked population: residents synthetic_iin(0..999), foreigners synthetic_foreign_iin(0..999)
// and companies synthetic_bin(0..999). Only they own things that can be looked up by a reverse
// key, because every reverse identifier embeds its owner's 4-character owner code "KNNN":
// K = '1' resident, '2' company, '3' foreigner, NNN = the index.
inline constexpr uint32_t kPopulation = 1000;
// Companies kFirstStateBody..999 are state institutions («ГУ»): employers of civil servants and
// procurement customers.
inline constexpr uint32_t kFirstStateBody = 900;
enum class Kind : char { Resident = '1', Company = '2', Foreigner = '3' };
struct Owner {
  Kind kind = Kind::Resident;
  uint32_t index = 0;
  bool operator==(const Owner&) const = default;
};
std::string owner_code(Owner o);  // "1042"
std::optional<Owner> parse_owner_code(
    std::string_view four);  // nullopt unless K in 1..3, NNN digits
std::optional<uint32_t> resident_index(std::string_view iin);
std::optional<uint32_t> foreigner_index(std::string_view iin);
std::optional<uint32_t> company_index(std::string_view bin);
// The population member behind a valid IIN or BIN, if any.
std::optional<Owner> owner_of_id(std::string_view iin_or_bin);
std::string id_of(Owner o);    // its IIN or BIN
std::string name_of(Owner o);  // "SURNAME NAME PATRONYMIC" or the company name

// Who an IIN or BIN (already validated) is: the name for answers and, for population members,
// the owner (whose records can be generated).
struct Subject {
  std::string id, name;
  bool company = false;
  std::optional<Owner> owner;
};
Subject subject_of(std::string_view iin_or_bin);

// ---- Text, dates, money ----

json dict_json(const DictItem& item);  // {"code","nameRu","nameKz"}
json dict(std::string_view code, std::string_view ru, std::string_view kz);
std::string date_string(int year, int month, int day);  // "YYYY-MM-DD"
int64_t today_days();                                   // days since 1970-01-01 of kToday
int64_t days_of(int year, int month, int day);
std::string day_string(int64_t days);           // "YYYY-MM-DD"
std::string format_tiyn(int64_t tiyn);          // "N.NN"; requires tiyn >= 0
std::string digits(uint64_t value, int width);  // decimal, zero-padded to at least width
std::string full_name(const Person& p);         // "SURNAME NAME PATRONYMIC"
std::string address_text(const Address& a);  // "г. АЛМАТЫ, ПРОСПЕКТ АБАЯ, д. 12, кв. 45"
std::string upper(std::string_view utf8);  // ASCII, Russian and Kazakh Cyrillic upper case
bool all_digits(std::string_view s);

// Per-city facts used by several registers (synthetic codes except the well-known ones).
struct CityFacts {
  std::string_view plate_region;  // "02" (vehicle plates)
  std::string_view cadastre;      // "20" (first segment of cadastral numbers)
  std::string_view phone_area;    // "727" or "7172" (fixed-line area code)
  std::string_view kato;          // 9 digits
  std::string_view postcode;      // main post office
};
const CityFacts& city_facts(const Address& a);  // by a.region.code; a city's own facts
class Rng;
// Another address (house, no flat) in the city of `near`, drawn from rng; its ar_code ends in the
// owner's code.
Address address_in_city(Rng& rng, const Address& near, Owner owner);

// ---- Companies ----

struct Company {
  uint32_t index = 0;
  std::string bin, name_ru, name_kz;
  bool state_body = false;  // indices 900..999 are state institutions («ГУ»), 0..899 ТОО
  std::string registration_date;
  Address address;                 // legal address (office number in flat, rca in ar_code)
  uint32_t director = 0;           // resident index
  std::vector<uint32_t> founders;  // resident indices (empty for state bodies)
  DictItem activity;               // code = OKED
  int staff = 0;                   // headcount
};
Company company_for(uint32_t index);

// ---- The census: links between population members, built once on first use ----

struct Family {
  int spouse = -1;  // resident index, -1 none
  int mother = -1, father = -1;
  std::vector<uint32_t> children;
  std::string marriage_date;  // when spouse >= 0
};
const Family& family_of(uint32_t resident);
// The company of the most recent R11 agent, if the resident had any agent.
std::optional<uint32_t> employer_of(uint32_t resident);
// Residents whose most recent R11 agent is the company, ascending.
const std::vector<uint32_t>& employees_of(uint32_t company);
// full_name(person_for(synthetic_iin(resident))), precomputed.
const std::string& resident_name(uint32_t resident);
// Companies whose director (founder) the resident is, ascending.
const std::vector<uint32_t>& companies_directed_by(uint32_t resident);
const std::vector<uint32_t>& companies_founded_by(uint32_t resident);
// Residents and foreigners whose surname, name, (patronymic if non-empty) and birth date match
// the canonical upper-case values.
std::vector<Owner> find_by_name(std::string_view surname, std::string_view name,
                                std::string_view patronymic, std::string_view birth_date);

// ---- Shared record sets (so several registers tell the same story) ----

struct PensionAgent {
  uint32_t company = 0;
  int year = 0;
  std::vector<int64_t> tiyn;  // 12 monthly ОПВ payments
  std::vector<std::string> pay_dates;
  int64_t sum() const;
};
// The R11 agents of a person (0 = most recent year), see generator.h R11.
std::vector<PensionAgent> pension_agents(const Person& p);

struct Vehicle {
  std::string brand, model, plate, vin, srts, color, reg_date, category;
  int year = 0, engine_cc = 0, weight = 0, max_weight = 0;
  bool imported = false;  // cleared by customs (R30) when first registered
};
std::vector<Vehicle> vehicles_of(Owner o);

struct Estate {
  std::string cadastral, rca, use_ru, use_kz, address, area_total, area_useful, floor, reg_date,
      basis;
  int64_t price_tiyn = 0;
  bool house = false;  // a house with its own plot; otherwise a flat/premise with a plot share
};
std::vector<Estate> estates_of(Owner o);

struct Trip {  // one exit and the return entry (R23, R29)
  int64_t out_day = 0, back_day = 0;
  int checkpoint = 0;  // index into the checkpoint table of the borders group
  int country = 0;     // index into the destination table
  bool passport = true;
};
std::vector<Trip> trips_of(uint32_t resident);
std::optional<std::string> passport_of(uint32_t resident);  // "N" + 8 digits, for travellers

struct CriminalCase {
  std::string erdr, registered, article, article_ru, status_ru, court_case, verdict_date, sentence;
  bool wanted = false;
};
std::vector<CriminalCase> criminal_cases_of(uint32_t resident);

std::vector<std::string> mobile_phones_of(uint32_t resident);  // canonical 10 digits
std::optional<std::string> landline_of(Owner o);               // canonical 10 digits
std::string phone_text(std::string_view ten_digits);           // "+7 7XX XXX XX XX"
// The population member with this mobile or fixed number (canonical 10 digits).
std::optional<Owner> phone_owner(std::string_view ten_digits, bool mobile, bool fixed);

// Check digits of key formats (used by the key validators in generator.cpp).
bool valid_wagon_number(std::string_view v);    // 8 digits, last one the check digit
bool valid_imo_digits(std::string_view seven);  // IMO check digit
bool valid_s10(std::string_view v);             // UPU S10 item id, e.g. RR000000005KZ

std::string foreign_passport_of(uint32_t foreigner);  // 2 letters + 7 digits
// The IIN of the population member whose ID card, residence permit or passport this is.
std::optional<std::string> holder_of_document(std::string_view number);
// A person key (iin, name_birth_date, document_number) as an IIN; not_found when nobody matches.
Result<std::string> person_iin(std::string_view key_name, const std::string& value);

// A register number "<PFX>-KNNN-RRRR" (RRRR drawn by the caller) and its parse.
std::string register_number(std::string_view prefix, Owner o, uint64_t random);
std::optional<Owner> parse_register_number(std::string_view value, std::string_view prefix);

// Generic answer helpers.
Error not_found(std::string_view what);
Error bad_key(std::string_view what);
// Keeps the elements of the array `list` for which keep() is true; not_found when none is left
// (the answer to a reverse key that decoded to an owner who has no such item).
template <class Pred>
Status keep_only(json& list, Pred keep) {
  json out = json::array();
  for (auto& e : list)
    if (keep(e)) out.push_back(std::move(e));
  list = std::move(out);
  if (list.empty()) return not_found("no record with this identifier");
  return Status::Ok();
}

// ---- Generators, one per resource, grouped by file ----
#define AAJ_SIM_GENERATOR(name) \
  Result<json> name(std::string_view key_name, const std::string& value);
// persons.cpp (+ r01_individuals.cpp): persons, documents, social and health
AAJ_SIM_GENERATOR(generate_r01_individuals)
AAJ_SIM_GENERATOR(generate_r12_disability)
AAJ_SIM_GENERATOR(generate_r13_con_services)
AAJ_SIM_GENERATOR(generate_r19_photo)
AAJ_SIM_GENERATOR(generate_r20_form1)
AAJ_SIM_GENERATOR(generate_r22_civil_status)
AAJ_SIM_GENERATOR(generate_r43_dispensary)
AAJ_SIM_GENERATOR(generate_r47_emigration)
AAJ_SIM_GENERATOR(generate_r49_citizenship)
// property.cpp: real estate, land, vehicles, weapons, vessels, machinery
AAJ_SIM_GENERATOR(generate_r03_real_estate)
AAJ_SIM_GENERATOR(generate_r04_land)
AAJ_SIM_GENERATOR(generate_r05_vehicles)
AAJ_SIM_GENERATOR(generate_r06_weapons)
AAJ_SIM_GENERATOR(generate_r07_wagons)
AAJ_SIM_GENERATOR(generate_r08_small_vessels)
AAJ_SIM_GENERATOR(generate_r09_sea_vessels)
AAJ_SIM_GENERATOR(generate_r10_machinery)
// business.cpp (+ r11_pension.cpp): legal entities, tax, finance, procurement, subsoil
AAJ_SIM_GENERATOR(generate_r02_legal_entities)
AAJ_SIM_GENERATOR(generate_r11_pension)
AAJ_SIM_GENERATOR(generate_r25_taxpayers)
AAJ_SIM_GENERATOR(generate_r26_licences)
AAJ_SIM_GENERATOR(generate_r27_procurement)
AAJ_SIM_GENERATOR(generate_r28_foreign_trade)
AAJ_SIM_GENERATOR(generate_r32_subsoil_hydrocarbons)
AAJ_SIM_GENERATOR(generate_r33_subsoil_solid)
AAJ_SIM_GENERATOR(generate_r34_budget_revenue)
AAJ_SIM_GENERATOR(generate_r39_unreliable_suppliers)
// borders.cpp: borders, customs, railway tickets, migration
AAJ_SIM_GENERATOR(generate_r23_border_citizens)
AAJ_SIM_GENERATOR(generate_r24_border_foreigners)
AAJ_SIM_GENERATOR(generate_r29_passenger_declarations)
AAJ_SIM_GENERATOR(generate_r30_vehicle_declarations)
AAJ_SIM_GENERATOR(generate_r31_foreign_labour)
AAJ_SIM_GENERATOR(generate_r35_railway)
AAJ_SIM_GENERATOR(generate_r44_foreigner_registration)
AAJ_SIM_GENERATOR(generate_r45_residence_permits)
AAJ_SIM_GENERATOR(generate_r46_work_permits)
AAJ_SIM_GENERATOR(generate_r48_invitations)
// justice.cpp: special accounts, courts, notaries, searches, civil service
AAJ_SIM_GENERATOR(generate_r14_special_accounts)
AAJ_SIM_GENERATOR(generate_r15_euss)
AAJ_SIM_GENERATOR(generate_r16_courts)
AAJ_SIM_GENERATOR(generate_r17_court_cards)
AAJ_SIM_GENERATOR(generate_r18_civil_servant_check)
AAJ_SIM_GENERATOR(generate_r21_notary)
AAJ_SIM_GENERATOR(generate_r37_wanted)
AAJ_SIM_GENERATOR(generate_r38_missing)
AAJ_SIM_GENERATOR(generate_r41_civil_servants)
// telecom.cpp: telephones, post, contacts, link graphs
AAJ_SIM_GENERATOR(generate_r36_kazakhtelecom)
AAJ_SIM_GENERATOR(generate_r40_addresses_phones)
AAJ_SIM_GENERATOR(generate_r42_postal_items)
AAJ_SIM_GENERATOR(generate_r50_links_level1)
AAJ_SIM_GENERATOR(generate_r51_links_level2)
AAJ_SIM_GENERATOR(generate_r52_mobile)
#undef AAJ_SIM_GENERATOR

}  // namespace aaj::sim::internal
