// The shared synthetic world: persons derived from IINs, synthetic IINs, BINs and companies.
#include <algorithm>
#include <cstdio>

#include "core/ids.h"
#include "core/time.h"
#include "sources/sim/generator.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim {
namespace {

using internal::Rng;

struct NamePair {
  std::string_view cyr;  // upper-case Cyrillic
  std::string_view lat;  // upper-case Latin
};

// Male given names; every one ends in a consonant, so patronymics are name + suffix.
constexpr NamePair kMaleNames[] = {
    {"АЙДАР", "AIDAR"},        {"ЕРЛАН", "ERLAN"},    {"НУРЛАН", "NURLAN"}, {"СЕРИК", "SERIK"},
    {"БОЛАТ", "BOLAT"},        {"ДАУРЕН", "DAUREN"},  {"АСКАР", "ASKAR"},   {"ТИМУР", "TIMUR"},
    {"МАРАТ", "MARAT"},        {"АРМАН", "ARMAN"},    {"КАЙРАТ", "KAIRAT"}, {"ЕРБОЛ", "ERBOL"},
    {"БАУЫРЖАН", "BAUYRZHAN"}, {"ДАНИЯР", "DANIYAR"}, {"АЛМАС", "ALMAS"},   {"ЖАНДОС", "ZHANDOS"},
    {"РУСЛАН", "RUSLAN"},      {"ТАЛГАТ", "TALGAT"},  {"САКЕН", "SAKEN"},   {"КАНАТ", "KANAT"},
    {"МУРАТ", "MURAT"},        {"БЕРИК", "BERIK"},    {"АСЛАН", "ASLAN"},   {"ЕРЖАН", "ERZHAN"},
    {"НУРЖАН", "NURZHAN"},     {"АЗАМАТ", "AZAMAT"},  {"ДАМИР", "DAMIR"},   {"АРСЕН", "ARSEN"},
    {"РУСТАМ", "RUSTAM"},      {"БАХЫТ", "BAKHYT"},   {"ЕРНАР", "ERNAR"},   {"АЛИХАН", "ALIKHAN"},
};

constexpr NamePair kFemaleNames[] = {
    {"АСЕЛЬ", "ASSEL"},     {"ГУЛЬНАРА", "GULNARA"},  {"АЙГЕРИМ", "AIGERIM"},
    {"ДИНАРА", "DINARA"},   {"ЖАНАР", "ZHANAR"},      {"САУЛЕ", "SAULE"},
    {"АЛИЯ", "ALIYA"},      {"МАДИНА", "MADINA"},     {"КАМИЛА", "KAMILA"},
    {"АРУЖАН", "ARUZHAN"},  {"АЙЖАН", "AIZHAN"},      {"ГАУХАР", "GAUKHAR"},
    {"ЖУЛДЫЗ", "ZHULDYZ"},  {"САЛТАНАТ", "SALTANAT"}, {"БОТАГОЗ", "BOTAGOZ"},
    {"ДАНА", "DANA"},       {"ТОЛГАНАЙ", "TOLGANAI"}, {"МЕРУЕРТ", "MERUERT"},
    {"НАЗЕРКЕ", "NAZERKE"}, {"АНАР", "ANAR"},         {"ИНКАР", "INKAR"},
    {"АЯУЛЫМ", "AYAULYM"},  {"КАРИНА", "KARINA"},     {"ЛАУРА", "LAURA"},
    {"АСЕМ", "ASSEM"},      {"РАЙХАН", "RAIKHAN"},    {"АЙНУР", "AINUR"},
    {"МОЛДИР", "MOLDIR"},   {"ТОМИРИС", "TOMIRIS"},   {"ЗАРИНА", "ZARINA"},
};

// Male surnames; the female form appends "А" / "A" (-ОВ/-ЕВ -> -ОВА/-ЕВА).
constexpr NamePair kSurnames[] = {
    {"НУРЛАНОВ", "NURLANOV"},
    {"АХМЕТОВ", "AKHMETOV"},
    {"ЖУМАБЕКОВ", "ZHUMABEKOV"},
    {"СЕРИКБАЕВ", "SERIKBAYEV"},
    {"ИСКАКОВ", "ISKAKOV"},
    {"КАСЫМОВ", "KASSYMOV"},
    {"ОМАРОВ", "OMAROV"},
    {"СУЛЕЙМЕНОВ", "SULEIMENOV"},
    {"АБДРАХМАНОВ", "ABDRAKHMANOV"},
    {"ТОКТАРОВ", "TOKTAROV"},
    {"ЕСЕНОВ", "YESSENOV"},
    {"ЖАКУПОВ", "ZHAKUPOV"},
    {"БЕКМУХАМБЕТОВ", "BEKMUKHAMBETOV"},
    {"МУКАНОВ", "MUKANOV"},
    {"САДЫКОВ", "SADYKOV"},
    {"КАЛИЕВ", "KALIYEV"},
    {"НУРГАЛИЕВ", "NURGALIYEV"},
    {"БАЙМУХАНОВ", "BAIMUKHANOV"},
    {"ТУЛЕГЕНОВ", "TULEGENOV"},
    {"АЛИМЖАНОВ", "ALIMZHANOV"},
    {"КУАНЫШЕВ", "KUANYSHEV"},
    {"ДЖАКСЫБЕКОВ", "DZHAKSYBEKOV"},
    {"ЕРМЕКОВ", "YERMEKOV"},
    {"САРСЕНБАЕВ", "SARSENBAYEV"},
    {"ТЕМИРБЕКОВ", "TEMIRBEKOV"},
    {"ОСПАНОВ", "OSPANOV"},
    {"ИБРАЕВ", "IBRAYEV"},
    {"КЕНЖЕБАЕВ", "KENZHEBAYEV"},
    {"УТЕПОВ", "UTEPOV"},
    {"АБЕНОВ", "ABENOV"},
    {"ШАЙМЕРДЕНОВ", "SHAIMERDENOV"},
    {"ЖАНУЗАКОВ", "ZHANUZAKOV"},
};

// Nationality codes other than 005 are synthetic (the real GBDFL dictionary is not public).
const DictItem kKazakh{"005", "КАЗАХ", "ҚАЗАҚ"};
const DictItem kOtherNationalities[] = {
    {"007", "УЗБЕК", "ӨЗБЕК"},
    {"008", "ТАТАР", "ТАТАР"},
    {"011", "УЙГУР", "ҰЙҒЫР"},
};
const DictItem kKazakhstan{"398", "КАЗАХСТАН", "ҚАЗАҚСТАН"};

// Holders of century-digit-0 IINs (foreigners): citizenship codes are ISO 3166 numeric; the
// "abroad" region/district codes are synthetic.
struct ForeignCountry {
  DictItem country;
  std::string_view capital;
};
const ForeignCountry kForeignCountries[] = {
    {{"417", "КЫРГЫЗСТАН", "ҚЫРҒЫЗСТАН"}, "БИШКЕК"},
    {{"860", "УЗБЕКИСТАН", "ӨЗБЕКСТАН"}, "ТАШКЕНТ"},
    {{"643", "РОССИЯ", "РЕСЕЙ"}, "МОСКВА"},
    {{"156", "КИТАЙ", "ҚЫТАЙ"}, "УРУМЧИ"},
    {{"496", "МОНГОЛИЯ", "МОҢҒОЛИЯ"}, "УЛАН-БАТОР"},
};
const DictItem kAbroadRegion{"9999", "ЗА ПРЕДЕЛАМИ РК", "ҚР ШЕГІНЕН ТЫС"};
const DictItem kAbroadDistrict{"9999000", "ЗА ПРЕДЕЛАМИ РК", "ҚР ШЕГІНЕН ТЫС"};

const DictItem kIdCardType{"002", "УДОСТОВЕРЕНИЕ РК", "ҚР ЖЕКЕ КУӘЛІГІ"};
// Synthetic code: the GBDFL document-type dictionary beyond 002 is not public.
const DictItem kResidencePermitType{"003", "ВИД НА ЖИТЕЛЬСТВО ИНОСТРАНЦА В РК",
                                    "ШЕТЕЛДІКТІҢ ҚР-ДА ТҰРУҒА ЫҚТИЯРХАТЫ"};

struct CityDef {
  unsigned weight;  // relative share of residents
  DictItem region;  // synthetic GBDFL-style 4-digit code
  std::string_view city;
  DictItem districts[4];  // codes: region + 3 digits; unused slots have an empty code
  std::string_view streets[8];
  internal::CityFacts facts;
};

const CityDef kCities[] = {
    {35,
     {"1975", "Г.АЛМАТЫ", "АЛМАТЫ Қ."},
     "АЛМАТЫ",
     {{"1975001", "АЛМАЛИНСКИЙ РАЙОН", "АЛМАЛЫ АУДАНЫ"},
      {"1975002", "БОСТАНДЫКСКИЙ РАЙОН", "БОСТАНДЫҚ АУДАНЫ"},
      {"1975003", "МЕДЕУСКИЙ РАЙОН", "МЕДЕУ АУДАНЫ"},
      {"1975004", "АУЭЗОВСКИЙ РАЙОН", "ӘУЕЗОВ АУДАНЫ"}},
     {"ПРОСПЕКТ АБАЯ", "ПРОСПЕКТ АЛЬ-ФАРАБИ", "УЛИЦА ТОЛЕ БИ", "ПРОСПЕКТ ДОСТЫК", "УЛИЦА ЖАНДОСОВА",
      "УЛИЦА ТИМИРЯЗЕВА", "ПРОСПЕКТ РАЙЫМБЕКА", "УЛИЦА САТПАЕВА"},
     {"02", "20", "727", "751110000", "050000"}},
    {30,
     {"1971", "Г.АСТАНА", "АСТАНА Қ."},
     "АСТАНА",
     {{"1971001", "ЕСИЛЬСКИЙ РАЙОН", "ЕСІЛ АУДАНЫ"},
      {"1971002", "АЛМАТИНСКИЙ РАЙОН", "АЛМАТЫ АУДАНЫ"},
      {"1971003", "САРЫАРКИНСКИЙ РАЙОН", "САРЫАРҚА АУДАНЫ"},
      {"1971004", "РАЙОН БАЙКОНЫР", "БАЙҚОҢЫР АУДАНЫ"}},
     {"ПРОСПЕКТ МӘҢГІЛІК ЕЛ", "ПРОСПЕКТ КАБАНБАЙ БАТЫРА", "УЛИЦА КЕНЕСАРЫ", "ПРОСПЕКТ РЕСПУБЛИКИ",
      "УЛИЦА ДОСТЫК", "ПРОСПЕКТ ТУРАН", "УЛИЦА СЫГАНАК", "УЛИЦА ИМАНОВА"},
     {"01", "21", "7172", "711110000", "010000"}},
    {20,
     {"1979", "Г.ШЫМКЕНТ", "ШЫМКЕНТ Қ."},
     "ШЫМКЕНТ",
     {{"1979001", "АБАЙСКИЙ РАЙОН", "АБАЙ АУДАНЫ"},
      {"1979002", "РАЙОН АЛЬ-ФАРАБИ", "ӘЛ-ФАРАБИ АУДАНЫ"},
      {"1979003", "ЕНБЕКШИНСКИЙ РАЙОН", "ЕҢБЕКШІ АУДАНЫ"},
      {"1979004", "КАРАТАУСКИЙ РАЙОН", "ҚАРАТАУ АУДАНЫ"}},
     {"ПРОСПЕКТ ТАУКЕ ХАНА", "УЛИЦА БАЙТУРСЫНОВА", "ПРОСПЕКТ РЕСПУБЛИКИ", "УЛИЦА КАЗЫБЕК БИ",
      "ПРОСПЕКТ КУНАЕВА", "УЛИЦА ТОЛЕ БИ", "УЛИЦА ЖИБЕК ЖОЛЫ", "УЛИЦА АЙТЕКЕ БИ"},
     {"17", "22", "7252", "791110000", "160000"}},
    {15,
     {"1935", "КАРАГАНДИНСКАЯ ОБЛАСТЬ", "ҚАРАҒАНДЫ ОБЛЫСЫ"},
     "КАРАГАНДА",
     {{"1935001", "РАЙОН ИМЕНИ КАЗЫБЕК БИ", "ҚАЗЫБЕК БИ АТЫНДАҒЫ АУДАН"},
      {"1935002", "РАЙОН АЛИХАН БОКЕЙХАН", "ӘЛИХАН БӨКЕЙХАН АУДАНЫ"},
      {},
      {}},
     {"ПРОСПЕКТ БУХАР ЖЫРАУ", "ПРОСПЕКТ НУРКЕНА АБДИРОВА", "УЛИЦА ЕРУБАЕВА", "ПРОСПЕКТ СТРОИТЕЛЕЙ",
      "УЛИЦА ГОГОЛЯ", "БУЛЬВАР МИРА", "УЛИЦА ЛОБОДЫ", "УЛИЦА ВОЛОДАРСКОГО"},
     {"09", "09", "7212", "351010000", "100000"}},
};

const CityDef& pick_city(Rng& rng) {
  unsigned total = 0;
  for (const auto& c : kCities) total += c.weight;
  uint64_t r = rng.below(total);
  for (const auto& c : kCities) {
    if (r < c.weight) return c;
    r -= c.weight;
  }
  return kCities[0];
}

const DictItem& pick_district(Rng& rng, const CityDef& city) {
  size_t n = 0;
  while (n < 4 && !city.districts[n].code.empty()) ++n;
  return city.districts[rng.below(n)];
}

std::string to_s(std::string_view v) {
  return std::string(v);
}

int64_t days_of(int y, int m, int d) {
  return internal::days_of(y, m, d);
}

}  // namespace

