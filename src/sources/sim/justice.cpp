// Justice, law enforcement and civil service: R14 special accounts, R15 unified statistics (ERDR),
// R16 courts, R17 court cards, R21 e-notary, R37 wanted persons, R38 missing persons, R18/R41
// civil servants. One criminal case per person (criminal_cases_of) is told consistently by R14,
// R15, R16, R17 and R37 under the same ERDR and court case numbers.
#include "core/time.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

struct Article {
  const char *code, *ru;
};
constexpr Article kArticles[] = {
    {"190 ч.2 УК РК", "МОШЕННИЧЕСТВО"},
    {"188 ч.2 УК РК", "КРАЖА"},
    {"293 ч.1 УК РК", "ХУЛИГАНСТВО"},
    {"296 ч.1 УК РК", "НЕЗАКОННОЕ ОБРАЩЕНИЕ С НАРКОТИЧЕСКИМИ СРЕДСТВАМИ"},
    {"345 ч.2 УК РК", "НАРУШЕНИЕ ПРАВИЛ ДОРОЖНОГО ДВИЖЕНИЯ"},
};

int age_of(const Person& p) {
  return age_at_today(p.birth_year, p.birth_month, p.birth_day);
}

std::string court_code(const Address& a) {
  return std::string(city_facts(a).kato.substr(0, 2)) + "11";
}

std::string court_name(const Address& a) {
  return "СПЕЦИАЛИЗИРОВАННЫЙ МЕЖРАЙОННЫЙ СУД Г. " + a.city;
}

// CCCC-YY-00-K/KNNNR: court, year, category (1 criminal, 2 civil), owner code and a digit.
std::string case_number(const Address& a, int64_t day, int category, Owner o, Rng& rng) {
  return court_code(a) + "-" + day_string(day).substr(2, 2) + "-00-" + std::to_string(category) +
         "/" + owner_code(o) + std::to_string(rng.below(10));
}

std::optional<Owner> owner_from_case_number(const std::string& v) {
  const size_t slash = v.find('/');
  if (slash == std::string::npos || v.size() != slash + 6) return std::nullopt;
  return parse_owner_code(std::string_view(v).substr(slash + 1, 4));
}

std::optional<Owner> owner_from_erdr(const std::string& v) {
  return v.size() == 15 ? parse_owner_code(std::string_view(v).substr(8, 4)) : std::nullopt;
}

// A person key or an ERDR / case number, as the IIN of the person concerned.
Result<std::string> person_or_number(std::string_view key_name, const std::string& value) {
  std::optional<Owner> o;
  if (key_name == "erdr_number")
    o = owner_from_erdr(value);
  else if (key_name == "court_case_number")
    o = owner_from_case_number(value);
  else
    return person_iin(key_name, value);
  if (!o || o->kind != Kind::Resident) return not_found("no case with this number");
  return synthetic_iin(o->index);
}

struct CivilCase {
  std::string number, received, decided;
  uint32_t plaintiff = 0;
  int64_t claim_tiyn = 0;
};

