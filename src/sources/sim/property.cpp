// Property and vehicles: R03 real estate, R04 land plots, R05 vehicles, R06 weapons, R07 railway
// wagons, R08 small vessels, R09 sea vessels, R10 agricultural machinery. Every identifier embeds
// its owner's code (internal.h), so a reverse lookup regenerates the owner's list and keeps the
// item with exactly that identifier.
#include "core/ids.h"
#include "core/time.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

constexpr std::string_view kLatin = "ABCDEFGHJKLMNPRSTUVWXYZ";  // plate letters (no I, O, Q)
constexpr std::string_view kVinChars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
// Cyrillic letters used on machinery plates (those that look the same in Latin).
constexpr std::string_view kCyrPlate[] = {"А", "В", "Е", "К", "М", "Н", "О", "Р", "С", "Т", "Х"};

std::string letters(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kLatin[rng.below(kLatin.size())];
  return s;
}

std::string vin_chars(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kVinChars[rng.below(kVinChars.size())];
  return s;
}

// The owner's home (resident: registered address; company: legal address).
Address home_of(Owner o) {
  if (o.kind == Kind::Company) return company_for(o.index).address;
  return person_for(id_of(o)).reg_address;
}

int age_of_owner(Owner o) {
  if (o.kind == Kind::Company) return 100;
  const Person p = person_for(id_of(o));
  return age_at_today(p.birth_year, p.birth_month, p.birth_day);
}

int64_t owner_since(Owner o) {
  if (o.kind == Kind::Company) return *time::parse_date(company_for(o.index).registration_date);
  const Person p = person_for(id_of(o));
  return days_of(p.birth_year + 18, p.birth_month, p.birth_month == 2 ? 28 : p.birth_day);
}

int64_t day_between(Rng& rng, int64_t from, int64_t to) {
  return rng.between(from, to < from ? from : to);
}

Rng owner_stream(std::string_view domain, Owner o) {
  return Rng(domain, owner_code(o));
}

// Resolves the owner of a reverse key (decoded owner code) into a Subject.
Subject subject_from_owner(Owner o) {
  return subject_of(id_of(o));
}

struct Model {
  std::string_view brand, model, wmi;
  int cc, weight, max_weight;
  bool truck;
};
constexpr Model kModels[] = {
    {"TOYOTA", "CAMRY", "JTN", 2494, 1500, 2000, false},
    {"HYUNDAI", "TUCSON", "KMH", 1999, 1520, 2050, false},
    {"LADA", "GRANTA", "XTA", 1596, 1160, 1560, false},
    {"KIA", "RIO", "Z94", 1591, 1160, 1610, false},
    {"CHEVROLET", "COBALT", "XWB", 1485, 1100, 1500, false},
    {"VOLKSWAGEN", "POLO", "XW8", 1598, 1150, 1610, false},
    {"LEXUS", "RX 350", "JTJ", 3456, 2050, 2600, false},
    {"HYUNDAI", "ACCENT", "KMH", 1591, 1150, 1600, false},
    {"GAZ", "3302", "X96", 2690, 1850, 3500, true},
    {"KAMAZ", "5490", "XTC", 11946, 7600, 18000, true},
};
constexpr std::string_view kColors[] = {"БЕЛЫЙ", "ЧЕРНЫЙ", "СЕРЕБРИСТЫЙ",
                                        "СЕРЫЙ", "СИНИЙ",  "КРАСНЫЙ"};

}  // namespace

