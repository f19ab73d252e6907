// Telecom, post, contacts and link graphs: R36 Kazakhtelecom fixed lines, R40 addresses and
// telephones, R42 postal items, R50/R51 level-1 and level-2 link graphs, R52 citizens' mobile
// numbers. Telephone numbers embed the owner code: mobile 7OO KNNN RRR, fixed <area> KNNN R…
#include <algorithm>
#include <set>

#include "core/ids.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

struct Operator {
  std::string_view prefix;
  DictItem name;
};
const Operator kOperators[] = {
    {"701", {"1", "KCELL", "KCELL"}},     {"702", {"1", "KCELL", "KCELL"}},
    {"705", {"2", "BEELINE", "BEELINE"}}, {"777", {"2", "BEELINE", "BEELINE"}},
    {"707", {"3", "TELE2", "TELE2"}},     {"747", {"3", "TELE2", "TELE2"}},
    {"700", {"4", "ALTEL", "ALTEL"}},     {"708", {"4", "ALTEL", "ALTEL"}},
};

const DictItem& operator_of(std::string_view d) {
  for (const auto& o : kOperators)
    if (d.substr(0, 3) == o.prefix) return o.name;
  return kOperators[0].name;
}

int age_of(const Person& p) {
  return age_at_today(p.birth_year, p.birth_month, p.birth_day);
}

Address address_of(Owner o) {
  if (o.kind == Kind::Company) return company_for(o.index).address;
  return person_for(id_of(o)).reg_address;
}

}  // namespace

std::vector<std::string> mobile_phones_of(uint32_t resident) {
  std::vector<std::string> out;
  const Person p = person_for(synthetic_iin(resident));
  if (age_of(p) < 14) return out;
  Rng rng("mobile", p.iin);
  const int count = rng.chance(25) ? 2 : 1;
  for (int i = 0; i < count; ++i)
    out.push_back(std::string(rng.pick(kOperators).prefix) +
                  owner_code({Kind::Resident, resident}) + digits(rng.below(1000), 3));
  return out;
}

std::optional<std::string> landline_of(Owner o) {
  if (o.kind == Kind::Foreigner) return std::nullopt;
  Rng rng("landline", owner_code(o));
  if (o.kind == Kind::Resident) {
    const Person p = person_for(id_of(o));
    if (age_of(p) < 25 || !rng.chance(25)) return std::nullopt;
  } else if (!rng.chance(70)) {
    return std::nullopt;
  }
  const std::string area(city_facts(address_of(o)).phone_area);
  const int rest = 10 - 4 - static_cast<int>(area.size());  // 3 (area 727) or 2 (area 7172)
  return area + owner_code(o) + digits(rng.below(rest == 3 ? 1000 : 100), rest);
}

std::optional<Owner> phone_owner(std::string_view d, bool mobile, bool fixed) {
  if (d.size() != 10) return std::nullopt;
  for (size_t pos : {size_t{3}, size_t{4}}) {
    auto o = parse_owner_code(d.substr(pos, 4));
    if (!o) continue;
    if (mobile && o->kind == Kind::Resident)
      for (const auto& m : mobile_phones_of(o->index))
        if (m == d) return o;
    if (fixed)
      if (auto l = landline_of(*o); l && *l == d) return o;
  }
  return std::nullopt;
}

bool valid_s10(std::string_view v) {
  if (v.size() != 13) return false;
  for (size_t i : {size_t{0}, size_t{1}, size_t{11}, size_t{12}})
    if (v[i] < 'A' || v[i] > 'Z') return false;
  if (!all_digits(v.substr(2, 9))) return false;
  static const int kWeights[] = {8, 6, 4, 2, 3, 5, 9, 7};
  int sum = 0;
  for (int i = 0; i < 8; ++i) sum += (v[2 + i] - '0') * kWeights[i];
  int check = 11 - sum % 11;
  if (check == 10) check = 0;
  if (check == 11) check = 5;
  return v[10] - '0' == check;
}

// ---- R36 Kazakhtelecom (fixed lines) ----

