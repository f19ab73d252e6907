// The census: links between members of the synthetic population that no single person's stream
// can decide alone (who is married to whom, whose children, who works where, who is called what).
// Built once, on first use, from the deterministic per-person data; immutable afterwards, so it
// keeps generate() pure and thread-safe (a function-local static is initialised exactly once).
#include <algorithm>
#include <array>

#include "core/ids.h"
#include "sources/sim/internal.h"
#include "sources/sim/rng.h"

namespace aaj::sim::internal {
namespace {

struct NameRow {
  std::string birth_date, surname, name, patronymic;
  Owner owner;
};

struct Census {
  std::array<Family, kPopulation> family;
  std::array<int, kPopulation> employer{};
  std::array<std::vector<uint32_t>, kPopulation> employees;
  std::vector<NameRow> names;                                      // sorted by birth date
  std::array<std::vector<uint32_t>, kPopulation> directs, founds;  // companies per resident
  std::array<std::string, kPopulation> full_names;                 // residents'
};

struct Basic {
  int64_t birth = 0;  // days
  bool male = false;
  int age = 0;
};

Census build() {
  Census c;
  std::array<Basic, kPopulation> b;
  for (uint32_t n = 0; n < kPopulation; ++n) {
    const Person p = person_for(synthetic_iin(n));
    b[n] = {days_of(p.birth_year, p.birth_month, p.birth_day), p.male,
            age_at_today(p.birth_year, p.birth_month, p.birth_day)};
    c.names.push_back({p.birth_date, p.surname, p.name, p.patronymic, {Kind::Resident, n}});
    c.full_names[n] = full_name(p);
    auto agents = pension_agents(p);
    c.employer[n] = agents.empty() ? -1 : static_cast<int>(agents.front().company);
    if (!agents.empty()) c.employees[agents.front().company].push_back(n);
  }
  for (uint32_t k = 0; k < kPopulation; ++k) {
    const Person p = person_for(synthetic_foreign_iin(k));
    c.names.push_back({p.birth_date, p.surname, p.name, p.patronymic, {Kind::Foreigner, k}});
  }
  for (uint32_t m = 0; m < kPopulation; ++m) {
    const Company co = company_for(m);
    c.directs[co.director].push_back(m);
    for (uint32_t f : co.founders) c.founds[f].push_back(m);
  }
  std::stable_sort(c.names.begin(), c.names.end(),
                   [](const NameRow& x, const NameRow& y) { return x.birth_date < y.birth_date; });

  // Marriages: men of 22+ marry (70%) the first free woman of 20+ at most 3 years older and 10
  // years younger, searching from a point drawn for the man so couples spread over the index.
  for (uint32_t m = 0; m < kPopulation; ++m) {
    Rng rng("marriage", std::to_string(m));
    if (!b[m].male || b[m].age < 22 || !rng.chance(70)) continue;
    const uint32_t start = static_cast<uint32_t>(rng.below(kPopulation));
    for (uint32_t i = 0; i < kPopulation; ++i) {
      const uint32_t w = (start + i) % kPopulation;
      const int diff = b[m].age - b[w].age;
      if (b[w].male || b[w].age < 20 || c.family[w].spouse >= 0 || diff < -3 || diff > 10) continue;
      c.family[m].spouse = static_cast<int>(w);
      c.family[w].spouse = static_cast<int>(m);
      // Married after both were 20 (the man 22), at least a month before today.
      const int64_t from = std::max(b[m].birth + 22 * 365 + 6, b[w].birth + 20 * 365 + 5);
      const std::string date = day_string(rng.between(from, std::max(from, today_days() - 30)));
      c.family[m].marriage_date = c.family[w].marriage_date = date;
      break;
    }
  }
  // Children: 60% of residents are the child of a couple whose mother is 20..40 years older (and
  // the father at least 20), at most 4 children per couple.
  for (uint32_t k = 0; k < kPopulation; ++k) {
    Rng rng("parents", std::to_string(k));
    if (!rng.chance(60)) continue;
    const uint32_t start = static_cast<uint32_t>(rng.below(kPopulation));
    for (uint32_t i = 0; i < kPopulation; ++i) {
      const uint32_t w = (start + i) % kPopulation;
      const int h = c.family[w].spouse;
      if (b[w].male || h < 0 || c.family[w].children.size() >= 4) continue;
      const int64_t gap = b[k].birth - b[w].birth, gap_father = b[k].birth - b[h].birth;
      if (gap < 20 * 365 || gap > 40 * 365 || gap_father < 20 * 365) continue;
      c.family[k].mother = static_cast<int>(w);
      c.family[k].father = h;
      c.family[w].children.push_back(k);
      c.family[h].children.push_back(k);
      break;
    }
  }
  return c;
}

const Census& census() {
  static const Census c = build();
  return c;
}

}  // namespace

const Family& family_of(uint32_t resident) {
  return census().family[resident % kPopulation];
}

std::optional<uint32_t> employer_of(uint32_t resident) {
  int e = census().employer[resident % kPopulation];
  if (e < 0) return std::nullopt;
  return static_cast<uint32_t>(e);
}

const std::vector<uint32_t>& employees_of(uint32_t company) {
  return census().employees[company % kPopulation];
}

const std::string& resident_name(uint32_t resident) {
  return census().full_names[resident % kPopulation];
}

const std::vector<uint32_t>& companies_directed_by(uint32_t resident) {
  return census().directs[resident % kPopulation];
}

const std::vector<uint32_t>& companies_founded_by(uint32_t resident) {
  return census().founds[resident % kPopulation];
}

std::vector<Owner> find_by_name(std::string_view surname, std::string_view name,
                                std::string_view patronymic, std::string_view birth_date) {
  const auto& rows = census().names;
  auto it = std::lower_bound(rows.begin(), rows.end(), birth_date,
                             [](const NameRow& r, std::string_view d) { return r.birth_date < d; });
  std::vector<Owner> out;
  for (; it != rows.end() && it->birth_date == birth_date; ++it)
    if (it->surname == surname && it->name == name &&
        (patronymic.empty() || it->patronymic == patronymic))
      out.push_back(it->owner);
  return out;
}

}  // namespace aaj::sim::internal
