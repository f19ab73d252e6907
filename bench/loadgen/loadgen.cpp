#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange (asio #944)

#include "loadgen.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

namespace aaj::loadgen {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// Log-linear histogram of nanoseconds: exact below 64, then 32 linear sub-buckets per power of
// two (relative bucket width ≤ 1/32), up to 2^40 ns (~18 min; larger values land in the top
// bucket). Fixed size, no allocation per sample.
class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kTopBit = 40;
  static constexpr size_t kBuckets = 64 + (kTopBit - 6) * 32;

  void add(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t max() const { return max_; }
  // The value at quantile q (0..1): midpoint of the bucket holding that rank, at most max().
  uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, width] = bucket(i);
        return std::min(max_, lo + width / 2);
      }
    }
    return max_;
  }

 private:
  static size_t index(uint64_t v) {
    if (v < 64) return static_cast<size_t>(v);
    int h = static_cast<int>(std::bit_width(v)) - 1;  // ≥ 6
    if (h >= kTopBit) return kBuckets - 1;
    int shift = h - kSubBits;
    return static_cast<size_t>(64 + (h - 6) * 32 + static_cast<int>((v >> shift) - 32));
  }
  static std::pair<uint64_t, uint64_t> bucket(size_t i) {
    if (i < 64) return {i, 1};
    size_t k = i - 64;
    int h = static_cast<int>(k / 32) + 6;
    uint64_t m = 32 + k % 32;
    int shift = h - kSubBits;
    return {m << shift, uint64_t{1} << shift};
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

// A response parser that discards the body and remembers the status.
class ResponseParser final : public bhttp::basic_parser<false> {
 public:
  int status = 0;

 private:
  void on_request_impl(bhttp::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int, error_code&) override {
    status = code;
  }
  void on_field_impl(bhttp::field, boost::beast::string_view, boost::beast::string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

// State shared by all I/O threads of one run. Written before the threads start, except the
// atomics and the first-error slot.
struct Shared {
  const LoadSpec* spec = nullptr;
  tcp::endpoint endpoint;
  ssl::context* ssl_ctx = nullptr;
  std::string prefix;      // request line and headers, without Content-Length and the blank line
  bool always_cl = false;  // send Content-Length even for an empty body
  bool request_close = false;
  bool head = false;                                 // HEAD: answers have no body
  const std::vector<std::string>* bodies = nullptr;  // null: empty bodies
  size_t limit = 0;                                  // requests that may be sent
  Clock::time_point measure_start;

  std::atomic<size_t> next{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};  // connections not finished
  std::mutex mu;
  std::condition_variable cv;
  std::string first_error;  // under mu

  void record_error(const std::string& e) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = e;
  }
  void connection_finished() {
    if (active.fetch_sub(1) == 1) {
      std::lock_guard lock(mu);
      cv.notify_all();
    }
  }
};

// Per-thread counters; read by the caller only after the thread is joined.
struct Stats {
  size_t requests = 0, errors = 0, bytes_in = 0, connects = 0, reconnects = 0, timeouts = 0,
         sent = 0;
  std::array<size_t, 600> status{};
  std::map<int, size_t> odd_status;  // outside 0..599
  Histogram latency;
  Clock::time_point last_counted{};
};

class Worker;

class ConnBase {
 public:
  virtual ~ConnBase() = default;
  virtual void start() = 0;
  virtual void tick(Clock::time_point now) = 0;  // enforce the per-operation deadline
  virtual void finish() = 0;                     // close for good (idempotent)
};

class Worker {
 public:
  explicit Worker(Shared& sh) : sh_(sh), ioc_(1), guard_(ioc_.get_executor()), ticker_(ioc_) {}

  asio::io_context& ioc() { return ioc_; }
  Shared& shared() { return sh_; }
  Stats& stats() { return stats_; }
  void add(std::unique_ptr<ConnBase> c) { conns_.push_back(std::move(c)); }

  void start_thread() {
    asio::post(ioc_, [this] {
      for (auto& c : conns_) c->start();
      schedule_tick();
    });
    thread_ = std::thread([this] {
      ioc_.run();
      std::lock_guard lock(sh_.mu);
      exited_ = true;
      sh_.cv.notify_all();
    });
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }
  // CPU seconds of the I/O thread so far (its clock stays valid until join).
  double cpu_seconds() const {
    timespec ts{};
    if (clock_gettime(cpu_clock_, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  // Closes every connection; the thread then runs out of work and exits.
  void stop() {
    asio::post(ioc_, [this] {
      ticker_.cancel();
      for (auto& c : conns_) c->finish();
    });
    guard_.reset();
  }
  bool exited() const { return exited_; }  // under sh_.mu
  void force_stop() { ioc_.stop(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void schedule_tick() {
    ticker_.expires_after(std::chrono::milliseconds(50));
    ticker_.async_wait([this](error_code ec) {
      if (ec || sh_.stopping.load(std::memory_order_relaxed)) return;
      auto now = Clock::now();
      for (auto& c : conns_) c->tick(now);
      schedule_tick();
    });
  }

  Shared& sh_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  asio::steady_timer ticker_;
  Stats stats_;
  std::vector<std::unique_ptr<ConnBase>> conns_;  // destroyed before ioc_
  std::thread thread_;
  clockid_t cpu_clock_{};
  bool exited_ = false;
};

// One closed-loop connection. All its handlers run on its worker's single thread.
template <bool Tls>
class Conn final : public ConnBase {
  using Stream = std::conditional_t<Tls, ssl::stream<tcp::socket>, tcp::socket>;

 public:
  explicit Conn(Worker& w)
      : w_(w), sh_(w.shared()), st_(w.stats()), backoff_(w.ioc()), rbuf_(64 * 1024) {}

  void start() override { connect(); }

  void tick(Clock::time_point now) override {
    if (busy_ && !finished_ && now >= deadline_) {
      timed_out_ = true;
      busy_ = false;
      error_code ec;
      if (stream_) lowest().close(ec);  // the pending operation completes with an error
    }
  }

  void finish() override {
    if (finished_) return;
    finished_ = true;
    busy_ = false;
    error_code ec;
    backoff_.cancel();
    if (stream_) lowest().close(ec);
    sh_.connection_finished();
  }

 private:
  tcp::socket& lowest() {
    if constexpr (Tls)
      return stream_->next_layer();
    else
      return *stream_;
  }
  bool stopping() const { return finished_ || sh_.stopping.load(std::memory_order_relaxed); }
  void arm(Clock::time_point now) {
    deadline_ = now + sh_.spec->timeout;
    busy_ = true;
    timed_out_ = false;
  }

  void connect() {
    if (stopping()) return finish();
    // Reserve the next request before connecting, so no connection is opened for a request that
    // another connection takes meanwhile (limit reached or corpus used up). The reservation is
    // kept across failed attempts: a request is sent only once it is written.
    if (!reserve()) return finish();
    if constexpr (Tls)
      stream_.emplace(w_.ioc(), *sh_.ssl_ctx);
    else
      stream_.emplace(w_.ioc());
    arm(Clock::now());
    lowest().async_connect(sh_.endpoint, [this](error_code ec) {
      if (stopping()) return finish();
      if (ec) return fail("connect", ec);
      lowest().set_option(tcp::no_delay(true), ec);
      if constexpr (Tls) {
        stream_->async_handshake(ssl::stream_base::client, [this](error_code ec) {
          if (stopping()) return finish();
          if (ec) return fail("tls_handshake", ec);
          connected();
        });
      } else {
        connected();
      }
    });
  }

  void connected() {
    ++st_.connects;
    if (ever_connected_) ++st_.reconnects;
    ever_connected_ = true;
    send_next();
  }

  void send_next() {
    if (stopping()) return finish();
    if (!reserve()) return finish();
    size_t i = *reserved_;
    reserved_.reset();
    ++st_.sent;
    static const std::string kEmpty;
    const std::string& body =
        sh_.bodies && !sh_.bodies->empty() ? (*sh_.bodies)[i % sh_.bodies->size()] : kEmpty;
    wbuf_.clear();
    wbuf_.append(sh_.prefix);
    if (!body.empty() || sh_.always_cl) {
      wbuf_.append("Content-Length: ");
      wbuf_.append(std::to_string(body.size()));
      wbuf_.append("\r\n");
    }
    wbuf_.append("\r\n");
    wbuf_.append(body);
    new_parser();
    resp_bytes_ = 0;
    rbeg_ = rend_ = 0;
    sent_at_ = Clock::now();
    arm(sent_at_);
    asio::async_write(*stream_, asio::buffer(wbuf_), [this](error_code ec, size_t) {
      if (stopping()) return finish();
      if (ec) return fail("write", ec);
      read_more();
    });
  }

  bool reserve() {
    if (!reserved_) {
      size_t i = sh_.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= sh_.limit) return false;
      reserved_ = i;
    }
    return true;
  }

  void new_parser() {
    parser_.emplace();
    parser_->eager(true);
    // No body limit. Not boost::none: Beast 1.74 compares `len > body_limit_` as optionals, so
    // none makes every Content-Length body fail with body_limit.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(64 * 1024);
    if (sh_.head) parser_->skip(true);
  }

  void read_more() {
    if (rbeg_ == rend_) {
      rbeg_ = rend_ = 0;
    } else if (rend_ == rbuf_.size()) {
      std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, rend_ - rbeg_);
      rend_ -= rbeg_;
      rbeg_ = 0;
      if (rend_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);  // a header larger than the buffer
    }
    stream_->async_read_some(
        asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_), [this](error_code ec, size_t n) {
          if (stopping()) return finish();
          if (ec) {
            bool eof = ec == asio::error::eof;
            if constexpr (Tls) eof = eof || ec == ssl::error::stream_truncated;
            if (eof && parser_->got_some() && parser_->is_header_done() && parser_->need_eof()) {
              error_code pec;
              parser_->put_eof(pec);
              if (!pec && parser_->is_done()) return complete(false);
            }
            if (eof && !parser_->got_some()) return fail("closed_before_answer", ec);
            return fail("read", ec);
          }
          rend_ += n;
          resp_bytes_ += n;
          parse();
        });
  }

  void parse() {
    for (;;) {
      error_code pec;
      size_t used = parser_->put(asio::const_buffer(rbuf_.data() + rbeg_, rend_ - rbeg_), pec);
      rbeg_ += used;
      if (pec == bhttp::error::need_more) return read_more();
      if (pec) return fail("bad_response", pec);
      if (parser_->is_done()) {
        int s = parser_->status;
        if (s >= 100 && s < 200 && s != 101) {  // interim answer: the real one follows
          new_parser();
          continue;
        }
        return complete(parser_->keep_alive());
      }
      if (rbeg_ == rend_) return read_more();
    }
  }

  void complete(bool keep_alive) {
    auto now = Clock::now();
    busy_ = false;
    if (now >= sh_.measure_start) {
      ++st_.requests;
      int s = parser_->status;
      if (s >= 0 && s < static_cast<int>(st_.status.size()))
        ++st_.status[static_cast<size_t>(s)];
      else
        ++st_.odd_status[s];
      st_.latency.add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at_).count()));
      st_.bytes_in += resp_bytes_ - (rend_ - rbeg_);
      st_.last_counted = now;
    }
    if (keep_alive && !sh_.request_close && rbeg_ == rend_) return send_next();
    // The server closes (or sent more than one answer): start over on a new connection.
    error_code ec;
    lowest().close(ec);
    connect();
  }

  void fail(const char* what, error_code ec) {
    busy_ = false;
    ++st_.errors;
    if (timed_out_) {
      ++st_.timeouts;
      sh_.record_error(std::string("timeout: ") + what);
    } else {
      sh_.record_error(std::string(what) + ": " + ec.message());
    }
    timed_out_ = false;
    error_code ignored;
    if (stream_) lowest().close(ignored);
    backoff_.expires_after(sh_.spec->error_backoff);
    backoff_.async_wait([this](error_code) { connect(); });
  }

  Worker& w_;
  Shared& sh_;
  Stats& st_;
  asio::steady_timer backoff_;
  std::optional<Stream> stream_;
  std::optional<ResponseParser> parser_;
  std::optional<size_t> reserved_;  // request index taken but not yet written
  std::string wbuf_;
  std::vector<char> rbuf_;
  size_t rbeg_ = 0, rend_ = 0, resp_bytes_ = 0;
  Clock::time_point sent_at_{}, deadline_{};
  bool busy_ = false, timed_out_ = false, finished_ = false, ever_connected_ = false;
};

bool bad_chars(const std::string& s, bool allow_space) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0' || (!allow_space && (c == ' ' || c == '\t')))
      return true;
  return false;
}

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