Result<json> generate_r36_kazakhtelecom(std::string_view key_name, const std::string& value) {
  Subject s;
  if (key_name == "phone") {
    auto o = phone_owner(value, false, true);
    if (!o) return not_found("no subscriber with this number");
    s = subject_of(id_of(*o));
  } else {
    s = subject_of(value);
  }
  json lines = json::array();
  if (s.owner)
    if (auto l = landline_of(*s.owner)) {
      Rng rng("r36", owner_code(*s.owner));
      const Address a = address_of(*s.owner);
      const int64_t since = today_days() - rng.between(100, 6000);
      json services = json::array({dict("1", "ТЕЛЕФОНИЯ", "ТЕЛЕФОНИЯ")});
      if (rng.chance(60)) services.push_back(dict("2", "ИНТЕРНЕТ", "ИНТЕРНЕТ"));
      if (rng.chance(30)) services.push_back(dict("3", "IPTV", "IPTV"));
      lines.push_back({{"phone", phone_text(*l)},
                       {"contract_number", digits(rng.below(100000000), 8)},
                       {"contract_date", day_string(since - rng.between(1, 10))},
                       {"installation_address", {{"rca", a.ar_code}, {"text", address_text(a)}}},
                       {"services", std::move(services)},
                       {"status", dict("1", "ПОДКЛЮЧЁН", "ҚОСЫЛҒАН")},
                       {"connected_date", day_string(since)},
                       {"disconnected_date", ""}});
    }
  return json{{"subscriber", {{"iin_bin", s.id}, {"name", s.name}}}, {"lines", std::move(lines)}};
}

// ---- R52 citizens' mobile database (egov SMS numbers) ----

Result<json> generate_r52_mobile(std::string_view key_name, const std::string& value) {
  std::string iin = value;
  if (key_name == "phone") {
    auto o = phone_owner(value, true, false);
    if (!o) return not_found("no citizen registered this number");
    iin = id_of(*o);
  }
  const Person p = person_for(iin);
  json phones = json::array();
  if (auto n = resident_index(iin)) {
    Rng rng("r52", p.iin);
    static const char* kChannels[] = {"CON", "EGOV", "BANK"};
    for (const auto& d : mobile_phones_of(*n))
      phones.push_back({{"phone", phone_text(d)},
                        {"operator", dict_json(operator_of(d))},
                        {"registration_date", day_string(today_days() - rng.between(30, 3000))},
                        {"status", dict("1", "АКТИВЕН", "БЕЛСЕНДІ")},
                        {"channel", rng.pick(kChannels)}});
  }
  return json{{"iin", p.iin}, {"fullName", full_name(p)}, {"phones", std::move(phones)}};
}

// ---- R40 search for addresses and contact telephones ----

Result<json> generate_r40_addresses_phones(std::string_view key_name, const std::string& value) {
  std::string id = value;
  std::optional<std::string> rca;
  if (key_name == "phone") {
    auto o = phone_owner(value, true, true);
    if (!o) return not_found("no subscriber with this number");
    id = id_of(*o);
  } else if (key_name == "rca") {
    auto o = parse_owner_code(std::string_view(value).substr(12));
    if (!o) return not_found("no address with this code");
    id = id_of(*o);
    rca = value;
  }
  const Subject s = subject_of(id);
  json subjects =
      json::array({{{"iin_bin", s.id},
                    {"name", s.name},
                    {"type", s.company ? dict("2", "ЮЛ", "ЗТ") : dict("1", "ФЛ", "ЖТ")}}});
  json addresses = json::array(), contacts = json::array();
  Rng rng("r40", s.id);
  const Address home =
      s.company ? company_for(s.owner->index).address : person_for(s.id).reg_address;
  addresses.push_back({{"rca", home.ar_code},
                       {"type", s.company ? dict("3", "ЮРИДИЧЕСКИЙ АДРЕС", "ЗАҢДЫ МЕКЕНЖАЙ")
                                          : dict("1", "ПОСТОЯННАЯ РЕГИСТРАЦИЯ", "ТҰРАҚТЫ ТІРКЕУ")},
                       {"address_ru", address_text(home)},
                       {"kato", city_facts(home).kato},
                       {"begin_date", home.begin_date}});
  if (s.owner) {
    for (const Estate& e : estates_of(*s.owner))
      if (e.rca != home.ar_code)
        addresses.push_back(
            {{"rca", e.rca},
             {"type", dict("2", "АДРЕС НЕДВИЖИМОСТИ", "ЖЫЛЖЫМАЙТЫН МҮЛІК МЕКЕНЖАЙЫ")},
             {"address_ru", e.address},
             {"kato", city_facts(home).kato},
             {"begin_date", e.reg_date}});
    if (s.owner->kind == Kind::Resident)
      for (const auto& d : mobile_phones_of(s.owner->index))
        contacts.push_back({{"phone", phone_text(d)}, {"email", ""}, {"source", "БМГ"}});
    if (auto l = landline_of(*s.owner))
      contacts.push_back({{"phone", phone_text(*l)}, {"email", ""}, {"source", "КАЗАХТЕЛЕКОМ"}});
    if (s.company)
      contacts.push_back({{"phone", ""},
                          {"email", "info@sintetika-" + std::to_string(s.owner->index) + ".kz"},
                          {"source", "ГБД ЮЛ"}});
  }
  if (rca) {
    if (Status st = keep_only(addresses, [&](const json& e) { return e["rca"] == *rca; }); !st)
      return st.error();
  }
  return json{{"subjects", std::move(subjects)},
              {"addresses", std::move(addresses)},
              {"contacts", std::move(contacts)}};
}