std::vector<Vehicle> vehicles_of(Owner o) {
  std::vector<Vehicle> out;
  if (o.kind == Kind::Foreigner || age_of_owner(o) < 18) return out;
  Rng rng = owner_stream("vehicles", o);
  const bool company = o.kind == Kind::Company;
  int count = 0;
  if (rng.chance(company ? 60 : 45)) count = 1 + (rng.chance(company ? 50 : 12) ? 1 : 0);
  if (company && count == 2 && rng.chance(40)) count = 3;
  const Address home = home_of(o);
  for (int i = 0; i < count; ++i) {
    const Model& m = kModels[company ? rng.below(std::size(kModels)) : rng.below(8)];
    Vehicle v;
    v.brand = std::string(m.brand) + " " + std::string(m.model);
    v.model = m.model;
    v.year = static_cast<int>(rng.between(2005, 2025));
    v.engine_cc = m.cc;
    v.weight = m.weight;
    v.max_weight = m.max_weight;
    v.category = m.truck ? "N" : "M1";
    v.color = std::string(rng.pick(kColors));
    const int64_t reg =
        day_between(rng, std::max(owner_since(o), days_of(v.year, 3, 1)), today_days() - 10);
    v.reg_date = day_string(reg);
    v.plate = digits(o.index, 3) + " " + letters(rng, company ? 2 : 3) + " " +
              std::string(city_facts(home).plate_region);
    // WMI, descriptor, year and plant, then the serial: the owner code and two digits.
    v.vin = std::string(m.wmi) + vin_chars(rng, 6) +
            "ABCDEFGHJKLMNPRSTVWXY123456789"[(v.year - 2001) % 30] + vin_chars(rng, 1) +
            owner_code(o) + digits(rng.below(100), 2);
    v.srts = letters(rng, 2) + owner_code(o) + digits(rng.below(10000), 4);
    v.imported = rng.chance(35);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Estate> estates_of(Owner o) {
  std::vector<Estate> out;
  if (o.kind == Kind::Foreigner || age_of_owner(o) < 21) return out;
  Rng rng = owner_stream("estates", o);
  const bool company = o.kind == Kind::Company;
  const Address home = home_of(o);
  const CityFacts& f = city_facts(home);
  auto cadastre = [&](const Address& a) {
    // OO:RRR:KKK:UUU — the quarter starts with the owner kind, the plot number is the index.
    return std::string(f.cadastre) + ":" + a.district.code.substr(4) + ":" +
           std::string(1, static_cast<char>(o.kind)) + digits(rng.below(100), 2) + ":" +
           digits(o.index, 3);
  };
  if (rng.chance(company ? 50 : 65)) {
    Estate e;
    e.cadastral = cadastre(home) + ":" + std::to_string(rng.between(1, 9)) + ":" +
                  (company ? "1" + home.flat : home.flat);
    e.rca = home.ar_code;
    e.use_ru = company ? "НЕЖИЛОЕ ПОМЕЩЕНИЕ" : "КВАРТИРА";
    e.use_kz = company ? "ТҰРҒЫН ЕМЕС ҮЙ-ЖАЙ" : "ПӘТЕР";
    e.address = address_text(home);
    const int area = static_cast<int>(rng.between(company ? 400 : 320, company ? 3000 : 1400));
    e.area_total = std::to_string(area / 10) + "." + std::to_string(area % 10);
    const int useful = area * 6 / 10;
    e.area_useful = std::to_string(useful / 10) + "." + std::to_string(useful % 10);
    const int floors = static_cast<int>(rng.between(5, 16));
    e.floor = std::to_string(rng.between(1, floors)) + "/" + std::to_string(floors);
    // Bought when the owner registered there (R01 regAddress.beginDate).
    e.reg_date = company ? home.begin_date : person_for(id_of(o)).reg_address.begin_date;
    e.price_tiyn = rng.between(8'000'000, 90'000'000) * 100;
    out.push_back(std::move(e));
  }
  if (!company && rng.chance(15)) {
    Address a = address_in_city(rng, home, o);
    Estate e;
    e.house = true;
    e.cadastral = cadastre(a) + ":1";
    e.rca = a.ar_code;
    e.use_ru = "ЖИЛОЙ ДОМ";
    e.use_kz = "ТҰРҒЫН ҮЙ";
    e.address = address_text(a);
    const int area = static_cast<int>(rng.between(600, 3200));
    e.area_total = std::to_string(area / 10) + "." + std::to_string(area % 10);
    e.area_useful = std::to_string(area * 7 / 100) + "." + std::to_string(area * 7 / 10 % 10);
    e.floor = "1/" + std::to_string(rng.between(1, 2));
    e.reg_date = day_string(day_between(rng, owner_since(o) + 3 * 365, today_days() - 20));
    e.price_tiyn = rng.between(15'000'000, 150'000'000) * 100;
    out.push_back(std::move(e));
  }
  for (auto& e : out)
    e.basis = "ДОГОВОР КУПЛИ-ПРОДАЖИ № " + digits(rng.below(10000), 4) + " ОТ " + e.reg_date;
  return out;
}

// ---- R03 real-estate register ----

namespace {

std::optional<Owner> owner_from_cadastral(const std::string& v) {
  // OO:RRR:KKK:UUU[...]: owner kind = first digit of KKK, index = UUU.
  if (v.size() < 14) return std::nullopt;
  return parse_owner_code(v.substr(7, 1) + v.substr(11, 3));
}

std::optional<Owner> owner_from_rca(const std::string& v) {
  return v.size() == 16 ? parse_owner_code(std::string_view(v).substr(12)) : std::nullopt;
}

// Resolves an owner key (iin/bin, or a reverse key via `decode`) to the subject.
template <class Decode>
Result<Subject> resolve(std::string_view key_name, const std::string& value, Decode decode) {
  if (key_name == "iin" || key_name == "bin") return subject_of(value);
  std::optional<Owner> o = decode(key_name, value);
  if (!o) return not_found("no record with this identifier");
  return subject_from_owner(*o);
}

std::string plot_of(const std::string& cadastral) {
  // The first four segments (land plot) of a cadastral number.
  size_t pos = 0;
  for (int i = 0; i < 4 && pos != std::string::npos; ++i) pos = cadastral.find(':', pos + 1);
  return pos == std::string::npos ? cadastral : cadastral.substr(0, pos);
}

}  // namespace

Result<json> generate_r03_real_estate(std::string_view key_name, const std::string& value) {
  auto s = resolve(key_name, value, [](std::string_view k, const std::string& v) {
    return k == "rca" ? owner_from_rca(v) : owner_from_cadastral(v);
  });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner) {
    Rng rng = owner_stream("r03", *s->owner);
    int record = static_cast<int>(rng.between(1, 4));
    for (const Estate& e : estates_of(*s->owner)) {
      list.push_back({{"cadastral_number", e.cadastral},
                      {"rca", e.rca},
                      {"intended_use_rus", e.use_ru},
                      {"intended_use_kaz", e.use_kz},
                      {"estate_status", "актуальная"},
                      {"address_rus", e.address},
                      {"area_total", e.area_total},
                      {"area_useful", e.area_useful},
                      {"floor", e.floor},
                      {"type_of_property", s->company ? "частная (юридического лица)" : "частная"},
                      {"register_record_number", record++},
                      {"register_reg_date", e.reg_date},
                      {"register_emergence_rights", e.basis},
                      {"register_transaction_amount", format_tiyn(e.price_tiyn)},
                      {"register_status", "зарегистрировано"},
                      {"is_arrest", false},
                      {"is_pledge", rng.chance(20)}});
    }
  }
  if (key_name == "rca" || key_name == "cadastral_number") {
    const char* field = key_name == "rca" ? "rca" : "cadastral_number";
    if (Status st = keep_only(list, [&](const json& e) { return e[field] == value; }); !st)
      return st.error();
  }
  return json{{"owner_iin_bin", s->id}, {"owner_full_name", s->name}, {"estates", std::move(list)}};
}

// ---- R04 land plots (unified state land cadastre) ----

Result<json> generate_r04_land(std::string_view key_name, const std::string& value) {
  auto s = resolve(key_name, value, [](std::string_view k, const std::string& v) {
    return k == "rca" ? owner_from_rca(v) : owner_from_cadastral(v);
  });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner) {
    Rng rng = owner_stream("r04", *s->owner);
    for (const Estate& e : estates_of(*s->owner)) {
      const bool own = e.house;
      const bool lease = s->company;
      const int area = static_cast<int>(own ? rng.between(600, 1500) : rng.between(3000, 12000));
      const int64_t value_tiyn = static_cast<int64_t>(area) * rng.between(8000, 30000) * 100;
      list.push_back(
          {{"cadastral_number", plot_of(e.cadastral)},
           {"rca", e.rca},
           {"area_ha", "0." + digits(area, 4)},
           {"land_category", dict("1", "ЗЕМЛИ НАСЕЛЁННЫХ ПУНКТОВ", "ЕЛДІ МЕКЕНДЕРДІҢ ЖЕРЛЕРІ")},
           {"purpose", own ? "ДЛЯ ИНДИВИДУАЛЬНОГО ЖИЛИЩНОГО СТРОИТЕЛЬСТВА"
                       : lease ? "ДЛЯ ОБСЛУЖИВАНИЯ НЕЖИЛОГО ПОМЕЩЕНИЯ"
                               : "ДЛЯ ОБСЛУЖИВАНИЯ МНОГОКВАРТИРНОГО ЖИЛОГО ДОМА"},
           {"right_type",
            own ? dict("1", "ЧАСТНАЯ СОБСТВЕННОСТЬ", "ЖЕКЕ МЕНШІК")
            : lease
                ? dict("3", "ВРЕМЕННОЕ ВОЗМЕЗДНОЕ ЗЕМЛЕПОЛЬЗОВАНИЕ", "УАҚЫТША ӨТЕУЛІ ЖЕР ПАЙДАЛАНУ")
                : dict("2", "ОБЩАЯ ДОЛЕВАЯ СОБСТВЕННОСТЬ", "ОРТАҚ ҮЛЕСТІК МЕНШІК")},
           {"share", own ? "1/1" : "1/" + std::to_string(rng.between(40, 320))},
           {"divisibility", own ? "ДЕЛИМЫЙ" : "НЕДЕЛИМЫЙ"},
           {"encumbrances", json::array()},
           {"cadastral_value", format_tiyn(value_tiyn)},
           {"kato", city_facts(home_of(*s->owner)).kato},
           {"address", e.address},
           {"registration_date", e.reg_date}});
    }
  }
  if (key_name == "rca") {
    if (Status st = keep_only(list, [&](const json& e) { return e["rca"] == value; }); !st)
      return st.error();
  } else if (key_name == "cadastral_number") {
    const std::string plot = plot_of(value);
    if (Status st = keep_only(list, [&](const json& e) { return e["cadastral_number"] == plot; });
        !st)
      return st.error();
  }
  return json{
      {"right_holder_iin_bin", s->id}, {"right_holder_name", s->name}, {"plots", std::move(list)}};
}