Result<LoadResult> run_load(const LoadSpec& spec) {
  using std::chrono::milliseconds;
  auto invalid = [](std::string d) { return Error{"invalid_spec", std::move(d)}; };
  if (spec.port == 0) return invalid("port is required");
  if (spec.connections < 1) return invalid("connections must be >= 1");
  if (spec.threads < 1) return invalid("threads must be >= 1");
  if (spec.once && (!spec.bodies || spec.bodies->empty()))
    return invalid("once needs a non-empty body list");
  if (spec.duration < milliseconds(0) || spec.warmup < milliseconds(0) ||
      spec.timeout <= milliseconds(0) || spec.error_backoff < milliseconds(0))
    return invalid("durations must not be negative (timeout > 0)");
  if (spec.method.empty() || bad_chars(spec.method, false)) return invalid("bad method");
  if (spec.path.empty() || bad_chars(spec.path, false)) return invalid("bad path");
  bool request_close = false;
  for (const auto& [k, v] : spec.headers) {
    if (k.empty() || bad_chars(k, false) || k.find(':') != std::string::npos || bad_chars(v, true))
      return invalid("bad header " + k);
    if (strcasecmp(k.c_str(), "connection") == 0 && strcasecmp(v.c_str(), "close") == 0)
      request_close = true;
  }

  Shared sh;
  sh.spec = &spec;
  {
    asio::io_context rioc;
    tcp::resolver resolver(rioc);
    error_code ec;
    auto results = resolver.resolve(spec.host, std::to_string(spec.port), ec);
    if (ec || results.empty())
      return Error{"resolve_failed", spec.host + ": " + (ec ? ec.message() : "no address")};
    sh.endpoint = results.begin()->endpoint();
  }
  std::optional<ssl::context> ctx;
  if (spec.tls) {
    ctx.emplace(ssl::context::tls_client);
    ctx->set_verify_mode(ssl::verify_none);
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
      return Error{"tls_config", "cannot set TLS 1.2 minimum"};
    sh.ssl_ctx = &*ctx;
  }

  std::string host = spec.host.find(':') != std::string::npos ? "[" + spec.host + "]" : spec.host;
  sh.prefix = spec.method + " " + spec.path + " HTTP/1.1\r\nHost: " + host + ":" +
              std::to_string(spec.port) + "\r\n";
  for (const auto& [k, v] : spec.headers) sh.prefix += k + ": " + v + "\r\n";
  sh.always_cl = spec.method == "POST" || spec.method == "PUT" || spec.method == "PATCH";
  sh.request_close = request_close;
  sh.head = spec.method == "HEAD";
  sh.bodies = spec.bodies;
  sh.limit = spec.max_requests;
  if (spec.once) sh.limit = std::min(sh.limit, spec.bodies->size());

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < spec.threads; ++t) workers.push_back(std::make_unique<Worker>(sh));
  for (int c = 0; c < spec.connections; ++c) {
    Worker& w = *workers[static_cast<size_t>(c % spec.threads)];
    if (spec.tls)
      w.add(std::make_unique<Conn<true>>(w));
    else
      w.add(std::make_unique<Conn<false>>(w));
  }
  sh.active = spec.connections;

  auto start = Clock::now();
  sh.measure_start = start + spec.warmup;
  auto deadline = sh.measure_start + spec.duration;
  for (auto& w : workers) w->start_thread();

  auto cpu_now = [&] {
    double s = 0;
    for (auto& w : workers) s += w->cpu_seconds();
    return s;
  };
  double cpu0 = 0;
  bool all_done = false;
  {
    std::unique_lock lock(sh.mu);
    all_done = sh.cv.wait_until(lock, sh.measure_start, [&] { return sh.active.load() == 0; });
  }
  if (!all_done) {
    cpu0 = cpu_now();
    std::unique_lock lock(sh.mu);
    all_done = sh.cv.wait_until(lock, deadline, [&] { return sh.active.load() == 0; });
  } else {
    cpu0 = cpu_now();
  }
  double cpu1 = cpu_now();
  sh.stopping = true;
  for (auto& w : workers) w->stop();
  {
    std::unique_lock lock(sh.mu);
    bool exited = sh.cv.wait_for(lock, std::chrono::seconds(2), [&] {
      return std::all_of(workers.begin(), workers.end(), [](auto& w) { return w->exited(); });
    });
    if (!exited)
      for (auto& w : workers) w->force_stop();
  }
  for (auto& w : workers) w->join();

  LoadResult r;
  Histogram h;
  std::array<size_t, 600> status{};
  Clock::time_point last{};
  for (auto& w : workers) {
    const Stats& s = w->stats();
    r.requests += s.requests;
    r.errors += s.errors;
    r.bytes_in += s.bytes_in;
    r.connects += s.connects;
    r.reconnects += s.reconnects;
    r.timeouts += s.timeouts;
    r.sent += s.sent;
    for (size_t i = 0; i < status.size(); ++i) status[i] += s.status[i];
    for (const auto& [k, v] : s.odd_status) r.by_status[k] += v;
    h.merge(s.latency);
    last = std::max(last, s.last_counted);
  }
  for (size_t i = 0; i < status.size(); ++i)
    if (status[i]) r.by_status[static_cast<int>(i)] += status[i];
  auto end = all_done ? std::max(last, sh.measure_start) : deadline;
  r.seconds = std::chrono::duration<double>(end - sh.measure_start).count();
  r.rps = r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0;
  r.p50_ms = ms(h.quantile(0.50));
  r.p90_ms = ms(h.quantile(0.90));
  r.p99_ms = ms(h.quantile(0.99));
  r.max_ms = ms(h.max());
  r.first_error = sh.first_error;
  r.client_cpu_seconds = std::max(0.0, cpu1 - cpu0);
  return r;
}

