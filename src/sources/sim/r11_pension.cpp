// R11 pension contributions (ГЦВП), full-service view grouped by paying agent. The policy's
// truncated grant strips every amount from this shape, so the key names here are a contract.
// pension_agents() is also the census's source of employment (employer = the most recent agent).
#include <set>

#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

constexpr int kMinWorkingAge = 16;  // in kReferenceYear
constexpr int kMaxWorkingAge = 63;
constexpr int kMaxAgents = 3;

bool round_tiyn(int64_t tiyn) {
  return tiyn % 100 == 0;
}

}  // namespace

int64_t PensionAgent::sum() const {
  int64_t s = 0;
  for (int64_t t : tiyn) s += t;
  return s;
}

std::vector<PensionAgent> pension_agents(const Person& p) {
  Rng rng("r11", p.iin);
  std::vector<PensionAgent> agents;
  const int age_in_year = kReferenceYear - p.birth_year;
  if (age_in_year < kMinWorkingAge || age_in_year > kMaxWorkingAge) return agents;
  int count = static_cast<int>(rng.between(1, kMaxAgents));
  if (count > age_in_year - kMinWorkingAge + 1) count = age_in_year - kMinWorkingAge + 1;
  std::set<uint32_t> used;
  for (int i = 0; i < count; ++i) {
    PensionAgent agent;
    do {
      agent.company = static_cast<uint32_t>(rng.below(kPopulation));
    } while (!used.insert(agent.company).second);
    agent.year = kReferenceYear - i;
    // ОПВ is 10% of the monthly salary (85 000 .. 1 200 000 KZT), varying a little by month.
    const int64_t base = rng.between(85000'00, 1200000'00) / 10;
    for (int month = 1; month <= 12; ++month) {
      int64_t t = base + rng.between(-base / 30, base / 30);
      if (round_tiyn(t)) t += rng.between(1, 99);
      agent.tiyn.push_back(t);
      const int pay_year = month == 12 ? agent.year + 1 : agent.year;
      const int pay_month = month == 12 ? 1 : month + 1;
      agent.pay_dates.push_back(
          date_string(pay_year, pay_month, static_cast<int>(rng.between(5, 25))));
    }
    agents.push_back(std::move(agent));
  }
  // No sum may be a round amount either: nudge each agent's December payment up by one tiyn
  // until it and the agent's sum have a non-zero tiyn part, then the last agent's until the
  // grand total has one too (each step shifts all three by one tiyn, so this ends quickly).
  auto bad = [](const PensionAgent& ag) {
    return round_tiyn(ag.tiyn.back()) || round_tiyn(ag.sum());
  };
  int64_t total = 0;
  for (auto& ag : agents) {
    while (bad(ag)) ag.tiyn.back() += 1;
    total += ag.sum();
  }
  while (bad(agents.back()) || round_tiyn(total)) {
    agents.back().tiyn.back() += 1;
    total += 1;
  }
  return agents;
}

Result<json> generate_r11_pension(std::string_view, const std::string& value) {
  const Person p = person_for(value);
  json agents_json = json::array();
  int64_t total = 0;
  for (const auto& ag : pension_agents(p)) {
    json payments = json::array();
    for (int m = 0; m < 12; ++m) {
      payments.push_back({{"period", date_string(ag.year, m + 1, 1).substr(0, 7)},
                          {"pay_date", ag.pay_dates[m]},
                          {"knp", "010"},
                          {"amount", format_tiyn(ag.tiyn[m])}});
    }
    const int64_t sum = ag.sum();
    total += sum;
    agents_json.push_back({{"bin", synthetic_bin(ag.company)},
                           {"name", synthetic_company_name(ag.company)},
                           {"payments", std::move(payments)},
                           {"payment_count", static_cast<int>(ag.tiyn.size())},
                           {"sum010", format_tiyn(sum)},
                           {"total_amount", format_tiyn(sum)}});
  }
  return json{
      {"iin", p.iin},
      {"contributor", {{"surname", p.surname}, {"name", p.name}, {"patronymic", p.patronymic}}},
      {"agents", std::move(agents_json)},
      {"total_amount", format_tiyn(total)},
  };
}

}  // namespace aaj::sim::internal