namespace internal {

nlohmann::json dict_json(const DictItem& item) {
  return {{"code", item.code}, {"nameRu", item.name_ru}, {"nameKz", item.name_kz}};
}

nlohmann::json dict(std::string_view code, std::string_view ru, std::string_view kz) {
  return {{"code", code}, {"nameRu", ru}, {"nameKz", kz}};
}

// Hand-rolled formatting: snprintf dominated the cost of the larger answers.
std::string date_string(int year, int month, int day) {
  std::string s = digits(static_cast<uint64_t>(year), 4) + "-" +
                  digits(static_cast<uint64_t>(month), 2) + "-" +
                  digits(static_cast<uint64_t>(day), 2);
  return s;
}

int64_t days_of(int year, int month, int day) {
  return time::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

int64_t today_days() {
  return days_of(kTodayYear, kTodayMonth, kTodayDay);
}

std::string day_string(int64_t days) {
  return time::format_date(days);
}

std::string format_tiyn(int64_t tiyn) {
  return digits(static_cast<uint64_t>(tiyn / 100), 1) + "." +
         digits(static_cast<uint64_t>(tiyn % 100), 2);
}

std::string digits(uint64_t value, int width) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && p > buf);
  while (end - p < width && p > buf) *--p = '0';
  return std::string(p, end);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string full_name(const Person& p) {
  return p.surname + " " + p.name + (p.patronymic.empty() ? "" : " " + p.patronymic);
}

std::string address_text(const Address& a) {
  std::string s = "г. " + a.city;
  if (!a.street.empty()) s += ", " + a.street;
  if (!a.building.empty()) s += ", д. " + a.building;
  if (!a.flat.empty()) s += ", кв. " + a.flat;
  return s;
}

std::string upper(std::string_view in) {
  // Decode UTF-8, map the Latin, Russian and Kazakh lower-case letters, re-encode. Anything that
  // is not well-formed passes through byte by byte (it will simply not match a name).
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      out += static_cast<char>(b >= 'a' && b <= 'z' ? b - 32 : b);
      ++i;
      continue;
    }
    if ((b & 0xE0) != 0xC0 || i + 1 >= in.size()) {
      out += in[i++];
      continue;
    }
    uint32_t cp = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(in[i + 1]) & 0x3Fu);
    if (cp >= 0x430 && cp <= 0x44F)
      cp -= 0x20;  // а..я
    else if (cp >= 0x450 && cp <= 0x45F)
      cp -= 0x50;  // ѐ..џ, incl. ё і
    else if (cp >= 0x490 && cp <= 0x4FF && (cp & 1))
      cp -= 1;  // ғ қ ң ү ұ һ ә ө and the other paired letters of this block
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
    i += 2;
  }
  return out;
}

