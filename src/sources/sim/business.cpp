// Legal entities, tax and finance: R02 legal entities, R25 taxpayers, R26 e-licences, R27 public
// procurement, R28 foreign-trade participants, R32/R33 subsoil-use contracts, R34 budget revenue,
// R39 unreliable procurement participants. (R11 pensions is in r11_pension.cpp.)
#include <cstring>

#include "core/time.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

Rng owner_stream(std::string_view domain, Owner o) {
  return Rng(domain, owner_code(o));
}

json fio(const Person& p) {
  return {{"SurName", p.surname}, {"Name", p.name}, {"MiddleName", p.patronymic}};
}

// The company an organisation name designates: the token «Синтетика-N» in any letter case.
std::optional<uint32_t> company_by_name(const std::string& text) {
  const std::string u = upper(text);
  const std::string token = "СИНТЕТИКА-";
  size_t pos = u.find(token);
  if (pos == std::string::npos) return std::nullopt;
  pos += token.size();
  size_t end = pos;
  while (end < u.size() && end - pos < 4 && u[end] >= '0' && u[end] <= '9') ++end;
  if (end == pos || end - pos > 3 || (end < u.size() && u[end] >= '0' && u[end] <= '9'))
    return std::nullopt;
  return static_cast<uint32_t>(std::stoul(u.substr(pos, end - pos)));
}

Result<Subject> org_subject(std::string_view key_name, const std::string& value) {
  if (key_name != "org_name") return subject_of(value);
  auto m = company_by_name(value);
  if (!m) return not_found("no organisation with this name");
  return subject_of(synthetic_bin(*m));
}

json tax_org(const Address& a) {
  const std::string code =
      std::string(city_facts(a).kato.substr(0, 2)) + a.district.code.substr(5, 2);
  return dict(code, "УГД ПО " + a.district.name_ru, a.district.name_kz + " БОЙЫНША МКБ");
}

Address address_of(const Subject& s) {
  if (s.company) return company_for(s.owner->index).address;
  return person_for(s.id).reg_address;
}

}  // namespace

// ---- R02 legal entities (ГБД ЮЛ) ----

Result<json> generate_r02_legal_entities(std::string_view key_name, const std::string& value) {
  auto s = org_subject(key_name, value);
  if (!s) return s.error();
  const Company c = company_for(s->owner->index);
  Rng rng = owner_stream("r02", *s->owner);
  const Person head = person_for(synthetic_iin(c.director));
  json founders_fl = json::array(), founders_ul = json::array();
  for (uint32_t f : c.founders) {
    const Person p = person_for(synthetic_iin(f));
    founders_fl.push_back({{"FIO", fio(p)}, {"IIN", p.iin}});
  }
  if (!c.state_body && rng.chance(15)) {
    const uint32_t parent = static_cast<uint32_t>(rng.below(900));
    if (parent != c.index)
      founders_ul.push_back({{"OrganizationNameRu", synthetic_company_name(parent)},
                             {"OrganizationNameKz", company_for(parent).name_kz},
                             {"BIN", synthetic_bin(parent)}});
  }
  const int64_t reg = *time::parse_date(c.registration_date);
  const std::string appointed = day_string(rng.between(reg, today_days() - 30));
  const bool reregistered = rng.chance(30);
  const std::string last =
      reregistered ? day_string(rng.between(reg + 30, today_days() - 30)) : c.registration_date;
  json deals = json::array({{{"RegisterDealTypeId", 1},
                             {"TypeNameRu", "Государственная регистрация"},
                             {"TypeNameKz", "Мемлекеттік тіркеу"},
                             {"RegisterDealTypeDate", c.registration_date}}});
  if (reregistered)
    deals.push_back({{"RegisterDealTypeId", 2},
                     {"TypeNameRu", "Государственная перерегистрация"},
                     {"TypeNameKz", "Мемлекеттік қайта тіркеу"},
                     {"RegisterDealTypeDate", last}});
  const size_t n_founders = founders_fl.size() + founders_ul.size();
  return json{
      {"BIN", c.bin},
      {"OrgFormCode", 1},
      {"OrganizationNameRu", c.name_ru},
      {"OrganizationNameKz", c.name_kz},
      {"RegistrationDepartment",
       {{"Code", c.address.region.code},
        {"NameRu", "ДЕПАРТАМЕНТ ЮСТИЦИИ " + c.address.region.name_ru},
        {"NameKz", c.address.region.name_kz + " ӘДІЛЕТ ДЕПАРТАМЕНТІ"}}},
      {"RegistrationDate", c.registration_date},
      {"RegistrationLastDate", last},
      {"OrganizationLeader",
       {{"FIO", fio(head)},
        {"IIN", head.iin},
        {"PositionInfo",
         {{"NameRu", c.state_body ? "Руководитель" : "Директор"},
          {"NameKz", c.state_body ? "Басшы" : "Директор"},
          {"AppointmentDate", appointed}}}}},
      {"FoundersFL", std::move(founders_fl)},
      {"FoundersUL", std::move(founders_ul)},
      {"FoundersCount", static_cast<int>(n_founders)},
      {"ActivityTypeNameRu", c.activity.name_ru},
      {"ActivityTypeNameKz", c.activity.name_kz},
      {"OKED", c.activity.code},
      {"LegalAddress",
       {{"RKA", c.address.ar_code},
        {"NameRu", address_text(c.address)},
        {"NameKz", address_text(c.address)}}},
      {"RegisterDeals", std::move(deals)},
  };
}

