// Internal to src/http: the Asio objects behind a Runtime, for server.cpp and client.cpp.
#pragma once
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange (asio #944)

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/runtime.h"

namespace aaj::http::detail {

class AsioRuntime : public Runtime {
 public:
  virtual boost::asio::io_context& io() = 0;
  virtual boost::asio::thread_pool& workers() = 0;
};

// The Asio side of a runtime built by Runtime::start.
inline AsioRuntime& asio_of(Runtime& rt) {
  return static_cast<AsioRuntime&>(rt);
}

}  // namespace aaj::http::detail
