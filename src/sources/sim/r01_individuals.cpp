// R01 "Individuals" state database (ГБД ФЛ), GBDFL-like person record, by IIN, by name and
// birth date, or by the number of the ID card (residence permit) or passport.
#include "sources/sim/internal.h"

namespace aaj::sim::internal {
namespace {

const DictItem kMale{"1", "Мужской", "Ер"};
const DictItem kFemale{"2", "Женский", "Әйел"};
const DictItem kLifeNormal{"0", "Нормальный", "Қалыпты"};
const DictItem kAddressRegistered{"0", "Зарегистрирован", "Тіркелген"};
const DictItem kIssuerMvd{"002", "МВД РК", "ҚР ІІМ"};
const DictItem kDocumentValid{"00", "ДОКУМЕНТ ДЕЙСТВИТЕЛЕН", "ҚҰЖАТ ЖАРАМДЫ"};

}  // namespace

Result<json> generate_r01_individuals(std::string_view key_name, const std::string& value) {
  auto iin = person_iin(key_name, value);
  if (!iin) return iin.error();
  const Person p = person_for(*iin);
  const Address& b = p.birth_place;
  const Address& a = p.reg_address;
  nlohmann::json documents = nlohmann::json::array();
  if (p.id_card) {
    documents.push_back({{"type", dict_json(p.id_card->type)},
                         {"number", p.id_card->number},
                         {"beginDate", p.id_card->begin_date},
                         {"endDate", p.id_card->end_date},
                         {"issueOrganization", dict_json(kIssuerMvd)},
                         {"status", dict_json(kDocumentValid)}});
  }
  return nlohmann::json{
      {"iin", p.iin},
      {"surname", p.surname},
      {"name", p.name},
      {"patronymic", p.patronymic},
      {"engSurname", p.eng_surname},
      {"engFirstName", p.eng_first_name},
      {"birthDate", p.birth_date},
      {"gender", dict_json(p.male ? kMale : kFemale)},
      {"nationality", dict_json(p.nationality)},
      {"citizenship", dict_json(p.citizenship)},
      {"lifeStatus", dict_json(kLifeNormal)},
      {"birthPlace",
       {{"country", dict_json(b.country)},
        {"region", dict_json(b.region)},
        {"district", dict_json(b.district)},
        {"city", b.city}}},
      {"regAddress",
       {{"country", dict_json(a.country)},
        {"region", dict_json(a.region)},
        {"district", dict_json(a.district)},
        {"city", a.city},
        {"street", a.street},
        {"building", a.building},
        {"flat", a.flat},
        {"arCode", a.ar_code},
        {"beginDate", a.begin_date},
        {"status", dict_json(kAddressRegistered)}}},
      {"documents", std::move(documents)},
      {"removed", false},
  };
}

}  // namespace aaj::sim::internal
