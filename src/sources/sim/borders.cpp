// Borders, customs, railway tickets and migration: R23/R24 border crossings, R29/R30 customs
// declarations, R31 foreign labour, R35 railway tickets, R44..R46, R48 migration registers.
// Foreigners are the population synthetic_foreign_iin(0..999); who hosts, invites or employs
// foreigner k is arithmetic on k (resident k, company k, company 73k mod 900), so a lookup by the
// host's IIN or BIN finds its foreigners without a scan.
#include "core/time.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

struct Checkpoint {
  DictItem point;
  DictItem mode;
  std::string_view customs_post;
};
const DictItem kAir{"1", "ВОЗДУШНЫЙ", "ӘУЕ"}, kRoad{"2", "АВТОМОБИЛЬНЫЙ", "АВТОМОБИЛЬ"},
    kRail{"3", "ЖЕЛЕЗНОДОРОЖНЫЙ", "ТЕМІР ЖОЛ"};
const Checkpoint kCheckpoints[] = {
    {{"ALA", "АЭРОПОРТ АЛМАТЫ", "АЛМАТЫ ӘУЕЖАЙЫ"}, kAir, "75301"},
    {{"NQZ", "АЭРОПОРТ АСТАНА", "АСТАНА ӘУЕЖАЙЫ"}, kAir, "71301"},
    {{"KRG", "ХОРГОС", "ҚОРҒАС"}, kRoad, "75401"},
    {{"KRD", "КОРДАЙ", "ҚОРДАЙ"}, kRoad, "31401"},
    {{"ZHZ", "ЖИБЕК ЖОЛЫ", "ЖІБЕК ЖОЛЫ"}, kRoad, "59401"},
    {{"PTR", "ПЕТРОПАВЛОВСК", "ПЕТРОПАВЛ"}, kRail, "59201"},
};
struct Destination {
  DictItem country;
  int checkpoint;
  bool id_card_ok;  // EAEU partners admit citizens with the ID card
};
const Destination kDestinations[] = {
    {{"792", "ТУРЦИЯ", "ТҮРКИЯ"}, 0, false},        {{"784", "ОАЭ", "БАӘ"}, 1, false},
    {{"643", "РОССИЯ", "РЕСЕЙ"}, 5, true},          {{"417", "КЫРГЫЗСТАН", "ҚЫРҒЫЗСТАН"}, 3, true},
    {{"860", "УЗБЕКИСТАН", "ӨЗБЕКСТАН"}, 4, false}, {{"156", "КИТАЙ", "ҚЫТАЙ"}, 2, false},
    {{"764", "ТАИЛАНД", "ТАЙЛАНД"}, 0, false},      {{"276", "ГЕРМАНИЯ", "ГЕРМАНИЯ"}, 1, false},
};
const DictItem kExit{"1", "ВЫЕЗД", "ШЫҒУ"}, kEntry{"2", "ВЪЕЗД", "КІРУ"};
const DictItem kPassportType{"001", "ПАСПОРТ РК", "ҚР ПАСПОРТЫ"};
const DictItem kForeignPassport{"010", "ПАСПОРТ ИНОСТРАННОГО ГОСУДАРСТВА", "ШЕТ МЕМЛЕКЕТ ПАСПОРТЫ"};

int age_of(const Person& p) {
  return age_at_today(p.birth_year, p.birth_month, p.birth_day);
}

std::string time_of_day(Rng& rng) {
  return "T" + digits(rng.between(0, 23), 2) + ":" + digits(rng.below(60), 2) + ":00";
}

json doc_json(const DictItem& type, const std::string& number) {
  return {{"type", dict_json(type)}, {"number", number}};
}

json person_short(const Person& p) {
  return {{"iin", p.iin}, {"fullName", full_name(p)}};
}

std::string ddmmyy(int64_t day) {
  const std::string d = day_string(day);  // YYYY-MM-DD
  return d.substr(8, 2) + d.substr(5, 2) + d.substr(2, 2);
}

// A customs declaration number post/DDMMYY/KNNNRRR of the owner.
std::string declaration_number(std::string_view post, int64_t day, Owner o, Rng& rng) {
  return std::string(post) + "/" + ddmmyy(day) + "/" + owner_code(o) + digits(rng.below(1000), 3);
}