const CityFacts& city_facts(const Address& a) {
  for (const auto& c : kCities)
    if (c.region.code == a.region.code) return c.facts;
  return kCities[0].facts;
}

std::string owner_code(Owner o) {
  return std::string(1, static_cast<char>(o.kind)) + digits(o.index, 3);
}

std::optional<Owner> parse_owner_code(std::string_view four) {
  if (four.size() != 4 || !all_digits(four) || four[0] < '1' || four[0] > '3') return std::nullopt;
  uint32_t n = static_cast<uint32_t>(std::stoi(std::string(four.substr(1))));
  return Owner{static_cast<Kind>(four[0]), n};
}

namespace {
std::optional<uint32_t> serial_below_population(std::string_view s, size_t pos, size_t len) {
  if (s.size() != 12 || !all_digits(s)) return std::nullopt;
  uint32_t v = static_cast<uint32_t>(std::stoul(std::string(s.substr(pos, len))));
  if (v >= kPopulation) return std::nullopt;
  return v;
}
}  // namespace

std::optional<uint32_t> resident_index(std::string_view iin) {
  auto n = serial_below_population(iin, 7, 4);
  if (!n || iin[6] == '0' || synthetic_iin(*n) != iin) return std::nullopt;
  return n;
}

std::optional<uint32_t> foreigner_index(std::string_view iin) {
  auto n = serial_below_population(iin, 7, 4);
  if (!n || iin[6] != '0' || synthetic_foreign_iin(*n) != iin) return std::nullopt;
  return n;
}