// ---- R25 taxpayers (КГД) ----

Result<json> generate_r25_taxpayers(std::string_view key_name, const std::string& value) {
  auto s = org_subject(key_name, value);
  if (!s) return s.error();
  const Address a = address_of(*s);
  json vat = json::array(), risks = json::array();
  std::string registered;
  if (s->company) {
    const Company c = company_for(s->owner->index);
    Rng rng = owner_stream("r25", *s->owner);
    registered = c.registration_date;
    if (!c.state_body && c.staff > 30) {
      const int64_t from = *time::parse_date(c.registration_date) + rng.between(30, 700);
      vat.push_back({{"certificate_number", digits(rng.below(10000000), 7)},
                     {"begin_date", day_string(std::min(from, today_days() - 10))},
                     {"end_date", ""},
                     {"status", dict("1", "СОСТОИТ НА УЧЁТЕ", "ЕСЕПТЕ ТҰР")}});
    }
    if (!c.state_body && rng.chance(4))
      risks.push_back({{"list", dict("INACTIVE", "БЕЗДЕЙСТВУЮЩИЕ НАЛОГОПЛАТЕЛЬЩИКИ",
                                     "ӘРЕКЕТСІЗ САЛЫҚ ТӨЛЕУШІЛЕР")},
                       {"order_no", digits(rng.below(100000), 5)},
                       {"order_date", day_string(today_days() - rng.between(30, 900))}});
  } else {
    const Person p = person_for(s->id);
    // IINs replaced RNNs in 2013: persons born earlier were registered as taxpayers then.
    int64_t d = std::max(days_of(p.birth_year, p.birth_month, p.birth_day), days_of(2013, 1, 1));
    registered = day_string(d + Rng("r25", s->id).between(0, 20));
  }
  return json{{"iin_bin", s->id},
              {"taxpayer_name", s->name},
              {"taxpayer_type", s->company ? dict("UL", "ЮРИДИЧЕСКОЕ ЛИЦО", "ЗАҢДЫ ТҰЛҒА")
                                           : dict("FL", "ФИЗИЧЕСКОЕ ЛИЦО", "ЖЕКЕ ТҰЛҒА")},
              {"registration_date", registered},
              {"tax_org", tax_org(a)},
              {"status", dict("1", "ДЕЙСТВУЮЩИЙ", "ӘРЕКЕТТЕГІ")},
              {"vat_registrations", std::move(vat)},
              {"risk_lists", std::move(risks)}};
}

// ---- R26 e-licensing ----

namespace {

std::optional<Owner> owner_from_licence(const std::string& v) {
  // KZ NN LLL KNNN NNNN
  if (v.size() != 15 || v.substr(0, 2) != "KZ" || !all_digits(v.substr(2, 2)) ||
      !all_digits(v.substr(7)))
    return std::nullopt;
  return parse_owner_code(std::string_view(v).substr(7, 4));
}

}  // namespace