std::optional<Owner> owner_from_declaration(const std::string& v) {
  return v.size() == 20 ? parse_owner_code(std::string_view(v).substr(13, 4)) : std::nullopt;
}

// ---- foreigners ----

struct Visit {
  int64_t in_day = 0, out_day = -1;  // out_day -1: still in the country
  int checkpoint = 0;
};

std::vector<Visit> visits_of(uint32_t k) {
  Rng rng("foreign-visits", std::to_string(k));
  std::vector<Visit> out;
  const int count = static_cast<int>(rng.between(1, 3));
  int64_t day = today_days() - rng.between(500, 1000);
  for (int i = 0; i < count; ++i) {
    Visit v;
    v.in_day = day + rng.between(10, 200);
    v.checkpoint = static_cast<int>(rng.below(std::size(kCheckpoints)));
    if (v.in_day >= today_days() - 5) break;
    const bool last = i == count - 1;
    if (!last || rng.chance(50))
      v.out_day = std::min(v.in_day + rng.between(5, 80), today_days() - 1);
    out.push_back(v);
    if (v.out_day < 0) break;
    day = v.out_day;
  }
  return out;
}

json foreigner_json(uint32_t k) {
  const Person p = person_for(synthetic_foreign_iin(k));
  return {{"iin", p.iin},
          {"surname", p.surname},
          {"name", p.name},
          {"engSurname", p.eng_surname},
          {"engFirstName", p.eng_first_name},
          {"birthDate", p.birth_date},
          {"gender", p.male ? dict("1", "Мужской", "Ер") : dict("2", "Женский", "Әйел")},
          {"citizenship", dict_json(p.citizenship)},
          {"passport", doc_json(kForeignPassport, foreign_passport_of(k))}};
}

// The foreigner a person key designates (the foreigner's own IIN or travel document).
std::optional<uint32_t> foreigner_of(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return std::nullopt;
  return foreigner_index(*iin);
}

}  // namespace

std::optional<std::string> passport_of(uint32_t resident) {
  const Person p = person_for(synthetic_iin(resident));
  Rng rng("passport", p.iin);
  if (age_of(p) < 18 || !rng.chance(45)) return std::nullopt;
  return "N" + digits(rng.below(10000), 4) + owner_code({Kind::Resident, resident});
}

std::string foreign_passport_of(uint32_t foreigner) {
  const Person p = person_for(synthetic_foreign_iin(foreigner));
  Rng rng("foreign-passport", p.iin);
  // Series letters by issuing country (synthetic), then 3 digits and the owner code.
  const std::string& c = p.citizenship.code;
  const char* series = c == "417"   ? "AC"
                       : c == "860" ? "FA"
                       : c == "643" ? "RP"
                       : c == "156" ? "EA"
                                    : "EM";
  return series + digits(rng.below(1000), 3) + owner_code({Kind::Foreigner, foreigner});
}

std::vector<Trip> trips_of(uint32_t resident) {
  std::vector<Trip> out;
  const Person p = person_for(synthetic_iin(resident));
  if (age_of(p) < 18) return out;
  const bool passport = passport_of(resident).has_value();
  Rng rng("trips", p.iin);
  if (!passport && !rng.chance(20)) return out;
  const int count = static_cast<int>(rng.between(1, 4));
  int64_t day = today_days() - 3 * 365;
  for (int i = 0; i < count; ++i) {
    Trip t;
    t.out_day = day + rng.between(20, 250);
    if (t.out_day > today_days() - 30) break;
    t.back_day = t.out_day + rng.between(3, 21);
    t.country = static_cast<int>(rng.below(std::size(kDestinations)));
    if (!passport)  // ID card only: Russia or Kyrgyzstan
      t.country = rng.chance(50) ? 2 : 3;
    t.checkpoint = kDestinations[t.country].checkpoint;
    t.passport = passport && !(kDestinations[t.country].id_card_ok && rng.chance(50));
    out.push_back(t);
    day = t.back_day;
  }
  return out;
}

// ---- R23 border crossings by citizens ----

