// Legal grounds of a request and the identifying details each type needs (Rules No. 21 as amended
// by Order 34, paras 1 and 25; formats in research-legal.md section 7; assumptions recorded in
// docs/decisions.md). Pure validation, no I/O, thread-safe.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/result.h"

namespace aaj::grounds {

// The ground type ids of SPEC "Ids" (Appendix 1 columns, then the AFM ground).
bool is_known_type(std::string_view type);

// Validates the "ground" object of a request document:
//   criminal_case           {"type","number"}: the 15-digit ERDR number
//   admin_case_court,
//   civil_case_court        {"type","number","year","court"}: para 25 — the case number registered
//                           in the court system, the year of registration, and the court
//   admin_offence_case, enforcement_proceeding, search_case, financial_monitoring
//                           {"type","number"}: formats not published; 1-32 of [0-9A-Za-z/-.]
// Court case numbers carry the year of registration (CCCC-YY-00-K/N, or K-N/YYYY): it must agree
// with `year`. `current_year` bounds the registration year. Errors: "unknown_ground" (type
// missing/unknown), "invalid_ground" with a detail naming the field ("ground.year is required",
// …).
struct Options {
  // A court's request in a criminal case may name the court's criminal-case number instead of
  // the ERDR number (research-legal.md §4: "ERDR number, or the court criminal-case number for
  // judges"); it then needs year and court like the other court cases.
  bool court_numbers_for_criminal = false;
};
Status validate(const nlohmann::json& ground, int current_year, const Options& options = {});

}  // namespace aaj::grounds