Result<json> generate_r26_licences(std::string_view key_name, const std::string& value) {
  Subject s;
  if (key_name == "register_number") {
    auto o = owner_from_licence(value);
    if (!o) return bad_key("a licence number is KZ, 2 digits, 3 letters and 8 digits");
    s = subject_of(id_of(*o));
  } else {
    s = subject_of(value);
  }
  json list = json::array();
  if (s.owner && s.owner->kind != Kind::Foreigner) {
    Rng rng = owner_stream("r26", *s.owner);
    struct Lic {
      const char *code, *ru, *kz, *licensor;
    };
    static const Lic kCompanyLic[] = {
        {"101", "СТРОИТЕЛЬНО-МОНТАЖНЫЕ РАБОТЫ", "ҚҰРЫЛЫС-МОНТАЖ ЖҰМЫСТАРЫ",
         "КОМИТЕТ ПО ДЕЛАМ СТРОИТЕЛЬСТВА"},
        {"102", "ОХРАННАЯ ДЕЯТЕЛЬНОСТЬ", "КҮЗЕТ ҚЫЗМЕТІ", "МВД РК"},
        {"103", "ОПТОВАЯ РЕАЛИЗАЦИЯ АЛКОГОЛЬНОЙ ПРОДУКЦИИ", "АЛКОГОЛЬ ӨНІМІН КӨТЕРМЕ САТУ",
         "КГД МФ РК"},
        {"104", "ПЕРЕВОЗКА ОПАСНЫХ ГРУЗОВ", "ҚАУІПТІ ЖҮКТЕРДІ ТАСЫМАЛДАУ", "КОМИТЕТ ТРАНСПОРТА"}};
    static const Lic kPersonLic[] = {
        {"201", "АДВОКАТСКАЯ ДЕЯТЕЛЬНОСТЬ", "АДВОКАТТЫҚ ҚЫЗМЕТ", "МИНИСТЕРСТВО ЮСТИЦИИ РК"},
        {"202", "АУДИТОРСКАЯ ДЕЯТЕЛЬНОСТЬ", "АУДИТОРЛЫҚ ҚЫЗМЕТ", "МИНИСТЕРСТВО ФИНАНСОВ РК"},
        {"203", "МЕДИЦИНСКАЯ ДЕЯТЕЛЬНОСТЬ", "МЕДИЦИНАЛЫҚ ҚЫЗМЕТ",
         "МИНИСТЕРСТВО ЗДРАВООХРАНЕНИЯ РК"}};
    int count = 0;
    if (s.company && !company_for(s.owner->index).state_body && rng.chance(40))
      count = static_cast<int>(rng.between(1, 2));
    if (!s.company) {
      const Person p = person_for(s.id);
      if (age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 25 && rng.chance(5)) count = 1;
    }
    const Address a =
        s.company ? company_for(s.owner->index).address : person_for(s.id).reg_address;
    for (int i = 0; i < count; ++i) {
      const Lic& l = s.company ? rng.pick(kCompanyLic) : rng.pick(kPersonLic);
      const int64_t issued = today_days() - rng.between(30, 4000);
      std::string number = "KZ" + digits(rng.below(100), 2) + "LAA" + owner_code(*s.owner) +
                           digits(rng.below(10000), 4);
      list.push_back({{"number", number},
                      {"type", dict("1", "ЛИЦЕНЗИЯ", "ЛИЦЕНЗИЯ")},
                      {"date_of_issue", day_string(issued)},
                      {"licensor", l.licensor},
                      {"activity", dict(l.code, l.ru, l.kz)},
                      {"address", address_text(a)},
                      {"status", dict("1", "ДЕЙСТВУЮЩАЯ", "ҚОЛДАНЫСТАҒЫ")},
                      {"valid_to", "БЕССРОЧНО"}});
    }
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["number"] == value; }); !st)
      return st.error();
  return json{{"holder_iin_bin", s.id}, {"holder_name", s.name}, {"documents", std::move(list)}};
}

// ---- R27 electronic public procurement ----

