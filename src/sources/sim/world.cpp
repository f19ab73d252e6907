// The shared synthetic world: persons derived from IINs, synthetic IINs, BINs and companies.
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
      "УЛИЦА ТИМИРЯЗЕВА", "ПРОСПЕКТ РАЙЫМБЕКА", "УЛИЦА САТПАЕВА"}},
    {30,
     {"1971", "Г.АСТАНА", "АСТАНА Қ."},
     "АСТАНА",
     {{"1971001", "ЕСИЛЬСКИЙ РАЙОН", "ЕСІЛ АУДАНЫ"},
      {"1971002", "АЛМАТИНСКИЙ РАЙОН", "АЛМАТЫ АУДАНЫ"},
      {"1971003", "САРЫАРКИНСКИЙ РАЙОН", "САРЫАРҚА АУДАНЫ"},
      {"1971004", "РАЙОН БАЙКОНЫР", "БАЙҚОҢЫР АУДАНЫ"}},
     {"ПРОСПЕКТ МӘҢГІЛІК ЕЛ", "ПРОСПЕКТ КАБАНБАЙ БАТЫРА", "УЛИЦА КЕНЕСАРЫ", "ПРОСПЕКТ РЕСПУБЛИКИ",
      "УЛИЦА ДОСТЫК", "ПРОСПЕКТ ТУРАН", "УЛИЦА СЫГАНАК", "УЛИЦА ИМАНОВА"}},
    {20,
     {"1979", "Г.ШЫМКЕНТ", "ШЫМКЕНТ Қ."},
     "ШЫМКЕНТ",
     {{"1979001", "АБАЙСКИЙ РАЙОН", "АБАЙ АУДАНЫ"},
      {"1979002", "РАЙОН АЛЬ-ФАРАБИ", "ӘЛ-ФАРАБИ АУДАНЫ"},
      {"1979003", "ЕНБЕКШИНСКИЙ РАЙОН", "ЕҢБЕКШІ АУДАНЫ"},
      {"1979004", "КАРАТАУСКИЙ РАЙОН", "ҚАРАТАУ АУДАНЫ"}},
     {"ПРОСПЕКТ ТАУКЕ ХАНА", "УЛИЦА БАЙТУРСЫНОВА", "ПРОСПЕКТ РЕСПУБЛИКИ", "УЛИЦА КАЗЫБЕК БИ",
      "ПРОСПЕКТ КУНАЕВА", "УЛИЦА ТОЛЕ БИ", "УЛИЦА ЖИБЕК ЖОЛЫ", "УЛИЦА АЙТЕКЕ БИ"}},
    {15,
     {"1935", "КАРАГАНДИНСКАЯ ОБЛАСТЬ", "ҚАРАҒАНДЫ ОБЛЫСЫ"},
     "КАРАГАНДА",
     {{"1935001", "РАЙОН ИМЕНИ КАЗЫБЕК БИ", "ҚАЗЫБЕК БИ АТЫНДАҒЫ АУДАН"},
      {"1935002", "РАЙОН АЛИХАН БОКЕЙХАН", "ӘЛИХАН БӨКЕЙХАН АУДАНЫ"},
      {},
      {}},
     {"ПРОСПЕКТ БУХАР ЖЫРАУ", "ПРОСПЕКТ НУРКЕНА АБДИРОВА", "УЛИЦА ЕРУБАЕВА", "ПРОСПЕКТ СТРОИТЕЛЕЙ",
      "УЛИЦА ГОГОЛЯ", "БУЛЬВАР МИРА", "УЛИЦА ЛОБОДЫ", "УЛИЦА ВОЛОДАРСКОГО"}},
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
  return time::days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

}  // namespace

namespace internal {

nlohmann::json dict_json(const DictItem& item) {
  return {{"code", item.code}, {"nameRu", item.name_ru}, {"nameKz", item.name_kz}};
}

std::string date_string(int year, int month, int day) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

int64_t today_days() {
  return days_of(kTodayYear, kTodayMonth, kTodayDay);
}

std::string format_tiyn(int64_t tiyn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(tiyn / 100),
                static_cast<long long>(tiyn % 100));
  return buf;
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
  return "ТОО «Синтетика-" + std::to_string(n) + "»";
}

}  // namespace aaj::sim
