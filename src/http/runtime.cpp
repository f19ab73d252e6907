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

#include "http/asio_runtime.h"

namespace aaj::http {
namespace {

namespace asio = boost::asio;

thread_local const Runtime* current_io_runtime = nullptr;

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
      : guard_(asio::make_work_guard(io_)),
        workers_(static_cast<size_t>(std::max(1, o.worker_threads))) {
    for (int i = 0; i < std::max(1, o.io_threads); ++i)
      threads_.emplace_back([this] {
        current_io_runtime = this;
        io_.run();
      });
  }
  ~RuntimeImpl() override { stop(); }

  void post(std::function<void()> fn) override {
    asio::post(io_, [fn = std::move(fn)] { run_guarded(fn, "io"); });
  }
  void post_blocking(std::function<void()> fn) override {
    asio::post(workers_, [fn = std::move(fn)] { run_guarded(fn, "worker"); });
  }
  TimerHandle after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([timer, cancelled, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec && !cancelled->load(std::memory_order_acquire)) run_guarded(fn, "timer");
    });
    return TimerHandle(cancelled);
  }
  bool on_io_thread() const override { return current_io_runtime == this; }
  void stop() override {
    std::call_once(stopped_, [this] {
      guard_.reset();
      io_.stop();
      for (auto& t : threads_)
        if (t.joinable()) t.join();
      workers_.stop();
      workers_.join();
    });
  }

  asio::io_context& io() override { return io_; }
  asio::thread_pool& workers() override { return workers_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  asio::thread_pool workers_;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
};

}  // namespace

std::shared_ptr<Runtime> Runtime::start(RuntimeOptions opts) {
  return std::make_shared<RuntimeImpl>(opts);
}

}  // namespace aaj::http
