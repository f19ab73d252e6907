// Persons and documents: person keys, R12 disability, R13 Public Service Centre services, R19
// photo, R20 Form No. 1, R22 civil-status records, R43 dispensary registration, R47 emigration,
// R49 citizenship. (R01 itself is in r01_individuals.cpp.)
#include "core/ids.h"
#include "core/time.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

Rng stream(std::string_view domain, const Person& p) {
  return Rng(domain, p.iin);
}

int age_of(const Person& p) {
  return age_at_today(p.birth_year, p.birth_month, p.birth_day);
}

int64_t birth_days(const Person& p) {
  return days_of(p.birth_year, p.birth_month, p.birth_day);
}

// A day in [from, to] (clamped so that from <= to).
int64_t day_between(Rng& rng, int64_t from, int64_t to) {
  return rng.between(from, to < from ? from : to);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

json person_ref(std::string_view role_code, std::string_view role_ru, std::string_view role_kz,
                int resident) {
  Person p = person_for(synthetic_iin(static_cast<uint32_t>(resident)));
  return {{"role", dict(role_code, role_ru, role_kz)}, {"iin", p.iin}, {"fullName", full_name(p)}};
}

}  // namespace

std::optional<std::string> holder_of_document(std::string_view number) {
  if (number.size() < 9) return std::nullopt;
  auto owner = parse_owner_code(number.substr(number.size() - 4));
  if (!owner || owner->kind == Kind::Company) return std::nullopt;
  std::string iin = id_of(*owner);
  const Person p = person_for(iin);
  if (p.id_card && p.id_card->number == number) return iin;
  if (owner->kind == Kind::Resident && passport_of(owner->index) == std::string(number)) return iin;
  if (owner->kind == Kind::Foreigner && foreign_passport_of(owner->index) == number) return iin;
  return std::nullopt;
}

Result<std::string> person_iin(std::string_view key_name, const std::string& value) {
  if (key_name == "iin") return value;
  if (key_name == "document_number") {
    if (auto iin = holder_of_document(value)) return *iin;
    return not_found("no person holds this document");
  }
  if (key_name == "name_birth_date") {
    auto f = split(value, '\x1f');
    auto found = f.size() == 4 ? find_by_name(f[0], f[1], f[2], f[3]) : std::vector<Owner>{};
    if (found.empty()) return not_found("no person with this name and birth date");
    return id_of(found.front());
  }
  return Error{"unsupported_key", std::string(key_name)};
}

// ---- R12 disability (МСЭ) ----