// ---- R05 vehicles ----

namespace {

std::optional<Owner> owner_from_plate(const std::string& v) {
  // Cars: "NNN LLL RR" (person) or "NNN LL RR" (legal entity); machinery: "KNNN ЛЛ RR".
  if (v.size() == 10 && v[3] == ' ' && v[7] == ' ')
    return Owner{Kind::Resident, static_cast<uint32_t>(std::stoi(v.substr(0, 3)))};
  if (v.size() == 9 && v[3] == ' ' && v[6] == ' ')
    return Owner{Kind::Company, static_cast<uint32_t>(std::stoi(v.substr(0, 3)))};
  if (v.size() > 4 && v[4] == ' ') return parse_owner_code(v.substr(0, 4));
  return std::nullopt;
}

std::optional<Owner> owner_from_vin(const std::string& v) {
  if (v.size() == 17) return parse_owner_code(v.substr(11, 4));
  if (v.size() >= 8) return parse_owner_code(v.substr(0, 4));  // machinery serial
  return std::nullopt;
}

}  // namespace

Result<json> generate_r05_vehicles(std::string_view key_name, const std::string& value) {
  if (key_name == "register_number" &&
      (value.size() != 10 || value[0] < 'A' || value[0] > 'Z' || value[1] < 'A' || value[1] > 'Z' ||
       !all_digits(std::string_view(value).substr(2))))
    return bad_key("a registration certificate number is two letters and eight digits");
  auto s = resolve(key_name, value, [](std::string_view k, const std::string& v) {
    if (k == "plate") return owner_from_plate(v);
    if (k == "vin") return owner_from_vin(v);
    return parse_owner_code(std::string_view(v).substr(2, 4));
  });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner) {
    for (const Vehicle& v : vehicles_of(*s->owner)) {
      list.push_back({{"brand", v.brand},
                      {"number", v.plate},
                      {"status", dict("1", "НА УЧЁТЕ", "ЕСЕПТЕ")},
                      {"reg_date", v.reg_date},
                      {"end_date", ""},
                      {"date_certificate", v.reg_date},
                      {"series_reg_number", v.srts},
                      {"vin_kuzov_shassi", v.vin},
                      {"release_year_tc", v.year},
                      {"engine_volume", v.engine_cc},
                      {"color", v.color},
                      {"weight", v.weight},
                      {"max_weight", v.max_weight},
                      {"category", v.category},
                      {"special_marks", v.imported ? "ВВЕЗЁН, ТАМОЖЕННОЕ ОФОРМЛЕНИЕ" : ""}});
    }
  }
  const char* field = key_name == "plate"             ? "number"
                      : key_name == "vin"             ? "vin_kuzov_shassi"
                      : key_name == "register_number" ? "series_reg_number"
                                                      : nullptr;
  if (field)
    if (Status st = keep_only(list, [&](const json& e) { return e[field] == value; }); !st)
      return st.error();
  return json{{"owner_iin_bin", s->id},
              {"owner_name", s->name},
              {"owner_category", s->company ? dict("2", "ЮЛ", "ЗТ") : dict("1", "ФЛ", "ЖТ")},
              {"vehicles", std::move(list)}};
}

