// Connectors to the data sources (the state databases). A connector is an extension chosen by
// configuration and registered by name ("http-json" now; the e-government gateway's SOAP/XML
// style can be added as another connector without touching the pipeline).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace aaj::sources {

struct Query {
  std::string resource;  // "R01"…"R52"
  nlohmann::json key;    // e.g. {"iin": "…"}
  std::string request_id;
};

struct Answer {
  bool found = false;
  nlohmann::json data;  // null when not found
};

struct ConnectorConfig {
  std::string type = "http-json";
  std::string url;  // base URL of the source (or of the simulator)
  int connect_timeout_ms = 1000;
  int timeout_ms = 5000;  // whole exchange
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Asks the source. Blocks for at most the configured timeout. Thread-safe.
  // Errors: "source_timeout", "source_unavailable" (cannot connect, or the source says it is
  // down), "source_error" (bad answer), "invalid_subject" (the source refused the key).
  virtual Result<Answer> fetch(const Query& q) = 0;
};

using ConnectorFactory = std::function<Result<std::shared_ptr<Connector>>(const ConnectorConfig&)>;

// Registers a connector type. Call at startup only.
void register_connector(const std::string& type, ConnectorFactory f);
// Builds a connector of cfg.type. Error "unknown_connector" or the factory's error.
Result<std::shared_ptr<Connector>> make_connector(const ConnectorConfig& cfg);

// Which connector serves which resource: a default plus per-resource overrides.
class SourceRouter {
 public:
  // Builds connectors for the default config and each override. Errors as make_connector.
  static Result<std::shared_ptr<SourceRouter>> create(
      const ConnectorConfig& fallback, const std::map<std::string, ConnectorConfig>& overrides);
  // Thread-safe.
  Result<Answer> fetch(const Query& q) const;

 private:
  std::shared_ptr<Connector> fallback_;
  std::map<std::string, std::shared_ptr<Connector>, std::less<>> by_resource_;
};

}  // namespace aaj::sources