Result<json> generate_r12_disability(std::string_view, const std::string& iin) {
  const Person p = person_for(iin);
  Rng rng = stream("r12", p);
  json list = json::array();
  if (rng.chance(age_of(p) >= 60 ? 12 : 4)) {
    static const DictItem kGroups[] = {
        {"1", "I ГРУППА", "I ТОП"}, {"2", "II ГРУППА", "II ТОП"}, {"3", "III ГРУППА", "III ТОП"}};
    static const DictItem kCauses[] = {{"01", "ОБЩЕЕ ЗАБОЛЕВАНИЕ", "ЖАЛПЫ АУРУ"},
                                       {"02", "ТРУДОВОЕ УВЕЧЬЕ", "ЕҢБЕК ЖАРАҚАТЫ"},
                                       {"03", "ИНВАЛИДНОСТЬ С ДЕТСТВА", "БАЛА КЕЗІНЕН МҮГЕДЕКТІК"}};
    const int64_t est =
        day_between(rng, std::max(birth_days(p), today_days() - 3 * 365), today_days() - 10);
    const bool indefinite = rng.chance(30);
    const int64_t to = est + 365 * (indefinite ? 0 : rng.between(1, 2));
    json cause = dict_json(age_of(p) < 18 ? kCauses[2] : rng.pick(kCauses));
    list.push_back(
        {{"group", dict_json(rng.pick(kGroups))},
         {"cause", cause},
         {"established_date", day_string(est)},
         {"period_from", day_string(est)},
         {"period_to", indefinite ? "БЕССРОЧНО" : day_string(to)},
         {"reexamination_date", indefinite ? "" : day_string(to - 30)},
         {"mse_department", "ОТДЕЛ МСЭ " + p.reg_address.district.name_ru},
         {"certificate_number", "МСЭ-" + digits(rng.below(1000000), 6)},
         {"status", to >= today_days() || indefinite ? dict("1", "ДЕЙСТВУЮЩАЯ", "ҚОЛДАНЫСТАҒЫ")
                                                     : dict("2", "СРОК ИСТЁК", "МЕРЗІМІ ӨТКЕН")}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"disabilities", std::move(list)}};
}

// ---- R13 services received at Public Service Centres (ЦОН) ----

Result<json> generate_r13_con_services(std::string_view, const std::string& iin) {
  const Person p = person_for(iin);
  Rng rng = stream("r13", p);
  static const DictItem kServices[] = {
      {"00101", "ВЫДАЧА УДОСТОВЕРЕНИЯ ЛИЧНОСТИ", "ЖЕКЕ КУӘЛІК БЕРУ"},
      {"00302", "РЕГИСТРАЦИЯ ПО МЕСТУ ЖИТЕЛЬСТВА", "ТҰРҒЫЛЫҚТЫ ЖЕРІ БОЙЫНША ТІРКЕУ"},
      {"00503", "ВЫДАЧА СПРАВКИ О ЗАРЕГИСТРИРОВАННЫХ ПРАВАХ",
       "ТІРКЕЛГЕН ҚҰҚЫҚТАР ТУРАЛЫ АНЫҚТАМА БЕРУ"},
      {"00704", "РЕГИСТРАЦИЯ ТРАНСПОРТНОГО СРЕДСТВА", "КӨЛІК ҚҰРАЛЫН ТІРКЕУ"},
      {"00905", "ВЫДАЧА СПРАВКИ О НАЛИЧИИ/ОТСУТСТВИИ СУДИМОСТИ",
       "СОТТАЛҒАНДЫҒЫНЫҢ БАР-ЖОҒЫ ТУРАЛЫ АНЫҚТАМА БЕРУ"},
  };
  json list = json::array();
  const int count = age_of(p) >= 16 ? static_cast<int>(rng.between(0, 4)) : 0;
  for (int i = 0; i < count; ++i) {
    const int64_t sub = today_days() - rng.between(15, 3 * 365);
    const bool done = rng.chance(90);
    list.push_back(
        {{"request_number", "CON-" + digits(rng.below(100000000), 8)},
         {"service", dict_json(rng.pick(kServices))},
         {"channel", rng.chance(70) ? dict("1", "ЦОН", "ХҚКО")
                                    : dict("2", "ПОРТАЛ ЭЛЕКТРОННОГО ПРАВИТЕЛЬСТВА",
                                           "ЭЛЕКТРОНДЫҚ ҮКІМЕТ ПОРТАЛЫ")},
         {"branch", dict(p.reg_address.district.code, "ЦОН " + p.reg_address.district.name_ru,
                         p.reg_address.district.name_kz + " ХҚКО")},
         {"submitted_date", day_string(sub)},
         {"issued_date", done ? day_string(sub + rng.between(0, 10)) : ""},
         {"status", done ? dict("3", "ВЫДАН", "БЕРІЛДІ") : dict("9", "ОТКАЗ", "БАС ТАРТУ")}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"services", std::move(list)}};
}

// ---- R19 photo from the population documentation system ----

// A placeholder image (a tiny JPEG): the simulator never produces a face.
constexpr std::string_view kPhotoPlaceholder =
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////"
    "////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=";

Result<json> generate_r19_photo(std::string_view, const std::string& iin) {
  const Person p = person_for(iin);
  if (!p.id_card) return not_found("no identity document photo (younger than 16)");
  Rng rng = stream("r19", p);
  return json{{"iin", p.iin},
              {"document_type_id", p.id_card->type.code},
              {"photo", kPhotoPlaceholder},
              {"date", p.id_card->begin_date + " " + digits(rng.between(9, 17), 2) + ":" +
                           digits(rng.below(60), 2) + ":" + digits(rng.below(60), 2)}};
}

// ---- R20 Form No. 1 (application for an identity document) ----

Result<json> generate_r20_form1(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  Rng rng = stream("r20", p);
  auto res = resident_index(p.iin);
  bool married = res ? family_of(*res).spouse >= 0 : (age_of(p) >= 25 && rng.chance(60));
  json applications = json::array();
  if (p.id_card) {
    const int64_t issued = *time::parse_date(p.id_card->begin_date);
    const bool first = issued - birth_days(p) < 17 * 365;
    applications.push_back(
        {{"documentType", dict_json(p.id_card->type)},
         {"reason", first ? dict("1", "ПЕРВИЧНОЕ ПОЛУЧЕНИЕ", "АЛҒАШ АЛУ")
                          : dict("2", "ИСТЕЧЕНИЕ СРОКА ДЕЙСТВИЯ", "ҚОЛДАНЫЛУ МЕРЗІМІНІҢ ӨТУІ")},
         {"applicationDate", day_string(issued - rng.between(7, 25))},
         {"receivingUnit", "ЦОН " + p.reg_address.district.name_ru},
         {"documentNumber", p.id_card->number},
         {"issueDate", p.id_card->begin_date},
         {"expiryDate", p.id_card->end_date}});
  }
  const Address& b = p.birth_place;
  return json{
      {"iin", p.iin},
      {"surname", p.surname},
      {"name", p.name},
      {"patronymic", p.patronymic},
      {"birthDate", p.birth_date},
      {"birthPlace",
       {{"country", dict_json(b.country)},
        {"region", dict_json(b.region)},
        {"district", dict_json(b.district)},
        {"city", b.city}}},
      {"nationality", dict_json(p.nationality)},
      {"citizenship", dict_json(p.citizenship)},
      {"maritalStatus", married ? dict("2", "ЖЕНАТ/ЗАМУЖЕМ", "ҮЙЛЕНГЕН/ТҰРМЫСТА")
                                : dict("1", "ХОЛОСТ/НЕ ЗАМУЖЕМ", "ҮЙЛЕНБЕГЕН/ТҰРМЫСҚА ШЫҚПАҒАН")},
      {"regAddress", address_text(p.reg_address)},
      {"applications", std::move(applications)}};
}

// ---- R22 civil-status records (ЗАГС) ----

namespace {

const DictItem kBirthAct{"1", "ЗАПИСЬ АКТА О РОЖДЕНИИ", "ТУУ ТУРАЛЫ АКТ ЖАЗБАСЫ"};
const DictItem kMarriageAct{"2", "ЗАПИСЬ АКТА О ЗАКЛЮЧЕНИИ БРАКА", "НЕКЕ ҚИЮ ТУРАЛЫ АКТ ЖАЗБАСЫ"};

// The birth act of resident c: its number encodes the child, so every participant's answer and
// the lookup by number agree.
json birth_act(uint32_t c) {
  const Person p = person_for(synthetic_iin(c));
  Rng rng("r22-birth", p.iin);
  const Family& f = family_of(c);
  json parts = json::array({person_ref("1", "РЕБЁНОК", "БАЛА", static_cast<int>(c))});
  if (f.mother >= 0) parts.push_back(person_ref("2", "МАТЬ", "АНАСЫ", f.mother));
  if (f.father >= 0) parts.push_back(person_ref("3", "ОТЕЦ", "ӘКЕСІ", f.father));
  return {{"act_type", dict_json(kBirthAct)},
          {"act_number", register_number("AZB", {Kind::Resident, c}, rng.next())},
          {"registration_date", day_string(birth_days(p) + rng.between(3, 25))},
          {"zags_body", "ОТДЕЛ ЗАГС " + p.birth_place.district.name_ru},
          {"participants", std::move(parts)},
          {"certificate",
           {{"series", "I-" + p.birth_place.region.code.substr(2)},
            {"number", digits(rng.below(1000000), 6)}}}};
}

// The marriage act of a couple, numbered after the husband.
json marriage_act(uint32_t husband) {
  const Family& f = family_of(husband);
  const Person h = person_for(synthetic_iin(husband));
  Rng rng("r22-marriage", h.iin);
  return {
      {"act_type", dict_json(kMarriageAct)},
      {"act_number", register_number("AZM", {Kind::Resident, husband}, rng.next())},
      {"registration_date", f.marriage_date},
      {"zags_body", "ОТДЕЛ ЗАГС " + h.reg_address.district.name_ru},
      {"participants", json::array({person_ref("4", "СУПРУГ", "ЖҰБАЙЫ", static_cast<int>(husband)),
                                    person_ref("5", "СУПРУГА", "ЖҰБАЙЫ", f.spouse)})},
      {"certificate",
       {{"series", "II-" + h.reg_address.region.code.substr(2)},
        {"number", digits(rng.below(1000000), 6)}}}};
}

json civil_records(uint32_t n) {
  json list = json::array({birth_act(n)});
  const Family& f = family_of(n);
  if (f.spouse >= 0) {
    const bool male = person_for(synthetic_iin(n)).male;
    list.push_back(marriage_act(male ? n : static_cast<uint32_t>(f.spouse)));
  }
  for (uint32_t c : f.children) list.push_back(birth_act(c));
  return list;
}

}  // namespace

Result<json> generate_r22_civil_status(std::string_view key_name, const std::string& value) {
  std::string iin;
  std::optional<std::string> wanted_act;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "AZB");
    if (!o) o = parse_register_number(value, "AZM");
    if (!o) return bad_key("an act record number is AZB-KNNN-NNNN (birth) or AZM-KNNN-NNNN");
    if (o->kind != Kind::Resident) return not_found("no such act record");
    iin = synthetic_iin(o->index);
    wanted_act = value;
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    iin = *r;
  }
  const Person p = person_for(iin);
  json records = json::array();
  if (auto n = resident_index(iin)) records = civil_records(*n);
  if (wanted_act) {
    json only = json::array();
    for (auto& r : records)
      if (r["act_number"] == *wanted_act) only.push_back(r);
    if (only.empty()) return not_found("no such act record");
    records = std::move(only);
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"records", std::move(records)}};
}