Result<json> generate_r23_border_citizens(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  json list = json::array();
  if (auto n = resident_index(*iin)) {
    const auto passport = passport_of(*n);
    Rng rng("r23", p.iin);
    for (const Trip& t : trips_of(*n)) {
      const Checkpoint& cp = kCheckpoints[t.checkpoint];
      json doc = t.passport ? doc_json(kPassportType, *passport)
                            : doc_json(p.id_card->type, p.id_card->number);
      for (int leg = 0; leg < 2; ++leg) {
        const int64_t day = leg == 0 ? t.out_day : t.back_day;
        list.push_back(
            {{"date_time", day_string(day) + time_of_day(rng) + "+05:00"},
             {"direction", dict_json(leg == 0 ? kExit : kEntry)},
             {"checkpoint", dict_json(cp.point)},
             {"transport_mode", dict_json(cp.mode)},
             {"transport", cp.mode.code == "1" ? "РЕЙС KC" + digits(rng.between(100, 999), 3)
                           : cp.mode.code == "3" ? "ПОЕЗД " + digits(rng.between(1, 99), 3) + "Х"
                                                 : "АВТОБУС"},
             {"country", dict_json(kDestinations[t.country].country)},
             {"document", doc}});
      }
    }
  }
  if (key_name == "document_number")
    (void)keep_only(list, [&](const json& e) { return e["document"]["number"] == value; });
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"crossings", std::move(list)}};
}

// ---- R24 border crossings by foreigners ----

Result<json> generate_r24_border_foreigners(std::string_view key_name, const std::string& value) {
  auto k = foreigner_of(key_name, value);
  if (!k) return not_found("no foreign citizen with this document or name");
  Rng rng("r24", std::to_string(*k));
  const std::string passport = foreign_passport_of(*k);
  json list = json::array();
  for (const Visit& v : visits_of(*k)) {
    const Checkpoint& cp = kCheckpoints[v.checkpoint];
    const std::string card = "MK" + digits(rng.below(100000000), 8);
    for (int leg = 0; leg < (v.out_day < 0 ? 1 : 2); ++leg) {
      list.push_back(
          {{"date_time", day_string(leg == 0 ? v.in_day : v.out_day) + time_of_day(rng) + "+05:00"},
           {"direction", dict_json(leg == 0 ? kEntry : kExit)},
           {"checkpoint", dict_json(cp.point)},
           {"transport_mode", dict_json(cp.mode)},
           {"document", doc_json(kForeignPassport, passport)},
           {"migration_card_number", card},
           {"purpose",
            rng.chance(60) ? dict("1", "ЧАСТНАЯ", "ЖЕКЕ") : dict("2", "ДЕЛОВАЯ", "ІСКЕРЛІК")}});
    }
  }
  return json{{"foreigner", foreigner_json(*k)}, {"crossings", std::move(list)}};
}

// ---- R29 passenger customs declarations ----

namespace {

json declarant_json(const Subject& s) {
  return {{"iin_bin", s.id}, {"name", s.name}};
}

json passenger_declarations(uint32_t n) {
  json list = json::array();
  const Person p = person_for(synthetic_iin(n));
  Rng rng("r29", p.iin);
  const auto passport = passport_of(n);
  for (const Trip& t : trips_of(n)) {
    const Checkpoint& cp = kCheckpoints[t.checkpoint];
    if (cp.mode.code != "1" || !rng.chance(35)) continue;  // declared on return by air
    const int64_t cash = rng.between(10'001, 30'000) * 100;
    list.push_back({{"declaration_number",
                     declaration_number(cp.customs_post, t.back_day, {Kind::Resident, n}, rng)},
                    {"date", day_string(t.back_day)},
                    {"customs_post",
                     dict(cp.customs_post, "Т/П " + cp.point.name_ru, cp.point.name_kz + " К/Б")},
                    {"direction", dict_json(kEntry)},
                    {"document", t.passport ? doc_json(kPassportType, *passport)
                                            : doc_json(p.id_card->type, p.id_card->number)},
                    {"transport", "РЕЙС KC" + digits(rng.between(100, 999), 3)},
                    {"currency", json::array({{{"code", "USD"}, {"amount", format_tiyn(cash)}}})},
                    {"goods", json::array()},
                    {"customs_payments", "0.00"}});
  }
  return list;
}

}  // namespace

