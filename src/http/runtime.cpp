#include "http/runtime.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/thread_name.h"
#include "http/asio_runtime.h"

namespace aaj::http {
namespace {

namespace asio = boost::asio;

// The runtime and io_context index of the calling I/O thread.
thread_local const Runtime* current_io_runtime = nullptr;
thread_local size_t current_io_index = 0;

void run_guarded(const std::function<void()>& fn, const char* where) {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error(
        "{}",
        nlohmann::json{{"event", "runtime_task_exception"}, {"where", where}, {"what", e.what()}}
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (...) {
    spdlog::error("{}",
                  nlohmann::json{{"event", "runtime_task_exception"}, {"where", where}}.dump());
  }
}

class RuntimeImpl final : public detail::AsioRuntime {
 public:
  explicit RuntimeImpl(RuntimeOptions o)
      : workers_(static_cast<size_t>(std::max(1, o.worker_threads))) {
    const int n = std::max(1, o.io_threads);
    for (int i = 0; i < n; ++i) {
      // Concurrency hint 1: each io_context is run by exactly one thread.
      auto& c = contexts_.emplace_back(std::make_unique<Context>(1));
      c->guard.emplace(asio::make_work_guard(c->io));
    }
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this, i] {
        name_this_thread("aaj-io-" + std::to_string(i));
        current_io_runtime = this;
        current_io_index = static_cast<size_t>(i);
        contexts_[static_cast<size_t>(i)]->io.run();
      });
  }
  ~RuntimeImpl() override { stop(); }

  void post(std::function<void()> fn) override {
    asio::post(io(pick()), [fn = std::move(fn)] { run_guarded(fn, "io"); });
  }
  void post_blocking(std::function<void()> fn) override {
    asio::post(workers_, [fn = std::move(fn)] { run_guarded(fn, "worker"); });
  }
  TimerHandle after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<asio::steady_timer>(io(pick()), delay);
    timer->async_wait([timer, cancelled, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec && !cancelled->load(std::memory_order_acquire)) run_guarded(fn, "timer");
    });
    return TimerHandle(cancelled);
  }
  bool on_io_thread() const override { return current_io_runtime == this; }
  void stop() override {
    std::call_once(stopped_, [this] {
      for (auto& c : contexts_) {
        c->guard.reset();
        c->io.stop();
      }
      for (auto& t : threads_)
        if (t.joinable()) t.join();
      workers_.stop();
      workers_.join();
    });
  }

  size_t io_count() const override { return contexts_.size(); }
  asio::io_context& io(size_t i) override { return contexts_[i]->io; }
  size_t pick() override { return on_io_thread() ? current_io_index : next(); }
  size_t next() override {
    return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  }
  asio::thread_pool& workers() override { return workers_; }

 private:
  struct Context {
    explicit Context(int hint) : io(hint) {}
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  };
  std::vector<std::unique_ptr<Context>> contexts_;
  asio::thread_pool workers_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  std::once_flag stopped_;
};

}  // namespace

std::shared_ptr<Runtime> Runtime::start(RuntimeOptions opts) {
  return std::make_shared<RuntimeImpl>(opts);
}

}  // namespace aaj::http