// ---- R06 registered weapons ----

Result<json> generate_r06_weapons(std::string_view key_name, const std::string& value) {
  std::optional<Owner> from_number;
  if (key_name == "register_number") {
    from_number = parse_register_number(value, "GUN");
    if (!from_number) return bad_key("a weapon permit number is GUN-KNNN-NNNN");
  }
  auto s =
      resolve(key_name, value, [&](std::string_view, const std::string&) { return from_number; });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner && s->owner->kind != Kind::Foreigner) {
    Rng rng = owner_stream("r06", *s->owner);
    int count = 0;
    if (s->company) {
      const bool guards = company_for(s->owner->index).activity.code == "80100";
      if (rng.chance(guards ? 90 : 2)) count = static_cast<int>(rng.between(1, guards ? 4 : 1));
    } else {
      const Person p = person_for(s->id);
      if (age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 21 &&
          rng.chance(p.male ? 7 : 1))
        count = static_cast<int>(rng.between(1, 2));
    }
    struct Gun {
      const char *type_code, *type_ru, *type_kz, *model, *caliber;
    };
    static const Gun kGuns[] = {
        {"1", "ГЛАДКОСТВОЛЬНОЕ ОХОТНИЧЬЕ", "ТЕГІС ҰҢҒЫЛЫ АҢШЫЛЫҚ", "ИЖ-27", "12"},
        {"1", "ГЛАДКОСТВОЛЬНОЕ ОХОТНИЧЬЕ", "ТЕГІС ҰҢҒЫЛЫ АҢШЫЛЫҚ", "МР-153", "12"},
        {"2", "НАРЕЗНОЕ ОХОТНИЧЬЕ", "ОЙЫҚ ҰҢҒЫЛЫ АҢШЫЛЫҚ", "САЙГА-МК", "7.62x39"},
        {"3", "ТРАВМАТИЧЕСКОЕ", "ЖАРАҚАТТАУШЫ", "ПБ-4-2 «ОСА»", "18x45"},
        {"4", "СЛУЖЕБНОЕ", "ҚЫЗМЕТТІК", "ИЖ-71", "9x17"},
    };
    for (int i = 0; i < count; ++i) {
      const Gun& g = s->company ? kGuns[4] : kGuns[rng.below(4)];
      const int64_t issued = today_days() - rng.between(30, 5 * 365 - 30);
      list.push_back(
          {{"weapon_type", dict(g.type_code, g.type_ru, g.type_kz)},
           {"model", g.model},
           {"caliber", g.caliber},
           {"serial_number", digits(rng.below(10000000), 7)},
           {"manufacture_year", static_cast<int>(rng.between(1985, 2023))},
           {"permit",
            {{"type", s->company
                          ? dict("3", "НА ХРАНЕНИЕ И ИСПОЛЬЗОВАНИЕ", "САҚТАУҒА ЖӘНЕ ПАЙДАЛАНУҒА")
                          : dict("2", "НА ХРАНЕНИЕ И НОШЕНИЕ", "САҚТАУҒА ЖӘНЕ АЛЫП ЖҮРУГЕ")},
             {"number", register_number("GUN", *s->owner, rng.next())},
             {"issue_date", day_string(issued)},
             {"expiry_date", day_string(issued + 5 * 365)},
             {"issuing_unit", "ОТДЕЛ ПОЛИЦИИ " + home_of(*s->owner).district.name_ru}}},
           {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["permit"]["number"] == value; });
        !st)
      return st.error();
  return json{{"owner_iin_bin", s->id}, {"owner_name", s->name}, {"weapons", std::move(list)}};
}

// ---- R07 railway wagons ----

namespace {

// The check digit of an 8-digit wagon number: weights 2,1,2,1,... on the first seven digits,
// the digits of the products summed, then the complement to the next multiple of ten.
int wagon_check(std::string_view seven) {
  int sum = 0;
  for (size_t i = 0; i < 7; ++i) {
    int p = (seven[i] - '0') * (i % 2 == 0 ? 2 : 1);
    sum += p / 10 + p % 10;
  }
  return (10 - sum % 10) % 10;
}

}  // namespace

bool valid_wagon_number(std::string_view v) {
  return v.size() == 8 && all_digits(v) && wagon_check(v) == v[7] - '0';
}

Result<json> generate_r07_wagons(std::string_view key_name, const std::string& value) {
  auto s = resolve(key_name, value, [](std::string_view, const std::string& v) {
    return parse_owner_code(std::string_view(v).substr(1, 4));
  });
  if (!s) return s.error();
  if (!s->company) return not_found("wagons belong to legal entities");
  json list = json::array();
  if (s->owner) {
    Rng rng = owner_stream("r07", *s->owner);
    const bool carrier = company_for(s->owner->index).activity.code == "49410";
    const int count = rng.chance(carrier ? 60 : 5) ? static_cast<int>(rng.between(1, 5)) : 0;
    struct Type {
      char digit;
      const char *ru, *kz;
    };
    static const Type kTypes[] = {{'2', "КРЫТЫЙ ВАГОН", "ЖАБЫҚ ВАГОН"},
                                  {'4', "ПЛАТФОРМА", "ПЛАТФОРМА"},
                                  {'6', "ПОЛУВАГОН", "ЖАРТЫЛАЙ ВАГОН"},
                                  {'7', "ЦИСТЕРНА", "ЦИСТЕРНА"}};
    for (int i = 0; i < count; ++i) {
      const Type& t = rng.pick(kTypes);
      std::string num = std::string(1, t.digit) + owner_code(*s->owner) + digits(rng.below(100), 2);
      num += static_cast<char>('0' + wagon_check(num));
      list.push_back(
          {{"wagon_number", num},
           {"vagon_category", dict(std::string(1, t.digit), t.ru, t.kz)},
           {"vagon_type", t.ru},
           {"vagon_series", digits(rng.between(11, 99), 2) + "-" + digits(rng.below(1000), 3)},
           {"vagon_make_year", static_cast<int>(rng.between(1995, 2024))},
           {"doc_date", day_string(today_days() - rng.between(30, 3000))},
           {"status", dict("1", "В ЭКСПЛУАТАЦИИ", "ПАЙДАЛАНУДА")}});
    }
  }
  if (key_name == "wagon_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["wagon_number"] == value; }); !st)
      return st.error();
  return json{{"owner_bin", s->id}, {"owner_name", s->name}, {"wagons", std::move(list)}};
}

// ---- R08 river and small-size vessels ----

Result<json> generate_r08_small_vessels(std::string_view key_name, const std::string& value) {
  std::optional<Owner> from_number;
  if (key_name == "register_number") {
    from_number = parse_register_number(value, "KZS");
    if (!from_number) return bad_key("a small-vessel register number is KZS-KNNN-NNNN");
  }
  auto s =
      resolve(key_name, value, [&](std::string_view, const std::string&) { return from_number; });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner && s->owner->kind != Kind::Foreigner && age_of_owner(*s->owner) >= 21) {
    Rng rng = owner_stream("r08", *s->owner);
    if (rng.chance(s->company ? 4 : 3)) {
      static const char* kTypes[] = {"МОТОРНАЯ ЛОДКА", "ГИДРОЦИКЛ", "КАТЕР"};
      static const char* kEngines[] = {"YAMAHA F40", "SUZUKI DF60", "MERCURY 90", "TOHATSU M30"};
      static const DictItem kMakers[] = {
          {"643", "РОССИЯ", "РЕСЕЙ"}, {"392", "ЯПОНИЯ", "ЖАПОНИЯ"}, {"124", "КАНАДА", "КАНАДА"}};
      list.push_back({{"reg_number", register_number("KZS", *s->owner, rng.next())},
                      {"ikt", digits(rng.below(1000000), 6)},
                      {"purpuse", s->company ? "СЛУЖЕБНОЕ" : "ПРОГУЛОЧНОЕ"},
                      {"country_vt", dict_json(rng.pick(kMakers))},
                      {"type_vt", rng.pick(kTypes)},
                      {"name_engine", rng.pick(kEngines)},
                      {"build_year", static_cast<int>(rng.between(1995, 2024))},
                      {"reg_date", day_string(today_days() - rng.between(30, 4000))}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["reg_number"] == value; }); !st)
      return st.error();
  return json{{"owner_iin_bin", s->id}, {"owner_name", s->name}, {"vessels", std::move(list)}};
}

// ---- R09 sea vessels ----

namespace {

int imo_check(std::string_view six) {
  int sum = 0;
  for (int i = 0; i < 6; ++i) sum += (six[i] - '0') * (7 - i);
  return sum % 10;
}

}  // namespace

bool valid_imo_digits(std::string_view seven) {
  return seven.size() == 7 && all_digits(seven) && imo_check(seven) == seven[6] - '0';
}

Result<json> generate_r09_sea_vessels(std::string_view key_name, const std::string& value) {
  auto s = resolve(key_name, value, [](std::string_view, const std::string& v) {
    // IMO 9NNNRRC: ships belong to companies, NNN is the company index.
    return std::optional<Owner>(
        Owner{Kind::Company, static_cast<uint32_t>(std::stoi(v.substr(1, 3)))});
  });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner) {
    Rng rng = owner_stream("r09", *s->owner);
    const std::string oked = company_for(s->owner->index).activity.code;
    if (rng.chance(oked == "06100" || oked == "49410" ? 25 : 1)) {
      std::string imo = "9" + digits(s->owner->index, 3) + digits(rng.below(100), 2);
      imo += static_cast<char>('0' + imo_check(imo));
      static const char* kNames[] = {"АКТАУ", "КАСПИЙ", "МАНГИСТАУ", "ТУРАН", "АЛАТАУ"};
      static const char* kTypes[] = {"НЕФТЕНАЛИВНОЙ ТАНКЕР", "СУХОГРУЗ", "БУКСИР", "ПАРОМ"};
      list.push_back(
          {{"imo_number", "IMO " + imo},
           {"name", std::string(rng.pick(kNames)) + "-" + std::to_string(rng.between(1, 30))},
           {"flag", dict("398", "КАЗАХСТАН", "ҚАЗАҚСТАН")},
           {"port_of_registry", "АКТАУ"},
           {"ship_type", rng.pick(kTypes)},
           {"gross_tonnage", static_cast<int>(rng.between(300, 12000))},
           {"build_year", static_cast<int>(rng.between(1990, 2022))},
           {"registration_number", "ГСР-" + digits(rng.below(10000), 4)},
           {"registration_date", day_string(today_days() - rng.between(100, 5000))},
           {"status", dict("1", "ЗАРЕГИСТРИРОВАНО", "ТІРКЕЛГЕН")}});
    }
  }
  if (key_name == "imo_number")
    if (Status st =
            keep_only(list, [&](const json& e) { return e["imo_number"] == "IMO " + value; });
        !st)
      return st.error();
  if (!s->company) return not_found("sea vessels belong to legal entities");
  return json{{"owner_bin", s->id}, {"owner_name", s->name}, {"ships", std::move(list)}};
}

// ---- R10 agricultural machinery ----

Result<json> generate_r10_machinery(std::string_view key_name, const std::string& value) {
  auto s = resolve(key_name, value, [](std::string_view k, const std::string& v) {
    return k == "plate" ? owner_from_plate(v) : owner_from_vin(v);
  });
  if (!s) return s.error();
  json list = json::array();
  if (s->owner && s->owner->kind != Kind::Foreigner && age_of_owner(*s->owner) >= 25) {
    Rng rng = owner_stream("r10", *s->owner);
    const bool farm = s->company && company_for(s->owner->index).activity.code == "01110";
    const int count = rng.chance(farm         ? 85
                                 : s->company ? 6
                                              : 4)
                          ? static_cast<int>(rng.between(1, farm ? 4 : 1))
                          : 0;
    struct Machine {
      const char *model, *type;
    };
    static const Machine kMachines[] = {{"МТЗ-82.1 «БЕЛАРУС»", "ТРАКТОР"},
                                        {"К-701 «КИРОВЕЦ»", "ТРАКТОР"},
                                        {"ЮМЗ-6Л", "ТРАКТОР"},
                                        {"ДОН-1500Б", "КОМБАЙН"},
                                        {"CLAAS TUCANO 450", "КОМБАЙН"}};
    const std::string region(city_facts(home_of(*s->owner)).plate_region);
    for (int i = 0; i < count; ++i) {
      const Machine& m = rng.pick(kMachines);
      const int64_t reg = today_days() - rng.between(30, 6000);
      std::string plate = owner_code(*s->owner) + " " + std::string(rng.pick(kCyrPlate)) +
                          std::string(rng.pick(kCyrPlate)) + " " + region;
      list.push_back({{"equipment_model", m.model},
                      {"equipmentType", m.type},
                      {"reg_series_num", "ТС " + digits(rng.below(1000000), 6)},
                      {"govNumber", plate},
                      {"vin", owner_code(*s->owner) + digits(rng.below(10000), 4)},
                      {"reg_date", day_string(reg)},
                      {"end_date", ""},
                      {"end_reason", ""},
                      {"special_marks", ""}});
    }
  }
  const char* field = key_name == "plate" ? "govNumber" : key_name == "vin" ? "vin" : nullptr;
  if (field)
    if (Status st = keep_only(list, [&](const json& e) { return e[field] == value; }); !st)
      return st.error();
  return json{
      {"proprietor_iin_bin", s->id}, {"proprietor_name", s->name}, {"equipment", std::move(list)}};
}

}  // namespace aaj::sim::internal
