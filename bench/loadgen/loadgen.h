// aaj_loadgen: a closed-loop HTTP/1.1 load generator (like wrk) for benchmark programs, plus the
// CPU and idle probes the benchmarks use to report CPU-µs per request on a shared machine.
//
// Model: `connections` keep-alive connections, spread round-robin over `threads` I/O threads
// (one io_context per thread, callbacks, no locks on the hot path). Each connection sends one
// request, reads the whole response, then sends the next. Requests are numbered from one shared
// counter; request i carries bodies[i % n] (or bodies[i] with `once`).
//
// Everything is bounded: the run ends at warmup + duration, or earlier when max_requests have
// been sent (or the corpus is used up with `once`) and the last answers have arrived. Each
// connect, handshake and request must finish within `timeout`, or it is counted as an error and
// the connection is replaced. After a transport error a connection waits `error_backoff` before
// reconnecting, so a refused port produces a bounded number of errors, never a busy loop.
//
// Transport errors (connect refused, TLS failure, reset, timeout, unparsable response, server
// closing without an answer) count in LoadResult::errors. HTTP statuses, 4xx/5xx included, are
// answers: they count in requests and by_status.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace aaj::loadgen {

struct LoadSpec {
  std::string host = "127.0.0.1";  // IP literal or a name (resolved once, first address used)
  uint16_t port = 0;               // required
  // TLS 1.2+; any server certificate is accepted (loopback benchmark); no SNI is sent.
  bool tls = true;
  std::string method = "POST";
  std::string path = "/";  // request-target, sent as is
  // Extra request headers, e.g. {"Authorization", "…"}, {"Content-Type", "application/json"}.
  // The generator adds Host and Content-Length (Content-Length: for a non-empty body, or for
  // POST/PUT/PATCH). A "Connection: close" header here makes every request use a new
  // connection (the server closes after each answer): a handshake-cost pass.
  std::vector<std::pair<std::string, std::string>> headers;
  // Request bodies; not copied, must outlive run_load(). Null or empty: every body is empty
  // (then `once` is invalid).
  const std::vector<std::string>* bodies = nullptr;
  // Send each body at most once (a corpus of unique nonces): the run stops issuing requests when
  // all bodies have been sent.
  bool once = false;
  int connections = 64;
  int threads = 1;  // I/O threads; connections are spread over them
  // Measured time, after the warmup. The run lasts at most warmup + duration (+ ~100 ms to close).
  std::chrono::milliseconds duration{5000};
  // Hard cap on requests *sent*, warmup included.
  size_t max_requests = std::numeric_limits<size_t>::max();
  // Answers that complete during the warmup are not counted (requests, by_status, latency,
  // bytes_in). Transport errors are counted during the warmup too.
  std::chrono::milliseconds warmup{0};
  // Per connect, per TLS handshake, and per request (write + whole answer).
  std::chrono::milliseconds timeout{10000};
  // Pause of a connection after a transport error before it reconnects.
  std::chrono::milliseconds error_backoff{10};
};

struct LoadResult {
  size_t requests = 0;  // answers received in the measured window (any status)
  size_t errors = 0;    // transport errors (whole run, warmup included); see the file comment
  std::map<int, size_t> by_status;  // status -> answers; the sum equals `requests`
  double seconds = 0;  // measured window: end of warmup to the last counted answer (or deadline)
  double rps = 0;      // requests / seconds
  // Latency of counted answers (request write start to last byte of the answer), from a
  // log-linear histogram (relative bucket error < 3.2 %); max_ms is exact.
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  size_t bytes_in = 0;      // bytes of counted answers (HTTP bytes, after TLS decryption)
  std::string first_error;  // first transport error, "" if none
  // Extras.
  size_t sent = 0;        // requests written, warmup included (≤ max_requests)
  size_t connects = 0;    // TCP connections established (and TLS handshakes done)
  size_t reconnects = 0;  // connections opened after a connection's first one: server closes,
                          // "Connection: close" answers, recoveries after errors
  size_t timeouts = 0;    // the part of `errors` due to `timeout`
  // CPU time of the generator's own I/O threads during the measured window (thread CPU clocks,
  // so it excludes a server running in the same process). Divide by requests for µs/request.
  double client_cpu_seconds = 0;
};

// Runs the load described by `spec` and blocks until it ends (see the file comment).
// Errors (nothing is sent): "invalid_spec" (port 0, connections/threads < 1, `once` without
// bodies, negative durations, bad method/path/header characters), "resolve_failed" (host),
// "tls_config" (client SSL context). Transport failures during the run are not errors of this
// function: they are counted in LoadResult::errors.
// Thread-safety: reentrant; concurrent runs are independent. Starts and joins its own threads.
Result<LoadResult> run_load(const LoadSpec& spec);

// utime + stime of process `pid` in seconds, from /proc/<pid>/stat (all its threads, children
// not included). Returns -1.0 if the file cannot be read or parsed (e.g. the process is gone).
double process_cpu_seconds(pid_t pid);

// utime + stime of each thread of process `pid` in seconds, summed per thread name (the
// name's trailing "-<digits>" dropped, so "aaj-io-0" and "aaj-io-1" count as "aaj-io"), from
// /proc/<pid>/task/*/{comm,stat}. Clock-tick resolution per thread (10 ms): meant for totals
// over thousands of requests. Threads that ended are not counted. Empty if unreadable.
std::map<std::string, double> thread_cpu_seconds(pid_t pid);

// user + system CPU seconds of this process (all threads), from getrusage(RUSAGE_SELF).
double self_cpu_seconds();

// Fraction of the machine's CPU time that was idle (idle + iowait, all CPUs) over a `sample`
// window measured from /proc/stat; blocks for `sample`. In [0, 1]; -1.0 if /proc/stat is
// unreadable.
double box_idle_fraction(std::chrono::milliseconds sample);

// The machine's CPU time so far, in seconds summed over all CPUs, from /proc/stat: `idle` is idle
// + iowait, `total` every state (guest time is inside user/nice). Subtract two snapshots for a
// window (clock-tick resolution). nullopt if /proc/stat is unreadable.
struct BoxCpuSeconds {
  double idle = 0, total = 0;
};
std::optional<BoxCpuSeconds> box_cpu_seconds();

// Samples box_idle_fraction(sample) until `consecutive` samples in a row are ≥ min_idle, or
// max_wait has passed. Returns true when the machine was found quiet.
bool wait_for_quiet_box(double min_idle = 0.9, int consecutive = 2,
                        std::chrono::milliseconds sample = std::chrono::milliseconds(1000),
                        std::chrono::milliseconds max_wait = std::chrono::milliseconds(60000));

// One JSON object (a single line) with every LoadResult field; by_status keys are strings.
std::string to_json(const LoadResult& r);

}  // namespace aaj::loadgen