// ---- R42 postal items (Kazpost) ----

namespace {

std::string s10(std::string_view prefix, Owner o, Rng& rng) {
  std::string id = std::string(prefix) + owner_code(o) + digits(rng.below(10000), 4);
  static const int kWeights[] = {8, 6, 4, 2, 3, 5, 9, 7};
  int sum = 0;
  for (int i = 0; i < 8; ++i) sum += (id[2 + i] - '0') * kWeights[i];
  int check = 11 - sum % 11;
  if (check == 10) check = 0;
  if (check == 11) check = 5;
  return id + static_cast<char>('0' + check) + "KZ";
}

json postal_items(uint32_t n) {
  json list = json::array();
  const Person p = person_for(synthetic_iin(n));
  Rng rng("r42", p.iin);
  if (age_of(p) < 16 || !rng.chance(50)) return list;
  const auto phones = mobile_phones_of(n);
  const CityFacts& f = city_facts(p.reg_address);
  struct Type {
    const char *prefix, *code, *ru, *kz;
  };
  static const Type kTypes[] = {{"RR", "1", "ЗАКАЗНОЕ ПИСЬМО", "ТАПСЫРЫС ХАТ"},
                                {"CP", "2", "ПОСЫЛКА", "СӘЛЕМДЕМЕ"},
                                {"EE", "3", "EMS", "EMS"}};
  const int count = static_cast<int>(rng.between(1, 4));
  for (int i = 0; i < count; ++i) {
    const Type& t = rng.pick(kTypes);
    const uint32_t sender = static_cast<uint32_t>(rng.below(kFirstStateBody));  // a company sends
    const Company c = company_for(sender);
    const int64_t accepted = today_days() - rng.between(3, 500);
    const int64_t delivered = accepted + rng.between(2, 12);
    const bool done = delivered < today_days();
    json events = json::array(
        {{{"date_time", day_string(accepted) + "T10:00:00+05:00"},
          {"office", std::string(city_facts(c.address).postcode) + " " + c.address.city},
          {"operation", dict("1", "ПРИЁМ", "ҚАБЫЛДАУ")}}});
    if (done)
      events.push_back({{"date_time", day_string(delivered) + "T15:30:00+05:00"},
                        {"office", std::string(f.postcode) + " " + p.reg_address.city},
                        {"operation", dict("5", "ВРУЧЕНО", "ТАПСЫРЫЛДЫ")}});
    list.push_back(
        {{"item_id", s10(t.prefix, {Kind::Resident, n}, rng)},
         {"type", dict(t.code, t.ru, t.kz)},
         {"sender",
          {{"iin_bin", c.bin}, {"name", c.name_ru}, {"address", address_text(c.address)}}},
         {"recipient",
          {{"iin", p.iin},
           {"fullName", full_name(p)},
           {"address", address_text(p.reg_address)},
           {"phone", phones.empty() ? "" : phone_text(phones.front())}}},
         {"origin_office",
          {{"postcode", city_facts(c.address).postcode}, {"name", "ПОЧТАМТ " + c.address.city}}},
         {"destination_office",
          {{"postcode", f.postcode}, {"name", "ПОЧТАМТ " + p.reg_address.city}}},
         {"weight_g",
          static_cast<int>(t.code[0] == '1' ? rng.between(10, 200) : rng.between(300, 15000))},
         {"declared_value", format_tiyn(rng.between(0, 200000) * 100)},
         {"events", std::move(events)},
         {"delivery_date", done ? day_string(delivered) : ""},
         {"status", done ? dict("5", "ВРУЧЕНО", "ТАПСЫРЫЛДЫ") : dict("2", "В ПУТИ", "ЖОЛДА")}});
  }
  return list;
}

}  // namespace

Result<json> generate_r42_postal_items(std::string_view key_name, const std::string& value) {
  json list = json::array();
  if (key_name == "postal_item_id") {
    auto o = parse_owner_code(std::string_view(value).substr(2, 4));
    if (!o || o->kind != Kind::Resident) return not_found("no such postal item");
    list = postal_items(o->index);
    if (Status st = keep_only(list, [&](const json& e) { return e["item_id"] == value; }); !st)
      return st.error();
  } else if (key_name == "phone") {
    auto o = phone_owner(value, true, false);
    if (!o) return not_found("no recipient with this number");
    list = postal_items(o->index);
    const std::string text = phone_text(value);
    (void)keep_only(list, [&](const json& e) { return e["recipient"]["phone"] == text; });
  } else if (auto n = resident_index(value)) {
    list = postal_items(*n);
  }
  return json{{"items", std::move(list)}};
}

