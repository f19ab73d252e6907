// R11 pension contributions (ГЦВП), full-service view grouped by paying agent. The policy's
// truncated grant strips every amount from this shape, so the key names here are a contract.
#include <set>

#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

constexpr int kMinWorkingAge = 16;  // in kReferenceYear
constexpr int kMaxWorkingAge = 63;
constexpr int kMaxAgents = 3;

struct Payment {
  int year = 0, month = 0;
  std::string pay_date;
  int64_t tiyn = 0;
};

struct Agent {
  uint32_t company = 0;  // synthetic company number
  std::vector<Payment> payments;
  int64_t sum() const {
    int64_t s = 0;
    for (const auto& p : payments) s += p.tiyn;
    return s;
  }
};

bool round_tiyn(int64_t tiyn) {
  return tiyn % 100 == 0;
}

}  // namespace

Result<nlohmann::json> generate_r11_pension(std::string_view key_name, std::string_view value) {
  const Person p = person_for(value);
  Rng rng("r11", value);

  std::vector<Agent> agents;
  const int age_in_year = kReferenceYear - p.birth_year;
  if (age_in_year >= kMinWorkingAge && age_in_year <= kMaxWorkingAge) {
    int count = static_cast<int>(rng.between(1, kMaxAgents));
    if (count > age_in_year - kMinWorkingAge + 1) count = age_in_year - kMinWorkingAge + 1;
    std::set<uint32_t> used;
    for (int i = 0; i < count; ++i) {
      Agent agent;
      do {
        agent.company = static_cast<uint32_t>(rng.below(1000));
      } while (!used.insert(agent.company).second);
      const int year = kReferenceYear - i;
      // ОПВ is 10% of the monthly salary (85 000 .. 1 200 000 KZT), varying a little by month.
      const int64_t base = rng.between(85000'00, 1200000'00) / 10;
      for (int month = 1; month <= 12; ++month) {
        Payment pay;
        pay.year = year;
        pay.month = month;
        pay.tiyn = base + rng.between(-base / 30, base / 30);
        if (round_tiyn(pay.tiyn)) pay.tiyn += rng.between(1, 99);
        const int pay_year = month == 12 ? year + 1 : year;
        const int pay_month = month == 12 ? 1 : month + 1;
        pay.pay_date = date_string(pay_year, pay_month, static_cast<int>(rng.between(5, 25)));
        agent.payments.push_back(std::move(pay));
      }
      agents.push_back(std::move(agent));
    }
    // No sum may be a round amount either: nudge each agent's December payment up by one tiyn
    // until it and the agent's sum have a non-zero tiyn part, then the last agent's until the
    // grand total has one too (each step shifts all three by one tiyn, so this ends quickly).
    auto bad = [](const Agent& ag) {
      return round_tiyn(ag.payments.back().tiyn) || round_tiyn(ag.sum());
    };
    int64_t total = 0;
    for (auto& ag : agents) {
      while (bad(ag)) ag.payments.back().tiyn += 1;
      total += ag.sum();
    }
    while (bad(agents.back()) || round_tiyn(total)) {
      agents.back().payments.back().tiyn += 1;
      total += 1;
    }
  }

  nlohmann::json agents_json = nlohmann::json::array();
  int64_t total = 0;
  for (const auto& ag : agents) {
    nlohmann::json payments = nlohmann::json::array();
    for (const auto& pay : ag.payments) {
      payments.push_back({{"period", date_string(pay.year, pay.month, 1).substr(0, 7)},
                          {"pay_date", pay.pay_date},
                          {"knp", "010"},
                          {"amount", format_tiyn(pay.tiyn)}});
    }
    const int64_t sum = ag.sum();
    total += sum;
    agents_json.push_back({{"bin", synthetic_bin(ag.company)},
                           {"name", synthetic_company_name(ag.company)},
                           {"payments", std::move(payments)},
                           {"payment_count", static_cast<int>(ag.payments.size())},
                           {"sum010", format_tiyn(sum)},
                           {"total_amount", format_tiyn(sum)}});
  }
  return nlohmann::json{
      {"iin", p.iin},
      {"contributor", {{"surname", p.surname}, {"name", p.name}, {"patronymic", p.patronymic}}},
      {"agents", std::move(agents_json)},
      {"total_amount", format_tiyn(total)},
  };
}

}  // namespace aaj::sim::internal
