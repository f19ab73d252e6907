#include "core/host_port.h"

namespace aaj::net {

Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size())
    return Error{"config", "expected HOST:PORT, got '" + s + "'"};
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return Error{"config", "no host in '" + s + "'"};
  int port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return Error{"config", "bad port in '" + s + "'"};
    port = port * 10 + (c - '0');
    if (port > 65535) return Error{"config", "bad port in '" + s + "'"};
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace aaj::net
