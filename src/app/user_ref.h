// A user as an event-log record names them. Shared by the gateway (src/app) and the operator's
// command-line actions (operator.cpp), so every record carries the same shape.
#pragma once
#include <nlohmann/json.hpp>

#include "store/store.h"

namespace aaj::app {

// {"iin", "user_type", "body_bin"} (the log-access policy finds a record's body at
// body.user.body_bin).
inline nlohmann::json user_ref(const store::User& u) {
  return {{"iin", u.iin}, {"user_type", u.user_type}, {"body_bin", u.body_bin}};
}

}  // namespace aaj::app