// Resident n is sued (8%) by company (7n + 3) mod 900, so a plaintiff's cases are found by
// solving for n (643 is the inverse of 7 modulo 900).
std::optional<CivilCase> civil_case_of(uint32_t n) {
  const Person p = person_for(synthetic_iin(n));
  Rng rng("civil", p.iin);
  if (age_of(p) < 21 || !rng.chance(8)) return std::nullopt;
  CivilCase c;
  c.plaintiff = (n * 7 + 3) % kFirstStateBody;
  const int64_t received = today_days() - rng.between(40, 1500);
  c.number = case_number(p.reg_address, received, 2, {Kind::Resident, n}, rng);
  c.received = day_string(received);
  c.decided = day_string(received + rng.between(20, 90));
  c.claim_tiyn = rng.between(150'000, 9'000'000) * 100 + rng.between(1, 99);
  return c;
}

json party(std::string_view role_ru, std::string_view role_kz, const std::string& id,
           const std::string& name) {
  return {{"role", dict(role_ru == "ИСТЕЦ"      ? "1"
                        : role_ru == "ОТВЕТЧИК" ? "2"
                                                : "3",
                        role_ru, role_kz)},
          {"iin_bin", id},
          {"name", name}};
}

json civil_case_json(uint32_t n, const CivilCase& c) {
  const Person p = person_for(synthetic_iin(n));
  return {{"case_number", c.number},
          {"court", dict(court_code(p.reg_address), court_name(p.reg_address),
                         p.reg_address.city + " Қ. МАМАНДАНДЫРЫЛҒАН АУДАНАРАЛЫҚ СОТЫ")},
          {"instance", "ПЕРВАЯ"},
          {"category", dict("2", "ГРАЖДАНСКОЕ", "АЗАМАТТЫҚ")},
          {"received_date", c.received},
          {"parties", json::array({party("ИСТЕЦ", "ТАЛАПКЕР", synthetic_bin(c.plaintiff),
                                         synthetic_company_name(c.plaintiff)),
                                   party("ОТВЕТЧИК", "ЖАУАПКЕР", p.iin, full_name(p))})},
          {"claim_sum", format_tiyn(c.claim_tiyn)},
          {"result", "ИСК УДОВЛЕТВОРЁН"},
          {"act_date", c.decided},
          {"erdr_number", ""}};
}

json criminal_case_json(const Person& p, const CriminalCase& c) {
  return {{"case_number", c.court_case},
          {"court", dict(court_code(p.reg_address), court_name(p.reg_address),
                         p.reg_address.city + " Қ. МАМАНДАНДЫРЫЛҒАН АУДАНАРАЛЫҚ СОТЫ")},
          {"instance", "ПЕРВАЯ"},
          {"category", dict("1", "УГОЛОВНОЕ", "ҚЫЛМЫСТЫҚ")},
          {"received_date", c.registered},
          {"parties", json::array({party("ПОДСУДИМЫЙ", "СОТТАЛУШЫ", p.iin, full_name(p))})},
          {"claim_sum", "0.00"},
          {"result", "ОБВИНИТЕЛЬНЫЙ ПРИГОВОР"},
          {"act_date", c.verdict_date},
          {"erdr_number", c.erdr}};
}

// The civil cases company m brought: residents n with 7n + 3 ≡ m (mod 900).
std::vector<std::pair<uint32_t, CivilCase>> cases_brought_by(uint32_t m) {
  std::vector<std::pair<uint32_t, CivilCase>> out;
  if (m >= kFirstStateBody) return out;
  const uint32_t r = ((m + kFirstStateBody - 3) % kFirstStateBody) * 643 % kFirstStateBody;
  for (uint32_t n = r; n < kPopulation; n += kFirstStateBody)
    if (auto c = civil_case_of(n); c && c->plaintiff == m) out.emplace_back(n, *c);
  return out;
}

}  // namespace