std::optional<uint32_t> company_index(std::string_view bin) {
  auto n = serial_below_population(bin, 6, 5);
  if (!n || synthetic_bin(*n) != bin) return std::nullopt;
  return n;
}

std::optional<Owner> owner_of_id(std::string_view id) {
  if (id.size() != 12 || !all_digits(id)) return std::nullopt;
  // Digit 5 is a day tens digit (0..3) in an IIN and the entity type (4..6) in a BIN.
  if (id[4] >= '4') {
    if (auto n = company_index(id)) return Owner{Kind::Company, *n};
    return std::nullopt;
  }
  if (auto n = resident_index(id)) return Owner{Kind::Resident, *n};
  if (auto n = foreigner_index(id)) return Owner{Kind::Foreigner, *n};
  return std::nullopt;
}

std::string id_of(Owner o) {
  switch (o.kind) {
    case Kind::Resident:
      return synthetic_iin(o.index);
    case Kind::Foreigner:
      return synthetic_foreign_iin(o.index);
    case Kind::Company:
      return synthetic_bin(o.index);
  }
  return {};
}

std::string name_of(Owner o) {
  if (o.kind == Kind::Company) return synthetic_company_name(o.index);
  if (o.kind == Kind::Resident) return resident_name(o.index);
  return full_name(person_for(id_of(o)));
}