// ---- R43 dispensary registration (Ministry of Health) ----

Result<json> generate_r43_dispensary(std::string_view, const std::string& iin) {
  const Person p = person_for(iin);
  Rng rng = stream("r43", p);
  static const DictItem kDiseases[] = {
      {"E11", "САХАРНЫЙ ДИАБЕТ 2 ТИПА", "2 ТИПТІ ҚАНТ ДИАБЕТІ"},
      {"I10", "ЭССЕНЦИАЛЬНАЯ ГИПЕРТЕНЗИЯ", "ЭССЕНЦИАЛДЫ ГИПЕРТЕНЗИЯ"},
      {"J45", "АСТМА", "ДЕМІКПЕ"},
      {"F10.2", "СИНДРОМ ЗАВИСИМОСТИ ОТ АЛКОГОЛЯ", "АЛКОГОЛЬГЕ ТӘУЕЛДІЛІК СИНДРОМЫ"},
      {"A15", "ТУБЕРКУЛЕЗ ОРГАНОВ ДЫХАНИЯ", "ТЫНЫС АЛУ ОРГАНДАРЫНЫҢ ТУБЕРКУЛЕЗІ"},
      {"N18", "ХРОНИЧЕСКАЯ БОЛЕЗНЬ ПОЧЕК", "БҮЙРЕКТІҢ СОЗЫЛМАЛЫ АУРУЫ"},
  };
  json list = json::array();
  const int count = rng.chance(age_of(p) >= 45 ? 18 : 5) ? static_cast<int>(rng.between(1, 2)) : 0;
  for (int i = 0; i < count; ++i) {
    const DictItem& d = rng.pick(kDiseases);
    list.push_back(
        {{"diseaseCode", d.code},
         {"diagnosis", dict_json(d)},
         {"medicalOrg", "ГКП НА ПХВ «ГОРОДСКАЯ ПОЛИКЛИНИКА №" + std::to_string(rng.between(1, 36)) +
                            "» Г." + p.reg_address.city},
         {"appointments_dt", day_string(day_between(rng, birth_days(p) + 365, today_days() - 20))},
         {"statusMz", dict("1", "НА УЧЁТЕ", "ЕСЕПТЕ")},
         {"risk_category", std::to_string(rng.between(1, 3))}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"registrations", std::move(list)}};
}

// ---- R47 documents for leaving for permanent residence abroad ----

Result<json> generate_r47_emigration(std::string_view, const std::string& iin) {
  const Person p = person_for(iin);
  Rng rng = stream("r47", p);
  static const DictItem kCountries[] = {{"643", "РОССИЯ", "РЕСЕЙ"},
                                        {"276", "ГЕРМАНИЯ", "ГЕРМАНИЯ"},
                                        {"840", "США", "АҚШ"},
                                        {"376", "ИЗРАИЛЬ", "ИЗРАИЛЬ"}};
  json list = json::array();
  if (resident_index(iin) && age_of(p) >= 18 && rng.chance(3)) {
    const int64_t applied = today_days() - rng.between(60, 2 * 365);
    const bool done = rng.chance(50);
    list.push_back(
        {{"application_number", "PMZh-" + digits(rng.below(10000000), 7)},
         {"application_date", day_string(applied)},
         {"destination_country", dict_json(rng.pick(kCountries))},
         {"status",
          done ? dict("2", "ОФОРМЛЕНО", "РӘСІМДЕЛДІ") : dict("1", "НА РАССМОТРЕНИИ", "ҚАРАЛУДА")},
         {"deregistration_date", done ? day_string(applied + rng.between(30, 50)) : ""}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"applications", std::move(list)}};
}

// ---- R49 acquisition and termination of citizenship ----

Result<json> generate_r49_citizenship(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  Rng rng = stream("r49", p);
  static const DictItem kPrevious[] = {{"860", "УЗБЕКИСТАН", "ӨЗБЕКСТАН"},
                                       {"156", "КИТАЙ", "ҚЫТАЙ"},
                                       {"496", "МОНГОЛИЯ", "МОҢҒОЛИЯ"},
                                       {"643", "РОССИЯ", "РЕСЕЙ"}};
  json list = json::array();
  if (!p.foreigner && age_of(p) >= 18 && rng.chance(4)) {
    const int64_t day = day_between(rng, birth_days(p) + 18 * 365, today_days() - 30);
    list.push_back({{"decision_type", dict("1", "ПРИЁМ В ГРАЖДАНСТВО", "АЗАМАТТЫҚҚА ҚАБЫЛДАУ")},
                    {"decision_number", "GR-" + digits(rng.below(1000000), 6)},
                    {"decision_date", day_string(day)},
                    {"basis", "СТ. 16 ЗАКОНА РК «О ГРАЖДАНСТВЕ РЕСПУБЛИКИ КАЗАХСТАН»"},
                    {"deciding_body", "КОМИТЕТ МИГРАЦИОННОЙ СЛУЖБЫ МВД РК"},
                    {"previous_citizenship", dict_json(rng.pick(kPrevious))}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"decisions", std::move(list)}};
}

}  // namespace aaj::sim::internal