namespace {

// The contracts a supplier won: a company (not a state body) or an individual entrepreneur (a
// resident). Contract i goes to state body 900 + (7k + 13i + offset) % 100 (offset 50 for
// persons), so a customer's contracts are found by solving for k instead of scanning everyone.
int supplier_offset(Owner o) {
  return o.kind == Kind::Resident ? 50 : 0;
}

json supplier_contracts(Owner o) {
  json list = json::array();
  if (o.kind == Kind::Foreigner || (o.kind == Kind::Company && o.index >= kFirstStateBody))
    return list;
  Rng rng("r27", owner_code(o));
  int count = 0;
  if (o.kind == Kind::Company) {
    count = rng.chance(30) ? static_cast<int>(rng.between(1, 3)) : 0;
  } else if (rng.chance(10)) {  // cheap test first: customers probe many candidates
    const Person p = person_for(id_of(o));
    count = age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 25 ? 1 : 0;
  }
  if (count == 0) return list;
  const Subject s = subject_of(id_of(o));
  for (int i = 0; i < count; ++i) {
    const uint32_t customer =
        kFirstStateBody + (o.index * 7 + static_cast<uint32_t>(i) * 13 + supplier_offset(o)) % 100;
    const int64_t signed_on = today_days() - rng.between(10, 900);
    const int64_t sum = rng.between(500'000, 90'000'000) * 100 + rng.between(1, 99);
    int y;
    unsigned mo, d;
    time::civil_from_days(signed_on, y, mo, d);
    list.push_back(
        {{"contract_number", register_number("GZ", o, rng.next())},
         {"sign_date", day_string(signed_on)},
         {"contract_sum", format_tiyn(sum)},
         {"customer_bin", synthetic_bin(customer)},
         {"customer_name", synthetic_company_name(customer)},
         {"supplier_biin", s.id},
         {"supplier_name", o.kind == Kind::Resident ? "ИП " + s.name : s.name},
         {"status", signed_on < today_days() - 365 ? dict("3", "ИСПОЛНЕН", "ОРЫНДАЛДЫ")
                                                   : dict("2", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")},
         {"fin_year", y},
         {"currency", "KZT"}});
  }
  return list;
}

json customer_contracts(uint32_t c) {
  json list = json::array();
  for (Kind kind : {Kind::Company, Kind::Resident}) {
    const uint32_t limit = kind == Kind::Company ? kFirstStateBody : kPopulation;
    const uint32_t offset = kind == Kind::Resident ? 50 : 0;
    for (uint32_t i = 0; i < 3; ++i) {
      // Solve 7k ≡ c - 900 - 13i - offset (mod 100) for k: 43 is the inverse of 7 modulo 100.
      const uint32_t r = ((c - kFirstStateBody + 1400 - 13 * i - offset) % 100) * 43 % 100;
      for (uint32_t k = r; k < limit; k += 100) {
        json mine = supplier_contracts({kind, k});
        if (mine.size() > i) list.push_back(mine[i]);
      }
    }
  }
  return list;
}

}  // namespace

Result<json> generate_r27_procurement(std::string_view key_name, const std::string& value) {
  Subject s;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, "GZ");
    if (!o) return bad_key("a procurement contract number is GZ-KNNN-NNNN");
    if (o->kind == Kind::Foreigner) return not_found("no such contract");
    s = subject_of(id_of(*o));
  } else {
    s = subject_of(value);
  }
  json list = json::array();
  bool supplier = false, customer = false;
  if (s.owner) {
    customer = s.company && s.owner->index >= kFirstStateBody;
    list = customer ? customer_contracts(s.owner->index) : supplier_contracts(*s.owner);
    supplier = !customer && !list.empty();
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["contract_number"] == value; });
        !st)
      return st.error();
  return json{
      {"participant",
       {{"biin", s.id}, {"name_ru", s.name}, {"supplier", supplier}, {"customer", customer}}},
      {"contracts", std::move(list)}};
}

// ---- R28 participants in foreign economic activity ----

Result<json> generate_r28_foreign_trade(std::string_view, const std::string& value) {
  const Subject s = subject_of(value);
  json list = json::array();
  if (s.owner && s.owner->kind != Kind::Foreigner &&
      !(s.company && s.owner->index >= kFirstStateBody)) {
    Rng rng = owner_stream("r28", *s.owner);
    // Trading companies mostly; a few other companies and individual entrepreneurs.
    const bool trader = s.company && company_for(s.owner->index).activity.code == "46900";
    bool adult = s.company;
    if (!s.company) {
      const Person p = person_for(s.id);
      adult = age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 25;
    }
    if (adult && rng.chance(trader ? 70 : s.company ? 12 : 3)) {
      const int imports = static_cast<int>(rng.between(0, 120));
      const int exports = static_cast<int>(rng.between(0, 40));
      list.push_back({{"registration_number", "VED-" + digits(rng.below(1000000), 6)},
                      {"registration_date", day_string(today_days() - rng.between(60, 3000))},
                      {"customs_post", dict("55201", "Т/П «ЦЕНТР ТАМОЖЕННОГО ОФОРМЛЕНИЯ»",
                                            "«КЕДЕНДІК РӘСІМДЕУ ОРТАЛЫҒЫ» К/Б")},
                      {"status", dict("1", "ДЕЙСТВУЮЩИЙ", "ӘРЕКЕТТЕГІ")},
                      {"authorized_economic_operator", rng.chance(10)},
                      {"declarations_count", imports + exports},
                      {"import_count", imports},
                      {"export_count", exports}});
    }
  }
  return json{{"participant_iin_bin", s.id},
              {"participant_name", s.name},
              {"registrations", std::move(list)}};
}