std::string register_number(std::string_view prefix, Owner o, uint64_t random) {
  return std::string(prefix) + "-" + owner_code(o) + "-" + digits(random % 10000, 4);
}

std::optional<Owner> parse_register_number(std::string_view v, std::string_view prefix) {
  if (v.size() != prefix.size() + 10 || v.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = v.substr(prefix.size());
  if (rest[0] != '-' || rest[5] != '-' || !all_digits(rest.substr(6))) return std::nullopt;
  return parse_owner_code(rest.substr(1, 4));
}

std::string phone_text(std::string_view d) {
  if (d.size() != 10) return "+7 " + std::string(d);
  return "+7 " + std::string(d.substr(0, 3)) + " " + std::string(d.substr(3, 3)) + " " +
         std::string(d.substr(6, 2)) + " " + std::string(d.substr(8, 2));
}

Subject subject_of(std::string_view id) {
  Subject s;
  s.id = std::string(id);
  s.owner = owner_of_id(id);
  s.company = id.size() == 12 && id[4] >= '4';
  if (s.company)
    s.name = s.owner ? synthetic_company_name(s.owner->index) : std::string();
  else
    s.name = s.owner && s.owner->kind == Kind::Resident ? resident_name(s.owner->index)
                                                        : full_name(person_for(id));
  return s;
}

Address address_in_city(Rng& rng, const Address& near, Owner owner) {
  const CityDef* city = &kCities[0];
  for (const auto& c : kCities)
    if (c.region.code == near.region.code) city = &c;
  Address a;
  a.country = kKazakhstan;
  a.region = city->region;
  a.district = pick_district(rng, *city);
  a.city = to_s(city->city);
  a.street = to_s(rng.pick(city->streets));
  a.building = std::to_string(rng.between(1, 400));
  a.ar_code = digits(rng.between(100000000000LL, 999999999999LL), 12) + owner_code(owner);
  return a;
}

Error not_found(std::string_view what) {
  return Error{"not_found", std::string(what)};
}

Error bad_key(std::string_view what) {
  return Error{"bad_key", std::string(what)};
}

}  // namespace internal