Result<json> generate_r29_passenger_declarations(std::string_view key_name,
                                                 const std::string& value) {
  std::string iin;
  if (key_name == "declaration_number") {
    auto o = owner_from_declaration(value);
    if (!o || o->kind != Kind::Resident) return not_found("no such declaration");
    iin = synthetic_iin(o->index);
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    iin = *r;
  }
  const Subject s = subject_of(iin);
  json list = json::array();
  if (auto n = resident_index(iin)) list = passenger_declarations(*n);
  if (key_name == "declaration_number") {
    if (Status st =
            keep_only(list, [&](const json& e) { return e["declaration_number"] == value; });
        !st)
      return st.error();
  } else if (key_name == "document_number") {
    (void)keep_only(list, [&](const json& e) { return e["document"]["number"] == value; });
  }
  return json{{"declarant", declarant_json(s)}, {"declarations", std::move(list)}};
}

// ---- R30 vehicle customs declarations ----

Result<json> generate_r30_vehicle_declarations(std::string_view key_name,
                                               const std::string& value) {
  std::optional<Owner> owner;
  std::string id;
  if (key_name == "declaration_number" || key_name == "vin") {
    owner = key_name == "vin"
                ? (value.size() == 17 ? parse_owner_code(std::string_view(value).substr(11, 4))
                                      : std::nullopt)
                : owner_from_declaration(value);
    if (!owner) return not_found("no such declaration");
    id = id_of(*owner);
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    id = *r;
    owner = owner_of_id(id);
  }
  const Subject s = subject_of(id);
  json list = json::array();
  if (owner) {
    Rng rng("r30", owner_code(*owner));
    // The declarant's identity document: the owner's, or the director's for a company.
    const Person who = person_for(
        owner->kind == Kind::Company ? synthetic_iin(company_for(owner->index).director) : id);
    const json document = who.id_card ? doc_json(who.id_card->type, who.id_card->number) : json();
    for (const Vehicle& v : vehicles_of(*owner)) {
      if (!v.imported) continue;
      const int64_t reg = *time::parse_date(v.reg_date);
      const int64_t day = reg - rng.between(5, 30);
      const Checkpoint& cp = kCheckpoints[rng.below(std::size(kCheckpoints))];
      const int64_t value_tiyn = rng.between(2'000'000, 25'000'000) * 100;
      list.push_back({{"declaration_number", declaration_number(cp.customs_post, day, *owner, rng)},
                      {"date", day_string(day)},
                      {"customs_post",
                       dict(cp.customs_post, "Т/П " + cp.point.name_ru, cp.point.name_kz + " К/Б")},
                      {"document", document},
                      {"vehicle",
                       {{"brand", v.brand},
                        {"vin", v.vin},
                        {"release_year", v.year},
                        {"engine_volume", v.engine_cc}}},
                      {"customs_value", format_tiyn(value_tiyn)},
                      {"duties_paid", format_tiyn(value_tiyn / 100 * 15 + rng.between(1, 99))},
                      {"clearance_status", dict("10", "ВЫПУСК РАЗРЕШЁН", "ШЫҒАРУҒА РҰҚСАТ ЕТІЛДІ")},
                      {"clearance_date", day_string(day + rng.between(0, 3))}});
    }
  }
  if (key_name == "declaration_number" || key_name == "vin") {
    const bool by_vin = key_name == "vin";
    if (Status st = keep_only(list,
                              [&](const json& e) {
                                return by_vin ? e["vehicle"]["vin"] == value
                                              : e["declaration_number"] == value;
                              });
        !st)
      return st.error();
  } else if (key_name == "document_number") {
    (void)keep_only(list, [&](const json& e) { return e["document"]["number"] == value; });
  }
  return json{{"declarant", declarant_json(s)}, {"declarations", std::move(list)}};
}

// ---- R31 foreign labour force (employers' permits) ----

