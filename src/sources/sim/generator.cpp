// Key validation (one canonicaliser per key type) and the resource registry (one row per
// resource). The generators themselves live in the group files (see internal.h).
#include "sources/sim/generator.h"

#include <array>

#include "core/ids.h"
#include "core/time.h"
#include "sources/sim/internal.h"

namespace aaj::sim {
namespace {

using internal::bad_key;
using internal::json;
using internal::not_found;

// The reserved serial of IINs whose person does not exist (digits 8-11 of the IIN).
constexpr std::string_view kNotFoundSerial = "9999";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

// Upper-case ASCII without surrounding blanks.
std::string trimmed_upper(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  std::string out = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return out;
}

std::string without(const std::string& s, std::string_view drop) {
  std::string out;
  for (char c : s)
    if (drop.find(c) == std::string_view::npos) out += c;
  return out;
}

// ---- canonicalisers: the value as a string, or bad_key / not_found ----

Result<std::string> canon_iin(const std::string& v) {
  if (!ids::parse_iin(v))
    return bad_key("iin must be 12 digits with a real birth date and a valid check digit");
  if (v.substr(7, 4) == kNotFoundSerial)
    return not_found("no person with this iin (synthetic serial 9999)");
  return v;
}

Result<std::string> canon_bin(const std::string& v) {
  if (!ids::is_valid_bin(v))
    return bad_key("bin must be 12 digits YYMM T A NNNNN K with a valid check digit");
  if (!internal::company_index(v))
    return not_found("no legal entity with this bin (only synthetic_bin(0..999) exist)");
  return v;
}

Result<std::string> canon_document(const std::string& raw) {
  std::string v = without(trimmed_upper(raw), " ");
  const bool card = v.size() == 9 && internal::all_digits(v);
  const bool passport = v.size() == 9 && v[0] == 'N' && internal::all_digits(v.substr(1));
  const bool foreign =
      v.size() == 9 && is_upper(v[0]) && is_upper(v[1]) && internal::all_digits(v.substr(2));
  if (!card && !passport && !foreign)
    return bad_key(
        "a document number is 9 digits (ID card), N + 8 digits (passport) or 2 "
        "letters + 7 digits (foreign passport)");
  return v;
}

Result<std::string> canon_cadastral(const std::string& raw) {
  const std::string v = trimmed_upper(raw);
  // OO:RRR:KKK:UUU then optional :B (1-3 digits) and :P (1-4 digits).
  static const size_t kWidth[] = {2, 3, 3, 3};
  size_t pos = 0, seg = 0;
  bool ok = true;
  while (ok && pos <= v.size()) {
    size_t end = v.find(':', pos);
    if (end == std::string::npos) end = v.size();
    const std::string part = v.substr(pos, end - pos);
    ok = internal::all_digits(part) &&
         (seg < 4 ? part.size() == kWidth[seg] : part.size() <= (seg == 4 ? 3u : 4u)) && seg < 6;
    ++seg;
    pos = end + 1;
  }
  if (!ok || seg < 4) return bad_key("a cadastral number is OO:RRR:KKK:UUU[:B[:P]]");
  return v;
}

Result<std::string> canon_rca(const std::string& v) {
  if (v.size() != 16 || !internal::all_digits(v)) return bad_key("an RCA is 16 digits");
  return v;
}

Result<std::string> canon_plate(const std::string& raw) {
  const std::string v = without(internal::upper(raw), " ");
  size_t d = 0;
  while (d < v.size() && is_digit(v[d])) ++d;
  if (v.size() < d + 2) return bad_key("a plate is NNN LLL RR, NNN LL RR or NNNN ЛЛ RR");
  const std::string region = v.substr(v.size() - 2), letters = v.substr(d, v.size() - d - 2);
  const int r = internal::all_digits(region) ? std::stoi(region) : 0;
  bool latin = !letters.empty();
  for (char c : letters) latin = latin && is_upper(c);
  // Machinery plates: two Cyrillic letters (two bytes each in UTF-8).
  const bool cyr = letters.size() == 4 && static_cast<unsigned char>(letters[0]) >= 0xD0 &&
                   static_cast<unsigned char>(letters[2]) >= 0xD0;
  const bool car = d == 3 && latin && (letters.size() == 2 || letters.size() == 3);
  if (r < 1 || r > 20 || !(car || (d == 4 && cyr)))
    return bad_key("a plate is NNN LLL RR, NNN LL RR or NNNN ЛЛ RR (region 01..20)");
  return v.substr(0, d) + " " + letters + " " + region;
}

Result<std::string> canon_vin(const std::string& raw) {
  const std::string v = trimmed_upper(raw);
  bool ok = v.size() == 17 || (v.size() >= 6 && v.size() <= 12);
  for (char c : v) ok = ok && (is_digit(c) || is_upper(c));
  if (ok && v.size() == 17) ok = v.find_first_of("IOQ") == std::string::npos;
  if (!ok)
    return bad_key(
        "a VIN is 17 characters without I, O, Q; a body/chassis number 6..12 characters");
  return v;
}

Result<std::string> canon_phone(const std::string& raw) {
  std::string v = without(raw, " -()");
  if (v.size() == 11 && v[0] == '8') v = "+7" + v.substr(1);
  if (v.size() != 12 || v.substr(0, 2) != "+7" || !internal::all_digits(v.substr(2)) || v[2] != '7')
    return bad_key("a phone number is +7 7XX XXX XX XX");
  return v.substr(2);
}

Result<std::string> canon_erdr(const std::string& v) {
  if (v.size() != 15 || !internal::all_digits(v)) return bad_key("an ERDR number is 15 digits");
  return v;
}

Result<std::string> canon_court_case(const std::string& raw) {
  const std::string v = trimmed_upper(raw);
  // CCCC-YY-NN-K[letters]/N
  const size_t slash = v.find('/');
  bool ok = v.size() > 12 && v[4] == '-' && v[7] == '-' && v[10] == '-' &&
            internal::all_digits(v.substr(0, 4)) && internal::all_digits(v.substr(5, 2)) &&
            internal::all_digits(v.substr(8, 2)) && slash != std::string::npos && slash > 11 &&
            slash + 1 < v.size() && slash + 7 >= v.size() && is_digit(v[11]) &&
            internal::all_digits(v.substr(slash + 1));
  for (size_t i = 12; ok && i < slash; ++i)
    ok = is_digit(v[i]) || is_upper(v[i]) || static_cast<unsigned char>(v[i]) >= 0x80;
  if (!ok || slash - 11 > 5) return bad_key("a court case number is CCCC-YY-00-K/N");
  return v;
}

Result<std::string> canon_postal(const std::string& raw) {
  const std::string v = without(trimmed_upper(raw), " ");
  if (!internal::valid_s10(v))
    return bad_key("a postal item id is UPU S10: 2 letters, 8 digits, check digit, 2 letters");
  return v;
}

Result<std::string> canon_imo(const std::string& raw) {
  std::string v = without(trimmed_upper(raw), " ");
  if (v.rfind("IMO", 0) == 0) v = v.substr(3);
  if (!internal::valid_imo_digits(v))
    return bad_key("an IMO number is IMO + 7 digits (check digit)");
  if (v[0] != '9') return not_found("no vessel with this IMO number");
  return v;
}

Result<std::string> canon_wagon(const std::string& raw) {
  const std::string v = without(raw, " ");
  if (!internal::valid_wagon_number(v))
    return bad_key("a wagon number is 8 digits with a check digit");
  return v;
}

Result<std::string> canon_declaration(const std::string& raw) {
  const std::string v = without(raw, " ");
  const bool shape = v.size() == 20 && v[5] == '/' && v[12] == '/' &&
                     internal::all_digits(v.substr(0, 5)) && internal::all_digits(v.substr(6, 6)) &&
                     internal::all_digits(v.substr(13));
  if (!shape ||
      !time::parse_date("20" + v.substr(10, 2) + "-" + v.substr(8, 2) + "-" + v.substr(6, 2)))
    return bad_key("a declaration number is NNNNN/DDMMYY/NNNNNNN");
  return v;
}

Result<std::string> canon_register(const std::string& raw) {
  const std::string v = trimmed_upper(raw);
  bool ok = !v.empty() && v.size() <= 64;
  for (char c : v) ok = ok && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  if (!ok) return bad_key("a register number is 1..64 printable characters");
  return v;
}

Result<std::string> canon_org_name(const std::string& v) {
  bool ok = !v.empty() && v.size() <= 300;
  for (char c : v) ok = ok && static_cast<unsigned char>(c) >= 0x20;
  if (!ok) return bad_key("an organisation name is 1..300 printable characters");
  return v;
}

// name_birth_date: {"surname","name","patronymic"?,"birth_date"} -> "S\x1fN\x1fP\x1fDATE".
Result<std::string> canon_name_birth_date(const json& v) {
  auto text = [&](const char* k) -> const std::string* {
    auto it = v.find(k);
    return it != v.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string *s = text("surname"), *n = text("name"), *d = text("birth_date");
  const std::string* p = text("patronymic");
  size_t known = 3 + (v.contains("patronymic") ? 1 : 0);
  if (!v.is_object() || !s || !n || !d || s->empty() || n->empty() || v.size() != known ||
      (v.contains("patronymic") && !p) || !time::parse_date(*d))
    return bad_key(
        "name_birth_date is {\"surname\",\"name\",\"patronymic\"?,\"birth_date\":\"YYYY-MM-DD\"}");
  auto clean = [](const std::string& x) { return internal::upper(trimmed_upper(x)); };
  return clean(*s) + '\x1f' + clean(*n) + '\x1f' + (p ? clean(*p) : "") + '\x1f' + *d;
}

struct KeyKind {
  std::string_view name;
  Result<std::string> (*canon)(const std::string& value);  // string-valued keys
};

constexpr KeyKind kKeyKinds[] = {
    {"iin", &canon_iin},
    {"bin", &canon_bin},
    {"name_birth_date", nullptr},  // object-valued: canon_name_birth_date
    {"org_name", &canon_org_name},
    {"document_number", &canon_document},
    {"cadastral_number", &canon_cadastral},
    {"rca", &canon_rca},
    {"plate", &canon_plate},
    {"vin", &canon_vin},
    {"phone", &canon_phone},
    {"erdr_number", &canon_erdr},
    {"court_case_number", &canon_court_case},
    {"postal_item_id", &canon_postal},
    {"imo_number", &canon_imo},
    {"wagon_number", &canon_wagon},
    {"declaration_number", &canon_declaration},
    {"register_number", &canon_register},
};

// ---- Resources: one row per resource, ascending by id; keys as in catalog/resources.json ----

constexpr size_t kMaxKeys = 5;

struct ResourceEntry {
  std::string_view id;
  std::array<std::string_view, kMaxKeys> keys;  // unused slots are empty
  internal::Generator generate;
};

using namespace internal;  // the generator functions
constexpr ResourceEntry kResources[] = {
    {"R01", {"iin", "name_birth_date", "document_number"}, &generate_r01_individuals},
    {"R02", {"bin", "org_name"}, &generate_r02_legal_entities},
    {"R03", {"iin", "bin", "cadastral_number", "rca"}, &generate_r03_real_estate},
    {"R04", {"cadastral_number", "iin", "bin", "rca"}, &generate_r04_land},
    {"R05", {"iin", "bin", "plate", "vin", "register_number"}, &generate_r05_vehicles},
    {"R06", {"iin", "bin", "register_number"}, &generate_r06_weapons},
    {"R07", {"bin", "wagon_number"}, &generate_r07_wagons},
    {"R08", {"iin", "bin", "register_number"}, &generate_r08_small_vessels},
    {"R09", {"imo_number", "bin"}, &generate_r09_sea_vessels},
    {"R10", {"iin", "bin", "plate", "vin"}, &generate_r10_machinery},
    {"R11", {"iin"}, &generate_r11_pension},
    {"R12", {"iin"}, &generate_r12_disability},
    {"R13", {"iin"}, &generate_r13_con_services},
    {"R14", {"iin", "name_birth_date", "erdr_number"}, &generate_r14_special_accounts},
    {"R15", {"erdr_number", "iin"}, &generate_r15_euss},
    {"R16", {"iin", "bin", "court_case_number"}, &generate_r16_courts},
    {"R17", {"iin", "bin", "court_case_number"}, &generate_r17_court_cards},
    {"R18", {"iin", "bin"}, &generate_r18_civil_servant_check},
    {"R19", {"iin"}, &generate_r19_photo},
    {"R20", {"iin", "document_number"}, &generate_r20_form1},
    {"R21", {"iin", "bin", "register_number"}, &generate_r21_notary},
    {"R22", {"iin", "name_birth_date", "register_number"}, &generate_r22_civil_status},
    {"R23", {"iin", "document_number"}, &generate_r23_border_citizens},
    {"R24", {"document_number", "name_birth_date"}, &generate_r24_border_foreigners},
    {"R25", {"iin", "bin", "org_name"}, &generate_r25_taxpayers},
    {"R26", {"iin", "bin", "register_number"}, &generate_r26_licences},
    {"R27", {"iin", "bin", "register_number"}, &generate_r27_procurement},
    {"R28", {"iin", "bin"}, &generate_r28_foreign_trade},
    {"R29", {"iin", "document_number", "declaration_number"}, &generate_r29_passenger_declarations},
    {"R30",
     {"iin", "document_number", "declaration_number", "vin"},
     &generate_r30_vehicle_declarations},
    {"R31", {"bin", "iin", "document_number"}, &generate_r31_foreign_labour},
    {"R32", {"bin", "register_number"}, &generate_r32_subsoil_hydrocarbons},
    {"R33", {"bin", "register_number"}, &generate_r33_subsoil_solid},
    {"R34", {"iin", "bin"}, &generate_r34_budget_revenue},
    {"R35", {"iin", "document_number"}, &generate_r35_railway},
    {"R36", {"phone", "iin", "bin"}, &generate_r36_kazakhtelecom},
    {"R37", {"iin", "name_birth_date", "register_number"}, &generate_r37_wanted},
    {"R38", {"iin", "name_birth_date", "register_number"}, &generate_r38_missing},
    {"R39", {"iin", "bin"}, &generate_r39_unreliable_suppliers},
    {"R40", {"iin", "bin", "rca", "phone"}, &generate_r40_addresses_phones},
    {"R41", {"iin", "bin"}, &generate_r41_civil_servants},
    {"R42", {"postal_item_id", "iin", "phone"}, &generate_r42_postal_items},
    {"R43", {"iin"}, &generate_r43_dispensary},
    {"R44",
     {"document_number", "name_birth_date", "iin", "bin"},
     &generate_r44_foreigner_registration},
    {"R45", {"iin", "register_number", "document_number"}, &generate_r45_residence_permits},
    {"R46", {"document_number", "iin"}, &generate_r46_work_permits},
    {"R47", {"iin"}, &generate_r47_emigration},
    {"R48", {"iin", "document_number"}, &generate_r48_invitations},
    {"R49", {"iin", "name_birth_date"}, &generate_r49_citizenship},
    {"R50", {"iin", "bin"}, &generate_r50_links_level1},
    {"R51", {"iin", "bin"}, &generate_r51_links_level2},
    {"R52", {"iin", "phone"}, &generate_r52_mobile},
};

const ResourceEntry* find_resource(std::string_view id) {
  for (const auto& r : kResources)
    if (r.id == id) return &r;
  return nullptr;
}

const KeyKind* find_key_kind(std::string_view name) {
  for (const auto& k : kKeyKinds)
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace

Result<nlohmann::json> generate(std::string_view resource, const nlohmann::json& key) {
  const ResourceEntry* entry = find_resource(resource);
  if (!entry)
    return Error{"unsupported_resource", "no simulated resource " + std::string(resource)};
  if (!key.is_object() || key.size() != 1)
    return Error{"bad_key", "key must be a JSON object with exactly one search field"};
  const std::string& name = key.begin().key();
  bool accepted = false;
  for (std::string_view k : entry->keys) accepted = accepted || (!k.empty() && k == name);
  const KeyKind* kind = find_key_kind(name);
  if (!accepted || !kind)
    return Error{"unsupported_key",
                 std::string(resource) + " cannot be searched by \"" + name + "\""};
  const json& v = key.begin().value();
  Result<std::string> canonical = std::string();
  if (!kind->canon) {
    canonical = canon_name_birth_date(v);
  } else {
    if (!v.is_string()) return Error{"bad_key", "the value of \"" + name + "\" must be a string"};
    canonical = kind->canon(v.get_ref<const std::string&>());
  }
  if (!canonical) return canonical.error();
  return entry->generate(name, *canonical);
}

std::vector<std::string> supported_resources() {
  std::vector<std::string> out;
  for (const auto& r : kResources) out.emplace_back(r.id);
  return out;
}

}  // namespace aaj::sim