int age_at_today(int birth_year, int birth_month, int birth_day) {
  int age = kTodayYear - birth_year;
  if (kTodayMonth < birth_month || (kTodayMonth == birth_month && kTodayDay < birth_day)) --age;
  return age;
}

Person person_for(std::string_view iin) {
  auto info = ids::parse_iin(iin);
  if (!info) return Person{};
  Person p;
  p.iin = std::string(iin);
  p.birth_year = info->birth_year;
  p.birth_month = info->birth_month;
  p.birth_day = info->birth_day;
  p.birth_date = internal::date_string(p.birth_year, p.birth_month, p.birth_day);
  p.male = info->male;
  p.foreigner = info->century_unknown;
  // Century digit 0 (foreigners) encodes no sex: draw it from its own stream.
  if (p.foreigner) p.male = Rng("person-sex", iin).chance(50);

  // One stream per person. New attributes must be drawn AFTER the existing ones, or every
  // existing answer changes (the golden tests will say so).
  Rng rng("person", iin);
  const NamePair& surname = rng.pick(kSurnames);
  p.surname = to_s(surname.cyr);
  p.eng_surname = to_s(surname.lat);
  if (!p.male) {
    p.surname += "А";
    p.eng_surname += "A";
  }
  const NamePair& given = p.male ? rng.pick(kMaleNames) : rng.pick(kFemaleNames);
  p.name = to_s(given.cyr);
  p.eng_first_name = to_s(given.lat);
  const NamePair& father = rng.pick(kMaleNames);
  // Kazakh-style patronymics are more common among younger people.
  bool kazakh_style = rng.chance(p.birth_year >= 1995 ? 70 : 25);
  p.patronymic = to_s(father.cyr);
  if (kazakh_style)
    p.patronymic += p.male ? "ҰЛЫ" : "ҚЫЗЫ";
  else
    p.patronymic += p.male ? "ОВИЧ" : "ОВНА";

  p.nationality = rng.chance(85) ? kKazakh : rng.pick(kOtherNationalities);
  p.citizenship = kKazakhstan;

  const CityDef& home = pick_city(rng);
  const CityDef& born = rng.chance(70) ? home : pick_city(rng);
  p.birth_place.country = kKazakhstan;
  p.birth_place.region = born.region;
  p.birth_place.district = pick_district(rng, born);
  p.birth_place.city = to_s(born.city);
  if (p.foreigner) {  // own stream, so citizens' answers do not depend on this branch
    Rng frng("person-foreign", iin);
    const ForeignCountry& c = frng.pick(kForeignCountries);
    p.citizenship = c.country;
    p.birth_place.country = c.country;
    p.birth_place.region = kAbroadRegion;
    p.birth_place.district = kAbroadDistrict;
    p.birth_place.city = to_s(c.capital);
  }

  Address& a = p.reg_address;
  a.country = kKazakhstan;
  a.region = home.region;
  a.district = pick_district(rng, home);
  a.city = to_s(home.city);
  a.street = to_s(rng.pick(home.streets));
  a.building = std::to_string(rng.between(1, 250));
  if (rng.chance(15)) a.building += "/" + std::to_string(rng.between(1, 4));
  a.flat = std::to_string(rng.between(1, 320));
  char ar[24];
  std::snprintf(
      ar, sizeof ar, "%016llu",
      static_cast<unsigned long long>(rng.between(1000000000000000LL, 9999999999999999LL)));
  a.ar_code = ar;
  // Population members' codes end in their owner code, so R03/R04/R40 can find them by RCA.
  const std::optional<internal::Owner> self = internal::owner_of_id(iin);
  if (self) a.ar_code = a.ar_code.substr(0, 12) + internal::owner_code(*self);
  const int64_t birth = days_of(p.birth_year, p.birth_month, p.birth_day);
  const int64_t today = internal::today_days();
  // Registered at birth or later; adults mostly since adulthood.
  int64_t reg_from = birth;
  if (age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 18)
    reg_from = days_of(p.birth_year + 18, p.birth_month, p.birth_day);
  if (reg_from >= today) reg_from = today - 1;
  a.begin_date = time::format_date(rng.between(reg_from, today - 1));

  if (age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 16) {
    // Issued on or after the 16th birthday and less than 10 years ago, so still valid today.
    int64_t from = days_of(p.birth_year + 16, p.birth_month, p.birth_day);
    int64_t ten_years_ago = days_of(kTodayYear - 10, kTodayMonth, kTodayDay) + 1;
    if (from < ten_years_ago) from = ten_years_ago;
    int64_t issued = rng.between(from, today - 1);
    int y;
    unsigned m, d;
    time::civil_from_days(issued, y, m, d);
    if (m == 2 && d == 29) d = 28;  // keep "+10 years, same month and day" a real date
    IdCard card;
    card.type = p.foreigner ? kResidencePermitType : kIdCardType;
    char num[16];
    std::snprintf(num, sizeof num, "0%08llu",
                  static_cast<unsigned long long>(rng.below(100000000)));
    card.number = num;
    // Population members' numbers end in their owner code (reverse lookup by document number).
    if (self) card.number = card.number.substr(0, 5) + internal::owner_code(*self);
    card.begin_date = internal::date_string(y, static_cast<int>(m), static_cast<int>(d));
    card.end_date = internal::date_string(y + 10, static_cast<int>(m), static_cast<int>(d));
    p.id_card = card;
  }
  return p;
}