// ---- R32 / R33 subsoil-use contracts ----

namespace {

Result<json> subsoil(std::string_view key_name, const std::string& value, std::string_view prefix,
                     std::string_view oked, bool hydrocarbons) {
  Subject s;
  if (key_name == "register_number") {
    auto o = parse_register_number(value, prefix);
    if (!o) return bad_key("a subsoil contract number is " + std::string(prefix) + "-KNNN-NNNN");
    if (o->kind != Kind::Company) return not_found("no such contract");
    s = subject_of(synthetic_bin(o->index));
  } else {
    s = subject_of(value);
  }
  json list = json::array();
  Rng rng(prefix, owner_code(*s.owner));
  if (!company_for(s.owner->index).state_body &&
      rng.chance(company_for(s.owner->index).activity.code == oked ? 90 : 1)) {
    static const char* kFields[] = {"КАРАТОБЕ", "ЖАНАЖОЛ", "СЕВЕРНЫЙ БУЗАЧИ", "АКТАС", "ТАСКУДУК"};
    const int64_t from = today_days() - rng.between(365, 6000);
    list.push_back(
        {{"contract_number", register_number(prefix, *s.owner, rng.next())},
         {"registration_date", day_string(from)},
         {"operation_type",
          rng.chance(50) ? dict("1", "РАЗВЕДКА", "БАРЛАУ") : dict("2", "ДОБЫЧА", "ӨНДІРУ")},
         {"minerals", hydrocarbons ? "НЕФТЬ, ГАЗ" : (rng.chance(50) ? "МЕДЬ" : "ПОДЗЕМНЫЕ ВОДЫ")},
         {"field_name", rng.pick(kFields)},
         {"area_km2", std::to_string(rng.between(5, 900)) + "." + digits(rng.below(100), 2)},
         {"region", dict("47", "МАНГИСТАУСКАЯ ОБЛАСТЬ", "МАҢҒЫСТАУ ОБЛЫСЫ")},
         {"valid_from", day_string(from)},
         {"valid_to", day_string(from + 25 * 365)},
         {"status", dict("1", "ДЕЙСТВУЕТ", "ҚОЛДАНЫСТА")},
         {"competent_authority", hydrocarbons ? "МИНИСТЕРСТВО ЭНЕРГЕТИКИ РК"
                                              : "МИНИСТЕРСТВО ПРОМЫШЛЕННОСТИ И СТРОИТЕЛЬСТВА РК"}});
  }
  if (key_name == "register_number")
    if (Status st = keep_only(list, [&](const json& e) { return e["contract_number"] == value; });
        !st)
      return st.error();
  return json{
      {"subsoil_user_bin", s.id}, {"subsoil_user_name", s.name}, {"contracts", std::move(list)}};
}

}  // namespace

Result<json> generate_r32_subsoil_hydrocarbons(std::string_view key_name,
                                               const std::string& value) {
  return subsoil(key_name, value, "SUH", "06100", true);
}

Result<json> generate_r33_subsoil_solid(std::string_view key_name, const std::string& value) {
  return subsoil(key_name, value, "SUT", "07290", false);
}

// ---- R34 budget revenue (tax payments) ----

