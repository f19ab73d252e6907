// "HOST:PORT" as written in configuration files and URLs. Pure functions, thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "core/result.h"

namespace aaj::net {

// Splits "HOST:PORT" ("[::1]:8443" for IPv6; the brackets are removed from the host). PORT is a
// whole number 0..65535 (0 = any free port, for a listener). Error "config" when malformed: no
// colon, an empty host or port, or a port that is not a number in range.
Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& s);

}  // namespace aaj::net