namespace {
// utime + stime (clock ticks) from a /proc stat line; -1 when it cannot be parsed.
long long stat_ticks(const std::string& line) {
  auto p = line.rfind(')');  // the command name may contain spaces and parentheses
  if (p == std::string::npos) return -1;
  std::istringstream in(line.substr(p + 1));
  // Fields after the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15).
  std::string field;
  for (int i = 3; i <= 13; ++i)
    if (!(in >> field)) return -1;
  unsigned long long utime = 0, stime = 0;
  if (!(in >> utime >> stime)) return -1;
  return static_cast<long long>(utime + stime);
}
}  // namespace

std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> out;
  const long tck = sysconf(_SC_CLK_TCK);
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream cf(e.path() / "comm"), sf(e.path() / "stat");
    std::string name, line;
    if (!std::getline(cf, name) || !std::getline(sf, line)) continue;  // the thread ended
    const long long ticks = stat_ticks(line);
    if (ticks < 0 || tck <= 0) continue;
    auto d = name.find_last_not_of("0123456789");
    if (d != std::string::npos && d + 1 < name.size() && name[d] == '-') name.resize(d);
    out[name] += static_cast<double>(ticks) / static_cast<double>(tck);
  }
  return out;
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return -1.0;
  const long long ticks = stat_ticks(line);
  long tck = sysconf(_SC_CLK_TCK);
  if (ticks < 0 || tck <= 0) return -1.0;
  return static_cast<double>(ticks) / static_cast<double>(tck);
}

