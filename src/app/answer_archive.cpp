#include "app/answer_archive.h"

#include <algorithm>

#include "core/thread_name.h"

namespace aaj::app {

AnswerArchive::AnswerArchive(WriteFn write) : AnswerArchive(std::move(write), Options{}) {}

AnswerArchive::AnswerArchive(WriteFn write, Options options, LostFn on_lost)
    : write_(std::move(write)), opt_(options), on_lost_(std::move(on_lost)) {
  opt_.max_batch = std::max<size_t>(opt_.max_batch, 1);
  writer_ = std::thread([this] {
    name_this_thread("aaj-archive");
    run();
  });
}

AnswerArchive::~AnswerArchive() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  writer_.join();
}

bool AnswerArchive::submit(std::vector<store::StoredAnswer> answers) {
  if (answers.empty()) return true;
  size_t bytes = 0;
  for (const auto& a : answers) bytes += a.data.size();
  bool wake = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    // In flight (being written) counts too: the bound is on memory, not on the deque.
    if (stopping_ || stats_.queued + answers.size() > opt_.max_queue ||
        stats_.queued_bytes + bytes > opt_.max_queue_bytes) {
      stats_.refused += answers.size();
      return false;
    }
    stats_.submitted += answers.size();
    stats_.queued += answers.size();
    stats_.queued_bytes += bytes;
    submitted_upto_ += answers.size();
    for (auto& a : answers) queue_.push_back(std::move(a));
    // A gathering writer wakes by its timer; waking it for every answer would cost a context
    // switch per answer.
    wake = writer_idle_ || queue_.size() >= opt_.max_batch;
  }
  if (wake) work_.notify_one();
  return true;
}

Status AnswerArchive::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return flush_locked(l, timeout);
}

Status AnswerArchive::flush_locked(std::unique_lock<std::mutex>& l,
                                   std::chrono::milliseconds timeout) {
  const uint64_t target = submitted_upto_;
  ++flush_waiters_;
  work_.notify_one();  // ends a gathering wait
  const bool written = done_.wait_for(l, timeout, [&] { return written_upto_ >= target; });
  --flush_waiters_;
  if (!written)
    return Error{"archive_unavailable",
                 "answers are waiting to be written (" + std::to_string(stats_.queued) + ")"};
  return {};
}

bool AnswerArchive::pending_locked(const std::string& request_id) const {
  for (const auto& a : batch_)
    if (a.request_id == request_id) return true;
  for (const auto& a : queue_)
    if (a.request_id == request_id) return true;
  return false;
}

bool AnswerArchive::pending(const std::string& request_id) const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_locked(request_id);
}

Status AnswerArchive::flush_if_pending(const std::string& request_id,
                                       std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  if (!pending_locked(request_id)) return {};
  return flush_locked(l, timeout);
}

AnswerArchive::Stats AnswerArchive::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void AnswerArchive::run() {
  std::vector<store::StoredAnswer>& batch = batch_;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      writer_idle_ = true;
      work_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      writer_idle_ = false;
      if (queue_.empty()) return;  // stopping, and everything is written
      if (opt_.gather_delay.count() > 0)
        work_.wait_for(l, opt_.gather_delay, [&] {
          return stopping_ || flush_waiters_ > 0 || queue_.size() >= opt_.max_batch;
        });
      size_t n = std::min(queue_.size(), opt_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const auto stored_at = time::now();
    for (auto& a : batch) a.stored_at = stored_at;
    size_t bytes = 0;
    for (const auto& a : batch) bytes += a.data.size();

    auto backoff = opt_.retry_first;
    int attempts_while_stopping = 0;
    // The written batch leaves batch_ under the lock but is freed after it: submit() and
    // pending() take that lock on the request path.
    std::vector<store::StoredAnswer> finished;
    for (;;) {
      Status s = write_(batch);
      std::unique_lock<std::mutex> l(mu_);
      if (s) {
        stats_.written += batch.size();
        ++stats_.batches;
      } else {
        ++stats_.failures;
        if (stopping_) ++attempts_while_stopping;
        if (!stopping_ || attempts_while_stopping < opt_.attempts_at_stop) {
          // Nothing submitted is dropped while running: the queue fills and refuses instead.
          work_.wait_for(l, backoff);
          backoff = std::min(backoff * 2, opt_.retry_max);
          continue;
        }
        stats_.lost += batch.size();
        l.unlock();
        if (on_lost_) on_lost_(batch, s.error());
        l.lock();
      }
      stats_.queued -= batch.size();
      stats_.queued_bytes -= bytes;
      written_upto_ += batch.size();
      finished.swap(batch);  // no longer pending
      done_.notify_all();
      break;
    }
  }
}

}  // namespace aaj::app