namespace {

// Foreigner k (if hired, 25%) works for company 73k mod 900 (never a state body).
std::optional<uint32_t> labour_employer(uint32_t k) {
  if (!Rng("r31", std::to_string(k)).chance(25)) return std::nullopt;
  return (k * 73) % 900;
}

json labour_permit(uint32_t k, uint32_t m) {
  Rng rng("r31-permit", std::to_string(k));
  const Person w = person_for(synthetic_foreign_iin(k));
  const Company c = company_for(m);
  const int64_t issued = today_days() - rng.between(20, 330);
  static const char* kJobs[] = {"ИНЖЕНЕР-ТЕХНОЛОГ", "СВАРЩИК", "ПРОГРАММИСТ", "ПОВАР", "ГЕОЛОГ"};
  return {{"permit_number", register_number("IRS", {Kind::Foreigner, k}, rng.next())},
          {"issue_date", day_string(issued)},
          {"valid_to", day_string(issued + 365)},
          {"employer", {{"bin", c.bin}, {"name", c.name_ru}}},
          {"quota_category", dict("3", "СПЕЦИАЛИСТЫ", "МАМАНДАР")},
          {"worker",
           {{"iin", w.iin},
            {"fullName", full_name(w)},
            {"citizenship", dict_json(w.citizenship)},
            {"passport", foreign_passport_of(k)}}},
          {"profession", rng.pick(kJobs)},
          {"region", dict_json(c.address.region)},
          {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")}};
}

}  // namespace

Result<json> generate_r31_foreign_labour(std::string_view key_name, const std::string& value) {
  json list = json::array();
  if (key_name == "bin") {
    const uint32_t m = *company_index(value);
    // Solve 73k ≡ m (mod 900): 37 is the inverse of 73 modulo 900.
    for (uint32_t k = (m * 37) % 900; k < kPopulation; k += 900)
      if (labour_employer(k) == m) list.push_back(labour_permit(k, m));
  } else {
    auto iin = person_iin(key_name, value);
    if (!iin) return iin.error();
    if (auto k = foreigner_index(*iin))
      if (auto m = labour_employer(*k)) list.push_back(labour_permit(*k, *m));
  }
  return json{{"permits", std::move(list)}};
}

// ---- R35 Kazakhstan Temir Zholy (railway tickets) ----

Result<json> generate_r35_railway(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  json list = json::array();
  struct Station {
    const char *code, *name;
  };
  static const Station kStations[] = {{"2700000", "АСТАНА-1"},
                                      {"2700001", "НУРЛЫ ЖОЛ"},
                                      {"2700152", "АЛМАТЫ-2"},
                                      {"2700770", "ШЫМКЕНТ"},
                                      {"2708000", "КАРАГАНДЫ-ПАСС."}};
  if (resident_index(*iin) && p.id_card) {
    Rng rng("r35", p.iin);
    const int count = rng.chance(35) ? static_cast<int>(rng.between(1, 4)) : 0;
    for (int i = 0; i < count; ++i) {
      const size_t a = rng.below(std::size(kStations));
      const size_t b = (a + 1 + rng.below(std::size(kStations) - 1)) % std::size(kStations);
      const int64_t dep = today_days() - rng.between(3, 700);
      const int hours = static_cast<int>(rng.between(8, 20));
      const std::string t = digits(rng.between(0, 23), 2) + ":" + digits(rng.below(60), 2);
      const int64_t fare = rng.between(6'000, 35'000) * 100;
      list.push_back(
          {{"ticket_number", "T" + digits(rng.below(1000000000), 9)},
           {"order_number", digits(rng.below(100000000), 8)},
           {"sale_date", day_string(dep - rng.between(1, 30))},
           {"train_number", digits(rng.between(1, 120), 3) + "Ц"},
           {"departure_station", {{"code", kStations[a].code}, {"name", kStations[a].name}}},
           {"arrival_station", {{"code", kStations[b].code}, {"name", kStations[b].name}}},
           {"departure_datetime", day_string(dep) + "T" + t + ":00+05:00"},
           {"arrival_datetime", day_string(dep + (hours > 12 ? 1 : 0)) + "T" + t + ":00+05:00"},
           {"car", digits(rng.between(1, 18), 2)},
           {"seat", digits(rng.between(1, 54), 3)},
           {"class", rng.chance(70) ? "КУПЕ" : "ПЛАЦКАРТ"},
           {"document", doc_json(p.id_card->type, p.id_card->number)},
           {"fare", format_tiyn(fare)},
           {"status", dep < today_days() ? dict("3", "ИСПОЛЬЗОВАН", "ПАЙДАЛАНЫЛДЫ")
                                         : dict("1", "ПРОДАН", "САТЫЛДЫ")}});
    }
  }
  return json{{"passenger", person_short(p)}, {"tickets", std::move(list)}};
}

// ---- R44 registration of foreigners temporarily staying ----

namespace {

// Foreigner k stays with resident k (k even) or company k (k odd) when registered (60%).
std::optional<Owner> host_of(uint32_t k) {
  if (!Rng("r44", std::to_string(k)).chance(60)) return std::nullopt;
  return Owner{k % 2 == 0 ? Kind::Resident : Kind::Company, k};
}

json registrations_of(uint32_t k) {
  json list = json::array();
  auto host = host_of(k);
  if (!host) return list;
  Rng rng("r44-reg", std::to_string(k));
  const Subject h = subject_of(id_of(*host));
  const Address where =
      host->kind == Kind::Company ? company_for(host->index).address : person_for(h.id).reg_address;
  for (const Visit& v : visits_of(k)) {
    const int64_t to = v.out_day >= 0 ? v.out_day : v.in_day + 90;
    list.push_back({{"foreigner", foreigner_json(k)},
                    {"entry_date", day_string(v.in_day)},
                    {"checkpoint", dict_json(kCheckpoints[v.checkpoint].point)},
                    {"migration_card_number", "MK" + digits(rng.below(100000000), 8)},
                    {"purpose", host->kind == Kind::Company ? dict("2", "ДЕЛОВАЯ", "ІСКЕРЛІК")
                                                            : dict("1", "ЧАСТНАЯ", "ЖЕКЕ")},
                    {"host", {{"iin_bin", h.id}, {"name", h.name}}},
                    {"address", {{"rca", where.ar_code}, {"text", address_text(where)}}},
                    {"period_from", day_string(v.in_day)},
                    {"period_to", day_string(to)},
                    {"registering_unit", "УМС ДП " + where.region.name_ru},
                    {"status", v.out_day >= 0 ? dict("2", "СНЯТ С УЧЁТА", "ЕСЕПТЕН ШЫҒАРЫЛДЫ")
                                              : dict("1", "НА УЧЁТЕ", "ЕСЕПТЕ")}});
  }
  return list;
}

}  // namespace

Result<json> generate_r44_foreigner_registration(std::string_view key_name,
                                                 const std::string& value) {
  json list = json::array();
  if (key_name == "bin" || key_name == "iin") {
    auto o = owner_of_id(value);
    if (o && o->kind == Kind::Foreigner) list = registrations_of(o->index);
    // A host: resident k or company k hosts foreigner k (see host_of).
    if (o && o->kind != Kind::Foreigner && host_of(o->index) == o)
      list = registrations_of(o->index);
  } else {
    auto k = foreigner_of(key_name, value);
    if (!k) return not_found("no foreign citizen with this document or name");
    list = registrations_of(*k);
  }
  return json{{"registrations", std::move(list)}};
}

// ---- R45 residence permits of foreigners and stateless persons ----

Result<json> generate_r45_residence_permits(std::string_view key_name, const std::string& value) {
  std::string iin;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "VNZ");
    if (!o) return bad_key("a residence-permit decision number is VNZ-KNNN-NNNN");
    if (o->kind != Kind::Foreigner) return not_found("no such permit");
    iin = synthetic_foreign_iin(o->index);
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    iin = *r;
  }
  const Person p = person_for(iin);
  json list = json::array();
  auto k = foreigner_index(iin);
  if (k && p.id_card) {
    Rng rng("r45", p.iin);
    list.push_back(
        {{"permit_number", register_number("VNZ", {Kind::Foreigner, *k}, rng.next())},
         {"permit_type", dict("1", "РАЗРЕШЕНИЕ НА ПОСТОЯННОЕ ПРОЖИВАНИЕ", "ТҰРАҚТЫ ТҰРУҒА РҰҚСАТ")},
         {"document_number", p.id_card->number},
         {"issue_date", p.id_card->begin_date},
         {"expiry_date", p.id_card->end_date},
         {"issuing_unit", "УМС ДП " + p.reg_address.region.name_ru},
         {"citizenship", dict_json(p.citizenship)},
         {"address", address_text(p.reg_address)},
         {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")}});
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["permit_number"] == value; });
        !st)
      return st.error();
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"permits", std::move(list)}};
}

