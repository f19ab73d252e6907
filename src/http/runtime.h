// The threads of one process's network work, shared by its HTTP servers and HTTP clients:
// `io_threads` run non-blocking I/O and short computations (C++20 coroutines and callbacks);
// `worker_threads` run work that may block (SQLite writes, SMS gateways, slow computations).
//
// Sharing one runtime between the server and the clients to the data sources means a data
// request never changes threads to wait for a source: the source's answer resumes the request on
// whichever I/O thread is free, and two I/O threads keep two cores busy without the context
// switches of a blocking worker per request.
//
// Lifetime: every Server and Client built on a runtime holds a shared_ptr to it. Destroy the
// runtime's last owner from a thread that is not one of its threads (it joins them). Work that is
// still queued when the runtime is destroyed is dropped (its captures are destroyed, never run).
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

namespace aaj::http {

struct RuntimeOptions {
  int io_threads = 2;  // >= 1 (0 or less is taken as 1)
  // Threads for post_blocking (and a server's blocking Handler). 0 is taken as 1: there is always
  // one worker, so work posted with post_blocking runs (never silently dropped) even on a
  // runtime meant for clients only.
  int worker_threads = 32;
};

// Cancels a timer started with Runtime::after. Copyable; cancel() is idempotent and thread-safe.
// A cancelled timer's function never runs (it may already be running when cancel() returns).
class TimerHandle {
 public:
  TimerHandle() = default;
  explicit TimerHandle(std::shared_ptr<std::atomic<bool>> cancelled)
      : cancelled_(std::move(cancelled)) {}
  void cancel() const {
    if (cancelled_) cancelled_->store(true, std::memory_order_release);
  }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

class Runtime {
 public:
  // Starts the threads. Never fails (thread creation failure throws std::system_error, as the
  // process cannot serve anything then).
  static std::shared_ptr<Runtime> start(RuntimeOptions opts = {});
  virtual ~Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs fn on an I/O thread, never inside post(). fn must not block: it would delay the I/O of
  // every connection. fn must not throw (an exception is logged and dropped). Thread-safe.
  virtual void post(std::function<void()> fn) = 0;
  // Runs fn on a worker thread, where it may block. Same rules for throwing. Thread-safe.
  virtual void post_blocking(std::function<void()> fn) = 0;
  // Runs fn on an I/O thread once `delay` has passed, unless cancelled first. Thread-safe.
  virtual TimerHandle after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Whether the calling thread is one of this runtime's I/O threads (blocking helpers refuse to
  // wait there: it could deadlock the runtime).
  virtual bool on_io_thread() const = 0;
  // Stops the threads and joins them; queued work is not run. Idempotent. Not from one of its
  // own threads.
  virtual void stop() = 0;

 protected:
  Runtime() = default;
};

}  // namespace aaj::http