double self_cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1.0;
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::optional<BoxCpuSeconds> box_cpu_seconds() {
  std::ifstream f("/proc/stat");
  std::string label;
  const long tck = sysconf(_SC_CLK_TCK);
  if (tck <= 0 || !(f >> label) || label != "cpu") return std::nullopt;
  unsigned long long v[10] = {};
  int n = 0;
  while (n < 10 && f >> v[n]) ++n;
  if (n < 4) return std::nullopt;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // included in user/nice.
  unsigned long long idle = v[3] + (n > 4 ? v[4] : 0), total = 0;
  for (int i = 0; i < std::min(n, 8); ++i) total += v[i];
  return BoxCpuSeconds{static_cast<double>(idle) / static_cast<double>(tck),
                       static_cast<double>(total) / static_cast<double>(tck)};
}

double box_idle_fraction(std::chrono::milliseconds sample) {
  auto before = box_cpu_seconds();
  if (!before) return -1.0;
  std::this_thread::sleep_for(sample);
  auto after = box_cpu_seconds();
  if (!after) return -1.0;
  if (after->total <= before->total) return 1.0;  // no tick elapsed (very short sample)
  return std::clamp((after->idle - before->idle) / (after->total - before->total), 0.0, 1.0);
}

bool wait_for_quiet_box(double min_idle, int consecutive, std::chrono::milliseconds sample,
                        std::chrono::milliseconds max_wait) {
  auto until = Clock::now() + max_wait;
  int good = 0;
  while (Clock::now() < until) {
    double idle = box_idle_fraction(sample);
    if (idle < 0) return false;
    good = idle >= min_idle ? good + 1 : 0;
    if (good >= consecutive) return true;
  }
  return false;
}

std::string to_json(const LoadResult& r) {
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [k, v] : r.by_status) by_status[std::to_string(k)] = v;
  nlohmann::json j{
      {"requests", r.requests},
      {"errors", r.errors},
      {"by_status", by_status},
      {"seconds", r.seconds},
      {"rps", r.rps},
      {"p50_ms", r.p50_ms},
      {"p90_ms", r.p90_ms},
      {"p99_ms", r.p99_ms},
      {"max_ms", r.max_ms},
      {"bytes_in", r.bytes_in},
      {"first_error", r.first_error},
      {"sent", r.sent},
      {"connects", r.connects},
      {"reconnects", r.reconnects},
      {"timeouts", r.timeouts},
      {"client_cpu_seconds", r.client_cpu_seconds},
      {"client_cpu_us_per_request",
       r.requests ? r.client_cpu_seconds * 1e6 / static_cast<double>(r.requests) : 0.0}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace aaj::loadgen