std::string synthetic_iin(uint32_t n) {
  Rng rng("synthetic_iin", std::to_string(n));
  int64_t day = rng.between(days_of(1950, 1, 1), days_of(2015, 12, 31));
  bool male = rng.chance(50);
  int serial = static_cast<int>(n % 1000);
  for (;; ++day) {  // a serial has no check digit on some dates: take the next day
    int y;
    unsigned m, d;
    time::civil_from_days(day, y, m, d);
    if (auto iin = ids::make_iin(y, static_cast<int>(m), static_cast<int>(d), male, serial))
      return *iin;
  }
}

std::string synthetic_bin(uint32_t n) {
  Rng rng("synthetic_bin", std::to_string(n));
  int year = static_cast<int>(rng.between(1995, 2015));
  int month = static_cast<int>(rng.between(1, 12));
  int serial = static_cast<int>(n % 1000);
  for (;;) {  // a serial has no check digit in some months: take the next month
    if (auto bin = ids::make_bin(year, month, 4, 0, serial)) return *bin;
    if (++month > 12) {
      month = 1;
      ++year;
    }
  }
}

std::string synthetic_company_name(uint32_t n) {
  return (n % internal::kPopulation >= internal::kFirstStateBody ? "ГУ «Синтетика-"
                                                                 : "ТОО «Синтетика-") +
         std::to_string(n) + "»";
}

std::string synthetic_foreign_iin(uint32_t n) {
  Rng rng("synthetic_foreign_iin", std::to_string(n));
  // Born 1960..2005: two-digit years above 30 read as 19YY, the rest as 20YY (ids::parse_iin).
  int64_t day = rng.between(days_of(1960, 1, 1), days_of(2005, 12, 31));
  for (;; ++day) {
    int y;
    unsigned m, d;
    time::civil_from_days(day, y, m, d);
    std::string s = internal::digits(static_cast<uint64_t>(y % 100), 2) + internal::digits(m, 2) +
                    internal::digits(d, 2) + "0" + internal::digits(n % 1000, 4) + "0";
    if (auto cd = ids::check_digit(s)) {
      s[11] = static_cast<char>('0' + *cd);
      return s;
    }
  }
}

