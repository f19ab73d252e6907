// Internal to src/sources: how the blocking forms (fetch_blocking, SourceRouter's fetch and
// fetch_many) wait for an asynchronous outcome.
#pragma once
#include <future>
#include <memory>
#include <optional>
#include <utility>

#include "core/result.h"
#include "http/runtime.h"

namespace aaj::sources::detail {

// The error of a blocking call made on one of the runtime's I/O threads.
inline Error blocking_on_io_thread() {
  return Error{"internal_error", "blocking fetch on an I/O thread would deadlock"};
}

// Calls start(done) and waits on the calling thread until done(T) has run (exactly once).
// nullopt, without calling start, on one of rt's I/O threads: the outcome could need that very
// thread, so waiting there could deadlock the runtime.
template <class T, class Start>
std::optional<T> wait_for(const http::Runtime& rt, Start&& start) {
  if (rt.on_io_thread()) return std::nullopt;
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  std::forward<Start>(start)([p](T v) { p->set_value(std::move(v)); });
  return f.get();
}

}  // namespace aaj::sources::detail