// ---- R46 work permits for foreigners employed by individuals ----

namespace {

// Resident k employs foreigner k (k even, 15%), with monthly advance income-tax payments.
bool works_for_individual(uint32_t k) {
  return k % 2 == 0 && Rng("r46", std::to_string(k)).chance(15) &&
         age_at_today(person_for(synthetic_iin(k)).birth_year, 1, 1) >= 25;
}

json work_permit(uint32_t k) {
  Rng rng("r46-permit", std::to_string(k));
  const Person w = person_for(synthetic_foreign_iin(k));
  const Person e = person_for(synthetic_iin(k));
  const int64_t from = today_days() - rng.between(20, 300);
  const int months = static_cast<int>(rng.between(3, 12));
  json payments = json::array();
  for (int i = 0; i < months && from + 30 * i < today_days(); ++i) {
    const std::string d = day_string(from + 30 * i);
    payments.push_back(
        {{"month", d.substr(0, 7)}, {"amount", format_tiyn(393200 + rng.between(1, 99))}});
  }
  return {{"permit_number", register_number("TI", {Kind::Foreigner, k}, rng.next())},
          {"issue_date", day_string(from)},
          {"valid_from", day_string(from)},
          {"valid_to", day_string(from + 30 * months)},
          {"region", dict_json(e.reg_address.region)},
          {"employer", person_short(e)},
          {"worker",
           {{"iin", w.iin},
            {"fullName", full_name(w)},
            {"citizenship", dict_json(w.citizenship)},
            {"passport", foreign_passport_of(k)}}},
          {"advance_payments", std::move(payments)},
          {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")}};
}

}  // namespace

Result<json> generate_r46_work_permits(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  json list = json::array();
  if (auto k = foreigner_index(*iin); k && works_for_individual(*k))
    list.push_back(work_permit(*k));
  if (auto n = resident_index(*iin); n && works_for_individual(*n)) list.push_back(work_permit(*n));
  return json{{"permits", std::move(list)}};
}

// ---- R48 invitations on private matters ----

namespace {

// Resident k (adult, 12%) invites foreigner k.
bool invites(uint32_t k) {
  const Person p = person_for(synthetic_iin(k));
  return age_of(p) >= 21 && Rng("r48", std::to_string(k)).chance(12);
}

json invitation(uint32_t k) {
  Rng rng("r48-inv", std::to_string(k));
  const Person inviter = person_for(synthetic_iin(k));
  const Person guest = person_for(synthetic_foreign_iin(k));
  const int64_t day = today_days() - rng.between(10, 600);
  return {{"invitation_number", register_number("INV", {Kind::Resident, k}, rng.next())},
          {"invitation_date", day_string(day)},
          {"inviter", person_short(inviter)},
          {"invitee",
           {{"iin", guest.iin},
            {"fullName", full_name(guest)},
            {"citizenship", dict_json(guest.citizenship)},
            {"passport", foreign_passport_of(k)},
            {"birthDate", guest.birth_date}}},
          {"visa_type", dict("B10", "ЧАСТНАЯ", "ЖЕКЕ")},
          {"multiplicity", rng.chance(70) ? "ОДНОКРАТНАЯ" : "ДВУКРАТНАЯ"},
          {"period_from", day_string(day + 20)},
          {"period_to", day_string(day + 20 + 30 * rng.between(1, 3))},
          {"purpose", "ПОСЕЩЕНИЕ РОДСТВЕННИКОВ"},
          {"status", dict("2", "СОГЛАСОВАНО", "КЕЛІСІЛДІ")}};
}

}  // namespace

Result<json> generate_r48_invitations(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  json list = json::array();
  if (auto n = resident_index(*iin); n && invites(*n)) list.push_back(invitation(*n));
  if (auto k = foreigner_index(*iin); k && invites(*k)) list.push_back(invitation(*k));
  return json{{"invitations", std::move(list)}};
}

}  // namespace aaj::sim::internal