namespace internal {

namespace {

const DictItem kActivities[] = {
    {"62011", "Разработка программного обеспечения", "Бағдарламалық қамтамасыз етуді әзірлеу"},
    {"47111", "Розничная торговля в неспециализированных магазинах",
     "Мамандандырылмаған дүкендердегі бөлшек сауда"},
    {"41201", "Строительство жилых зданий", "Тұрғын үй ғимараттарын салу"},
    {"49410", "Грузовые перевозки автомобильным транспортом",
     "Автомобиль көлігімен жүк тасымалдау"},
    {"46900", "Неспециализированная оптовая торговля", "Мамандандырылмаған көтерме сауда"},
    {"56101", "Деятельность ресторанов", "Мейрамханалардың қызметі"},
    {"01110", "Выращивание зерновых культур", "Дәнді дақылдарды өсіру"},
    {"06100", "Добыча сырой нефти", "Шикі мұнай өндіру"},
    {"07290", "Добыча прочих руд цветных металлов", "Түсті металдардың басқа да кендерін өндіру"},
    {"80100", "Деятельность частных охранных служб", "Жеке күзет қызметтерінің қызметі"},
};
const DictItem kStateActivity{"84111", "Деятельность органов государственного управления",
                              "Мемлекеттік басқару органдарының қызметі"};

bool adult_resident(uint32_t n, int min_age) {
  auto info = ids::parse_iin(synthetic_iin(n));
  return info && age_at_today(info->birth_year, info->birth_month, info->birth_day) >= min_age;
}

}  // namespace

Company company_for(uint32_t index) {
  Company c;
  c.index = index;
  c.bin = synthetic_bin(index);
  c.state_body = index % kPopulation >= kFirstStateBody;
  c.name_ru = synthetic_company_name(index);
  c.name_kz = "«Синтетика-" + std::to_string(index) + "» " + (c.state_body ? "ММ" : "ЖШС");
  Rng rng("company", std::to_string(index));
  const int yy = (c.bin[0] - '0') * 10 + (c.bin[1] - '0');
  const int mm = (c.bin[2] - '0') * 10 + (c.bin[3] - '0');
  c.registration_date = date_string(yy < 50 ? 2000 + yy : 1900 + yy, mm, rng.between(1, 28));
  const CityDef& city = pick_city(rng);
  Address& a = c.address;
  a.country = kKazakhstan;
  a.region = city.region;
  a.district = pick_district(rng, city);
  a.city = to_s(city.city);
  a.street = to_s(rng.pick(city.streets));
  a.building = std::to_string(rng.between(1, 250));
  a.flat = std::to_string(rng.between(1, 40));  // office
  a.ar_code =
      digits(rng.between(100000000000LL, 999999999999LL), 12) + owner_code({Kind::Company, index});
  a.begin_date = c.registration_date;
  uint32_t d = static_cast<uint32_t>(rng.below(kPopulation));
  while (!adult_resident(d, 25)) d = (d + 1) % kPopulation;
  c.director = d;
  if (!c.state_body) {
    if (rng.chance(60)) c.founders.push_back(d);
    for (int i = static_cast<int>(rng.between(0, 2)); i > 0 || c.founders.empty(); --i) {
      uint32_t f = static_cast<uint32_t>(rng.below(kPopulation));
      while (!adult_resident(f, 21) || f == d) f = (f + 1) % kPopulation;
      if (std::find(c.founders.begin(), c.founders.end(), f) == c.founders.end())
        c.founders.push_back(f);
      if (i <= 0) break;
    }
  }
  c.activity = c.state_body ? kStateActivity : rng.pick(kActivities);
  c.staff = static_cast<int>(c.state_body ? rng.between(20, 400) : rng.between(3, 250));
  return c;
}

}  // namespace internal

}  // namespace aaj::sim