// ---- R50 / R51 link graphs ----

namespace {

struct Graph {
  json nodes = json::array(), edges = json::array();
  std::set<std::string> seen;
  std::set<std::pair<std::string, std::string>> linked;  // unordered pairs already joined
  size_t limit = 30;
};

void add_node(Graph& g, const std::string& id) {
  if (!g.seen.insert(id).second) return;
  const Subject s = subject_of(id);
  g.nodes.push_back(
      {{"id", id},
       {"label", s.name},
       {"group", s.company ? "company" : "person"},
       {"properties",
        {{"IINBIN", id}, {"Name", s.name}, {"Source", s.company ? "ГБД ЮЛ" : "ГБД ФЛ"}}}});
}

struct Link {
  std::string to, type, label, date;
};

std::vector<Link> links_of(const std::string& id) {
  std::vector<Link> out;
  const Subject s = subject_of(id);
  if (s.company) {
    const Company c = company_for(s.owner->index);
    out.push_back({synthetic_iin(c.director), "DIRECTOR", "Руководитель", c.registration_date});
    for (uint32_t f : c.founders)
      out.push_back({synthetic_iin(f), "FOUNDER", "Учредитель", c.registration_date});
    size_t k = 0;
    for (uint32_t e : employees_of(c.index)) {
      if (++k > 10) break;
      out.push_back({synthetic_iin(e), "WORKER", "Работник", std::to_string(kReferenceYear)});
    }
    return out;
  }
  // Birth dates come from the IINs themselves (cheaper than whole persons in a 30-node graph).
  auto born = [](const std::string& iin) {
    auto i = ids::parse_iin(iin);
    return date_string(i->birth_year, i->birth_month, i->birth_day);
  };
  if (auto n = resident_index(id)) {
    const Family& f = family_of(*n);
    if (f.spouse >= 0) out.push_back({synthetic_iin(f.spouse), "ZAGS", "Брак", f.marriage_date});
    if (f.mother >= 0) out.push_back({synthetic_iin(f.mother), "BLIZKIE_RODS", "Мать", born(id)});
    if (f.father >= 0) out.push_back({synthetic_iin(f.father), "BLIZKIE_RODS", "Отец", born(id)});
    for (uint32_t c : f.children) {
      const std::string child = synthetic_iin(c);
      out.push_back({child, "BLIZKIE_RODS", "Ребёнок", born(child)});
    }
    for (uint32_t m : companies_directed_by(*n))
      out.push_back(
          {synthetic_bin(m), "DIRECTOR", "Руководитель", company_for(m).registration_date});
    for (uint32_t m : companies_founded_by(*n))
      out.push_back({synthetic_bin(m), "FOUNDER", "Учредитель", company_for(m).registration_date});
  }
  // The employer is the most recent R11 agent, for every person (the census knows residents').
  std::optional<uint32_t> employer;
  if (auto n = resident_index(id)) {
    employer = employer_of(*n);
  } else if (auto agents = pension_agents(person_for(id)); !agents.empty()) {
    employer = agents.front().company;
  }
  if (employer)
    out.push_back({synthetic_bin(*employer), "WORKER", "Работник", std::to_string(kReferenceYear)});
  return out;
}

json graph(const std::string& root, int depth) {
  Graph g;
  add_node(g, root);
  std::vector<std::string> frontier{root};
  for (int level = 0; level < depth; ++level) {
    std::vector<std::string> next;
    for (const auto& id : frontier) {
      for (const Link& l : links_of(id)) {
        const bool is_new = !g.seen.count(l.to);
        if (is_new && g.seen.size() >= g.limit) continue;
        if (!g.linked.insert(std::minmax(id, l.to)).second) continue;  // seen from the other end
        add_node(g, l.to);
        g.edges.push_back({{"from", id},
                           {"to", l.to},
                           {"type", l.type},
                           {"label", l.label},
                           {"properties", {{"Vid_svyaziey", l.label}, {"Date", l.date}}}});
        if (is_new) next.push_back(l.to);
      }
    }
    frontier = std::move(next);
  }
  return json{{"nodes", std::move(g.nodes)}, {"edges", std::move(g.edges)}};
}

}  // namespace

Result<json> generate_r50_links_level1(std::string_view, const std::string& value) {
  return graph(value, 1);
}

Result<json> generate_r51_links_level2(std::string_view, const std::string& value) {
  return graph(value, 2);
}

}  // namespace aaj::sim::internal
