// Internal to src/http: the Asio objects behind a Runtime, for server.cpp and client.cpp.
#pragma once
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange (asio #944)

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/runtime.h"

namespace aaj::http::detail {

// One io_context per I/O thread: a connection, its coroutine and its timers live on one thread,
// so they need no strand (no lock, no cross-thread hand-off per operation).
class AsioRuntime : public Runtime {
 public:
  virtual size_t io_count() const = 0;
  virtual boost::asio::io_context& io(size_t i) = 0;
  // The index of the calling thread's io_context when it is one of this runtime's I/O threads,
  // else the next one in turn (spreads new connections and work from other threads).
  virtual size_t pick() = 0;
  // The next io_context in turn, whoever calls (spreads accepted connections).
  virtual size_t next() = 0;
  virtual boost::asio::thread_pool& workers() = 0;
};

// Room reserved in a connection's read buffer (server sessions, client connections): Beast reads
// max(512, free capacity) bytes at a time and a consumed flat_buffer never grows, so without it
// a message arrives 512 bytes per system call. One TLS record's worth.
inline constexpr size_t kReadBufferBytes = size_t{16} * 1024;

// The Asio side of a runtime built by Runtime::start.
inline AsioRuntime& asio_of(Runtime& rt) {
  return static_cast<AsioRuntime&>(rt);
}

}  // namespace aaj::http::detail