std::vector<CriminalCase> criminal_cases_of(uint32_t n) {
  std::vector<CriminalCase> out;
  const Person p = person_for(synthetic_iin(n));
  Rng rng("criminal", p.iin);
  if (age_of(p) < 18 || !rng.chance(p.male ? 9 : 3)) return out;
  const int count = rng.chance(10) ? 2 : 1;
  const int64_t adult =
      days_of(p.birth_year + 18, p.birth_month, p.birth_month == 2 ? 28 : p.birth_day);
  for (int i = 0; i < count; ++i) {
    CriminalCase c;
    const int64_t reg = rng.between(std::max(adult, today_days() - 8 * 365), today_days() - 20);
    c.registered = day_string(reg);
    c.erdr = c.registered.substr(2, 2) + std::string(city_facts(p.reg_address).kato.substr(0, 2)) +
             p.reg_address.district.code.substr(3, 4) + owner_code({Kind::Resident, n}) +
             digits(rng.below(1000), 3);
    const Article& a = rng.pick(kArticles);
    c.article = a.code;
    c.article_ru = a.ru;
    const uint64_t outcome = rng.below(100);
    if (outcome < 60 && reg < today_days() - 250) {
      c.status_ru = "НАПРАВЛЕНО В СУД";
      const int64_t verdict = reg + rng.between(60, 200);
      c.court_case = case_number(p.reg_address, reg + 40, 1, {Kind::Resident, n}, rng);
      c.verdict_date = day_string(verdict);
      static const char* kSentences[] = {"ШТРАФ", "ОГРАНИЧЕНИЕ СВОБОДЫ НА 2 ГОДА",
                                         "ЛИШЕНИЕ СВОБОДЫ НА 3 ГОДА", "ИСПРАВИТЕЛЬНЫЕ РАБОТЫ"};
      c.sentence = rng.pick(kSentences);
    } else if (outcome < 80) {
      c.status_ru = "ПРЕКРАЩЕНО";
    } else {
      c.status_ru = "В ПРОИЗВОДСТВЕ";
      c.wanted = rng.chance(80);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// ---- R14 special accounts ----

Result<json> generate_r14_special_accounts(std::string_view key_name, const std::string& value) {
  auto iin = person_or_number(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  json criminal = json::array(), admin = json::array();
  if (auto n = resident_index(*iin)) {
    for (const CriminalCase& c : criminal_cases_of(*n)) {
      const bool convicted = !c.verdict_date.empty();
      criminal.push_back({{"erdr_number", c.erdr},
                          {"entry_data", c.registered},
                          {"qualification", c.article},
                          {"qualification_desc", c.article_ru},
                          {"investigative_authority", "УП " + p.reg_address.district.name_ru},
                          {"decision_on_person", convicted ? "ОСУЖДЁН" : c.status_ru},
                          {"last_solution", c.status_ru},
                          {"last_solution_date", convicted ? c.verdict_date : c.registered},
                          {"court_of_first_instance", convicted ? court_name(p.reg_address) : ""},
                          {"court_case_number", c.court_case},
                          {"measure", c.sentence}});
    }
    if (key_name == "erdr_number")
      if (Status st = keep_only(criminal, [&](const json& e) { return e["erdr_number"] == value; });
          !st)
        return st.error();
  }
  Rng rng("r14-admin", p.iin);
  const int count = age_of(p) >= 18 && rng.chance(25) ? static_cast<int>(rng.between(1, 3)) : 0;
  static const Article kAdmin[] = {
      {"592 ч.1 КоАП РК", "ПРЕВЫШЕНИЕ СКОРОСТИ"},
      {"597 ч.1 КоАП РК", "НАРУШЕНИЕ ПРАВИЛ ПАРКОВКИ"},
      {"434 ч.1 КоАП РК", "МЕЛКОЕ ХУЛИГАНСТВО"},
      {"440 ч.1 КоАП РК", "РАСПИТИЕ АЛКОГОЛЬНЫХ НАПИТКОВ В ОБЩЕСТВЕННЫХ МЕСТАХ"}};
  for (int i = 0; i < count; ++i) {
    const Article& a = rng.pick(kAdmin);
    const int64_t day = today_days() - rng.between(5, 1500);
    admin.push_back({{"protocol_num", digits(rng.below(1000000000), 9)},
                     {"reg_date", day_string(day)},
                     {"authority_detected", "УАП ДП " + p.reg_address.region.name_ru},
                     {"qualification", a.code},
                     {"qualification_desc", a.ru},
                     {"fine_amount", format_tiyn(rng.between(5, 40) * 393200)},
                     {"end_date", day_string(day + rng.between(10, 60))},
                     {"enforcement", rng.chance(10)}});
  }
  return json{{"iin", p.iin},
              {"fullName", full_name(p)},
              {"birthDate", p.birth_date},
              {"criminal_records", std::move(criminal)},
              {"administrative_offences", std::move(admin)}};
}

// ---- R15 unified statistics (ERDR cases) ----

Result<json> generate_r15_euss(std::string_view key_name, const std::string& value) {
  auto iin = person_or_number(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  json list = json::array();
  if (auto n = resident_index(*iin)) {
    for (const CriminalCase& c : criminal_cases_of(*n))
      list.push_back(
          {{"erdr_number", c.erdr},
           {"registration_date", c.registered},
           {"qualification", c.article},
           {"qualification_desc", c.article_ru},
           {"registering_body", "УП " + p.reg_address.district.name_ru},
           {"region", dict_json(p.reg_address.region)},
           {"case_status", c.status_ru},
           {"decision_date", c.verdict_date.empty() ? c.registered : c.verdict_date},
           {"participants", json::array({{{"iin", p.iin},
                                          {"fullName", full_name(p)},
                                          {"role", dict("1", "ПОДОЗРЕВАЕМЫЙ", "КҮДІКТІ")}}})}});
  }
  if (key_name == "erdr_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["erdr_number"] == value; }); !st)
      return st.error();
  return json{{"cases", std::move(list)}};
}

// ---- R16 courts ----

Result<json> generate_r16_courts(std::string_view key_name, const std::string& value) {
  json list = json::array();
  if (key_name == "bin") {
    for (const auto& [n, c] : cases_brought_by(*company_index(value)))
      list.push_back(civil_case_json(n, c));
    return json{{"cases", std::move(list)}};
  }
  auto iin = person_or_number(key_name, value);
  if (!iin) return iin.error();
  if (auto n = resident_index(*iin)) {
    const Person p = person_for(*iin);
    for (const CriminalCase& c : criminal_cases_of(*n))
      if (!c.court_case.empty()) list.push_back(criminal_case_json(p, c));
    if (auto c = civil_case_of(*n)) list.push_back(civil_case_json(*n, *c));
  }
  if (key_name == "court_case_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["case_number"] == value; }); !st)
      return st.error();
  return json{{"cases", std::move(list)}};
}

// ---- R17 court cards (statistical cards per defendant and case) ----

namespace {

json criminal_card(const Person& p, const CriminalCase& c) {
  return {{"court_case_number", c.court_case},
          {"category", dict("1", "УГОЛОВНОЕ", "ҚЫЛМЫСТЫҚ")},
          {"erdr_number", c.erdr},
          {"defendant", {{"iin_bin", p.iin}, {"name", full_name(p)}}},
          {"articles", json::array({c.article})},
          {"decision_date", c.verdict_date},
          {"outcome", c.sentence},
          {"court", court_name(p.reg_address)},
          {"entry_into_force_date", day_string(*time::parse_date(c.verdict_date) + 15)}};
}

json civil_card(uint32_t n, const CivilCase& c) {
  const Person p = person_for(synthetic_iin(n));
  return {{"court_case_number", c.number},
          {"category", dict("2", "ГРАЖДАНСКОЕ", "АЗАМАТТЫҚ")},
          {"erdr_number", ""},
          {"defendant", {{"iin_bin", p.iin}, {"name", full_name(p)}}},
          {"articles", json::array({"272 ГК РК"})},
          {"decision_date", c.decided},
          {"outcome", "ВЗЫСКАНИЕ " + format_tiyn(c.claim_tiyn) + " KZT В ПОЛЬЗУ " +
                          synthetic_company_name(c.plaintiff)},
          {"court", court_name(p.reg_address)},
          {"entry_into_force_date", day_string(*time::parse_date(c.decided) + 30)}};
}

}  // namespace

Result<json> generate_r17_court_cards(std::string_view key_name, const std::string& value) {
  json list = json::array();
  if (key_name == "bin") {
    // Legal entities bear no criminal liability in Kazakhstan: their cards are civil cases.
    for (const auto& [n, c] : cases_brought_by(*company_index(value)))
      list.push_back(civil_card(n, c));
    return json{{"cards", std::move(list)}};
  }
  auto iin = person_or_number(key_name, value);
  if (!iin) return iin.error();
  if (auto n = resident_index(*iin)) {
    const Person p = person_for(*iin);
    for (const CriminalCase& c : criminal_cases_of(*n))
      if (!c.court_case.empty()) list.push_back(criminal_card(p, c));
    if (auto c = civil_case_of(*n)) list.push_back(civil_card(*n, *c));
  }
  if (key_name == "court_case_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["court_case_number"] == value; });
        !st)
      return st.error();
  return json{{"cards", std::move(list)}};
}

// ---- R18 / R41 civil servants (employees of state bodies, companies 900..999) ----

namespace {

json servant(uint32_t n, bool detailed) {
  const Person p = person_for(synthetic_iin(n));
  const uint32_t body = *employer_of(n);
  Rng rng("r41", p.iin);
  static const char* kPositions[] = {"ГЛАВНЫЙ СПЕЦИАЛИСТ", "ВЕДУЩИЙ СПЕЦИАЛИСТ",
                                     "РУКОВОДИТЕЛЬ ОТДЕЛА", "ЭКСПЕРТ"};
  static const char* kCategories[] = {"C-O-4", "C-O-5", "C-O-3", "D-O-4"};
  const size_t pos = rng.below(4);
  const std::string appointed = day_string(today_days() - rng.between(60, 3000));
  json j = {{"iin", p.iin},
            {"fullName", full_name(p)},
            {"state_body", {{"bin", synthetic_bin(body)}, {"name", synthetic_company_name(body)}}},
            {"position", kPositions[pos]},
            {"category", kCategories[pos]},
            {"appointment_date", appointed}};
  if (detailed) {
    j["appointment_order"] = "№ " + std::to_string(rng.between(1, 400)) + "-ЛС ОТ " + appointed;
    j["career"] = json::array({{{"state_body", synthetic_company_name(body)},
                                {"position", kPositions[pos]},
                                {"from", appointed},
                                {"to", ""}}});
    j["disciplinary_sanctions"] = json::array();
    if (rng.chance(8))
      j["disciplinary_sanctions"].push_back(
          {{"measure", "ЗАМЕЧАНИЕ"}, {"date", day_string(today_days() - rng.between(10, 300))}});
    std::string mail = p.eng_first_name.substr(0, 1) + "." + p.eng_surname;
    for (char& ch : mail) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    j["work_email"] = mail + "@synthetic.gov.kz";
  }
  return j;
}

Result<json> servants(std::string_view key_name, const std::string& value, bool detailed) {
  json list = json::array();
  if (key_name == "bin") {
    const uint32_t m = *company_index(value);
    if (m >= kFirstStateBody)
      for (uint32_t n : employees_of(m)) list.push_back(servant(n, detailed));
  } else if (auto n = resident_index(value)) {
    auto e = employer_of(*n);
    if (e && *e >= kFirstStateBody) list.push_back(servant(*n, detailed));
  }
  return json{{"servants", std::move(list)}};
}

}  // namespace

Result<json> generate_r18_civil_servant_check(std::string_view key_name, const std::string& value) {
  return servants(key_name, value, false);
}

Result<json> generate_r41_civil_servants(std::string_view key_name, const std::string& value) {
  return servants(key_name, value, true);
}

// ---- R21 e-notary ----

Result<json> generate_r21_notary(std::string_view key_name, const std::string& value) {
  Subject s;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "NTR");
    if (!o) return bad_key("a notarial register number is NTR-KNNN-NNNN");
    if (o->kind == Kind::Foreigner) return not_found("no such notarial act");
    s = subject_of(id_of(*o));
  } else {
    s = subject_of(value);
  }
  json list = json::array();
  if (s.owner && s.owner->kind != Kind::Foreigner) {
    Rng rng("r21", owner_code(*s.owner));
    const std::vector<Vehicle> cars = vehicles_of(*s.owner);
    const std::vector<Estate> homes = estates_of(*s.owner);
    int count = rng.chance(30) ? static_cast<int>(rng.between(1, 3)) : 0;
    if (!s.company) {
      const Person p = person_for(s.id);
      if (age_at_today(p.birth_year, p.birth_month, p.birth_day) < 18) count = 0;
    }
    for (int i = 0; i < count; ++i) {
      json parties =
          json::array({{{"role", "ДОВЕРИТЕЛЬ / СТОРОНА"}, {"iin_bin", s.id}, {"name", s.name}}});
      std::string type_code, type_ru, type_kz, object;
      if (!cars.empty() && rng.chance(50)) {
        type_code = "01";
        type_ru = "ДОВЕРЕННОСТЬ НА УПРАВЛЕНИЕ ТРАНСПОРТНЫМ СРЕДСТВОМ";
        type_kz = "КӨЛІК ҚҰРАЛЫН БАСҚАРУҒА СЕНІМХАТ";
        object = "VIN " + cars[rng.below(cars.size())].vin;
      } else if (!homes.empty() && rng.chance(50)) {
        type_code = "02";
        type_ru = "ДОГОВОР КУПЛИ-ПРОДАЖИ НЕДВИЖИМОСТИ";
        type_kz = "ЖЫЛЖЫМАЙТЫН МҮЛІКТІ САТЫП АЛУ-САТУ ШАРТЫ";
        object = "КАДАСТРОВЫЙ НОМЕР " + homes[rng.below(homes.size())].cadastral;
      } else {
        type_code = "03";
        type_ru = "ДОВЕРЕННОСТЬ НА ПРЕДСТАВЛЕНИЕ ИНТЕРЕСОВ";
        type_kz = "МҮДДЕЛЕРДІ БІЛДІРУГЕ СЕНІМХАТ";
      }
      if (s.owner->kind == Kind::Resident) {
        const int spouse = family_of(s.owner->index).spouse;
        if (spouse >= 0) {
          const Person sp = person_for(synthetic_iin(static_cast<uint32_t>(spouse)));
          parties.push_back(
              {{"role", "ПОВЕРЕННЫЙ / СТОРОНА"}, {"iin_bin", sp.iin}, {"name", full_name(sp)}});
        }
      } else {
        const Person d = person_for(synthetic_iin(company_for(s.owner->index).director));
        parties.push_back({{"role", "ПОВЕРЕННЫЙ"}, {"iin_bin", d.iin}, {"name", full_name(d)}});
      }
      const int64_t day = today_days() - rng.between(5, 2000);
      list.push_back(
          {{"register_number", register_number("NTR", *s.owner, rng.next())},
           {"action_type", dict(type_code, type_ru, type_kz)},
           {"date", day_string(day)},
           {"unique_code", "N" + digits(rng.next() % 1000000000000ULL, 12)},
           {"notary",
            {{"fullName", "НОТАРИУС " + name_of({Kind::Resident,
                                                 static_cast<uint32_t>(rng.below(kPopulation))})},
             {"license_number", digits(rng.below(100000), 5)},
             {"district",
              "НОТАРИАЛЬНЫЙ ОКРУГ Г. " + (s.company ? company_for(s.owner->index).address.city
                                                    : person_for(s.id).reg_address.city)}}},
           {"parties", std::move(parties)},
           {"object", object},
           {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["register_number"] == value; });
        !st)
      return st.error();
  return json{{"actions", std::move(list)}};
}

// ---- R37 wanted (hiding from inquiry or investigation) and R38 missing persons ----

Result<json> generate_r37_wanted(std::string_view key_name, const std::string& value) {
  std::string iin;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "WNT");
    if (!o) return bad_key("a search record number is WNT-KNNN-NNNN");
    if (o->kind != Kind::Resident) return not_found("no such search record");
    iin = synthetic_iin(o->index);
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    iin = *r;
  }
  const Person p = person_for(iin);
  json list = json::array();
  if (auto n = resident_index(iin)) {
    Rng rng("r37", p.iin);
    for (const CriminalCase& c : criminal_cases_of(*n)) {
      if (!c.wanted) continue;
      const int64_t since = *time::parse_date(c.registered) + 30;
      list.push_back({{"number", register_number("WNT", {Kind::Resident, *n}, rng.next())},
                      {"organ", "УП " + p.reg_address.district.name_ru},
                      {"search_type", dict("1", "МЕЖГОСУДАРСТВЕННЫЙ", "МЕМЛЕКЕТАРАЛЫҚ")},
                      {"information", "СКРЫЛСЯ ОТ ОРГАНА УГОЛОВНОГО ПРЕСЛЕДОВАНИЯ"},
                      {"additional_info", ""},
                      {"relevanceDate", day_string(std::min(since, today_days() - 1))},
                      {"erdr_number", c.erdr},
                      {"article", c.article},
                      {"preventive_measure", "СОДЕРЖАНИЕ ПОД СТРАЖЕЙ"}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["number"] == value; }); !st)
      return st.error();
  return json{{"iin", p.iin},
              {"fullName", full_name(p)},
              {"birthDate", p.birth_date},
              {"search_records", std::move(list)}};
}

Result<json> generate_r38_missing(std::string_view key_name, const std::string& value) {
  std::string iin;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "MIS");
    if (!o) return bad_key("a search record number is MIS-KNNN-NNNN");
    if (o->kind != Kind::Resident) return not_found("no such search record");
    iin = synthetic_iin(o->index);
  } else {
    auto r = person_iin(key_name, value);
    if (!r) return r.error();
    iin = *r;
  }
  const Person p = person_for(iin);
  json list = json::array();
  if (auto n = resident_index(iin)) {
    Rng rng("r38", p.iin);
    if (rng.chance(2)) {
      const int64_t since = today_days() - rng.between(10, 900);
      list.push_back({{"number", register_number("MIS", {Kind::Resident, *n}, rng.next())},
                      {"organ", "УП " + p.reg_address.district.name_ru},
                      {"search_type", dict("2", "РЕСПУБЛИКАНСКИЙ", "РЕСПУБЛИКАЛЫҚ")},
                      {"information", "УШЁЛ ИЗ ДОМА И НЕ ВЕРНУЛСЯ"},
                      {"additional_info", "ПОСЛЕДНИЙ РАЗ ВИДЕЛИ: " + address_text(p.reg_address)},
                      {"relevanceDate", day_string(since)}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["number"] == value; }); !st)
      return st.error();
  return json{{"iin", p.iin},
              {"fullName", full_name(p)},
              {"birthDate", p.birth_date},
              {"search_records", std::move(list)}};
}

}  // namespace aaj::sim::internal