Result<json> generate_r34_budget_revenue(std::string_view, const std::string& value) {
  const Subject s = subject_of(value);
  const Address a = address_of(s);
  const json org = tax_org(a);
  Rng rng("r34", value);
  json list = json::array();
  auto pay = [&](const char* kbk, const char* ru, const char* kz, int64_t day, int64_t tiyn) {
    list.push_back({{"TaxOrgCode", org["code"]},
                    {"NameTaxRu", org["nameRu"]},
                    {"NameTaxKz", org["nameKz"]},
                    {"KBK", kbk},
                    {"KBKNameRu", ru},
                    {"KBKNameKz", kz},
                    {"PayNum", digits(rng.below(1000000), 6)},
                    {"PayType", 1},
                    {"EntryType", 1},
                    {"ReceiptDate", day_string(day)},
                    {"WriteOffDate", day_string(day)},
                    {"Summa", format_tiyn(tiyn)}});
  };
  if (s.company) {
    const Company c = company_for(s.owner->index);
    for (int m = 12; m >= 1; --m) {
      const int64_t day = today_days() - 30 * m + rng.between(-5, 5);
      const int64_t payroll = static_cast<int64_t>(c.staff) * rng.between(250'000, 450'000) * 100;
      pay("101201", "ИПН с доходов, облагаемых у источника выплаты",
          "Төлем көзінен салық салынатын табыстардан ЖТС", day, payroll / 10 + rng.between(1, 99));
      if (!c.state_body)
        pay("103101", "Социальный налог", "Әлеуметтік салық", day,
            payroll * 95 / 1000 + rng.between(1, 99));
    }
    if (!c.state_body)
      for (int q = 4; q >= 1; --q)
        pay("101110", "КПН с юридических лиц", "Заңды тұлғалардан КТС",
            today_days() - 91 * q + rng.between(-5, 5),
            rng.between(100'000, 40'000'000) * 100 + rng.between(1, 99));
  } else if (s.owner && s.owner->kind == Kind::Resident) {
    // Persons pay the yearly taxes on what they own (R03/R04/R05), by 1 October.
    for (int y = kReferenceYear - 2; y <= kReferenceYear; ++y) {
      for (const Vehicle& v : vehicles_of(*s.owner))
        if (*time::parse_date(v.reg_date) < days_of(y, 1, 1))
          pay("104402", "Налог на транспортные средства с физических лиц",
              "Жеке тұлғалардың көлік құралдарына салынатын салық",
              days_of(y, 9, static_cast<int>(rng.between(1, 30))),
              static_cast<int64_t>(v.engine_cc) * rng.between(1500, 4000) + rng.between(1, 99));
      for (const Estate& e : estates_of(*s.owner))
        if (*time::parse_date(e.reg_date) < days_of(y, 1, 1))
          pay("104302", "Налог на имущество физических лиц",
              "Жеке тұлғалардың мүлкіне салынатын салық",
              days_of(y, 9, static_cast<int>(rng.between(1, 30))),
              rng.between(300'000, 3'000'000) + rng.between(1, 99));
    }
  }
  return json{
      {"IIN_BIN", s.id}, {"NameRu", s.name}, {"NameKz", s.name}, {"payments", std::move(list)}};
}

// ---- R39 unreliable procurement participants (РНУ) ----

Result<json> generate_r39_unreliable_suppliers(std::string_view, const std::string& value) {
  const Subject s = subject_of(value);
  json list = json::array();
  // Companies (not state bodies) and, rarely, individual entrepreneurs (adult residents).
  bool eligible = s.owner && s.owner->kind != Kind::Foreigner &&
                  !(s.company && s.owner->index >= kFirstStateBody);
  if (eligible && !s.company) {
    const Person p = person_for(s.id);
    eligible = age_at_today(p.birth_year, p.birth_month, p.birth_day) >= 25;
  }
  if (eligible) {
    Rng rng = owner_stream("r39", *s.owner);
    if (rng.chance(s.company ? 4 : 2)) {
      const int64_t start = today_days() - rng.between(30, 700);
      const Address a = address_of(s);
      const std::string kz = s.company ? company_for(s.owner->index).name_kz : "ЖК " + s.name;
      list.push_back({{"pid", static_cast<int>(rng.between(100000, 999999))},
                      {"supplier_biin", s.id},
                      {"supplier_innunp", ""},
                      {"supplier_name_ru", s.company ? s.name : "ИП " + s.name},
                      {"supplier_name_kz", kz},
                      {"kato_list", json::array({city_facts(a).kato})},
                      {"index_date", day_string(start)},
                      {"startDate", day_string(start)},
                      {"endDate", day_string(start + 2 * 365)},
                      {"reason", "УКЛОНЕНИЕ ОТ ЗАКЛЮЧЕНИЯ ДОГОВОРА"}});
    }
  }
  const bool found = !list.empty();
  return json{{"found", found}, {"records", std::move(list)}};
}

}  // namespace aaj::sim::internal
