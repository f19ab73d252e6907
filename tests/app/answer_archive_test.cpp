// The answer archive (R-USE-2): answers are batched per write, the queue is bounded and refuses
// rather than waits, failed writes are retried without losing anything, and what was accepted is
// on disk after the archive is destroyed (a clean restart).
#include "app/answer_archive.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <thread>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

namespace fs = std::filesystem;
using aaj::Error;
using aaj::Status;
using aaj::app::AnswerArchive;
using aaj::store::StoredAnswer;

namespace {

StoredAnswer answer(const std::string& id, const std::string& data = "{\"a\":1}") {
  StoredAnswer a;
  a.request_id = id;
  a.resource = "R01";
  a.material_type = "criminal_case";
  a.material_number = "267510000000031";
  a.iin = "900302400123";
  a.body_bin = "050140000105";
  a.data = data;
  a.sha256 = "00";
  a.log_seq = 1;
  a.logged_at = aaj::time::now();
  return a;
}

std::vector<StoredAnswer> one(StoredAnswer a) {
  std::vector<StoredAnswer> v;
  v.push_back(std::move(a));
  return v;
}

// A write function that blocks until opened, and records each batch's size.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;
  std::vector<size_t> batches;
  AnswerArchive::WriteFn fn() {
    return [this](const std::vector<StoredAnswer>& b) -> Status {
      std::unique_lock<std::mutex> l(mu);
      ++entered;
      cv.notify_all();
      cv.wait(l, [&] { return open; });
      batches.push_back(b.size());
      return {};
    };
  }
  void wait_entered(int n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return entered >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(AnswerArchive, BatchesEverythingQueuedWhileAWriteRuns) {
  Gate gate;
  AnswerArchive archive(gate.fn());
  ASSERT_TRUE(archive.submit(one(answer("first"))));
  gate.wait_entered(1);  // the writer holds "first"; the next 300 queue behind it
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(archive.submit(one(answer("r" + std::to_string(i)))));
  gate.release();
  ASSERT_TRUE(archive.flush().ok());
  std::lock_guard<std::mutex> l(gate.mu);
  ASSERT_EQ(gate.batches.size(), 2u);  // not 301 transactions
  EXPECT_EQ(gate.batches[0], 1u);
  EXPECT_EQ(gate.batches[1], 300u);
  EXPECT_EQ(archive.stats().batches, 2u);
  EXPECT_EQ(archive.stats().written, 301u);
}

TEST(AnswerArchive, WritesOnItsOwnNamedThread) {
  std::string writer;
  AnswerArchive archive([&](const std::vector<StoredAnswer>&) -> Status {
    char n[16] = {};
    pthread_getname_np(pthread_self(), n, sizeof n);
    writer = n;
    return {};
  });
  ASSERT_TRUE(archive.submit(one(answer("named"))));
  ASSERT_TRUE(archive.flush().ok());
  EXPECT_EQ(writer, "aaj-archive");  // as top -H, perf and pipeline_bench show it
}

TEST(AnswerArchive, BatchesAreCappedAtMaxBatch) {
  Gate gate;
  AnswerArchive::Options o;
  o.max_batch = 100;
  AnswerArchive archive(gate.fn(), o);
  ASSERT_TRUE(archive.submit(one(answer("first"))));
  gate.wait_entered(1);
  for (int i = 0; i < 250; ++i) ASSERT_TRUE(archive.submit(one(answer("r" + std::to_string(i)))));
  gate.release();
  ASSERT_TRUE(archive.flush().ok());
  std::lock_guard<std::mutex> l(gate.mu);
  EXPECT_EQ(gate.batches, (std::vector<size_t>{1, 100, 100, 50}));
}

TEST(AnswerArchive, GathersAnswersArrivingTogetherIntoOneWrite) {
  std::mutex mu;
  std::vector<size_t> batches;
  AnswerArchive::Options o;
  o.gather_delay = std::chrono::seconds(1);
  AnswerArchive archive(
      [&](const std::vector<StoredAnswer>& b) -> Status {
        std::lock_guard<std::mutex> l(mu);
        batches.push_back(b.size());
        return {};
      },
      o);
  // Ten requests' answers, one at a time: the writer, woken by the first, waits for the rest.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(archive.submit(one(answer("r" + std::to_string(i)))));
  for (int i = 0; i < 500 && archive.stats().written < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(archive.stats().written, 10u);
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(batches, (std::vector<size_t>{10}));
}

TEST(AnswerArchive, AFlushDoesNotWaitForTheGathering) {
  AnswerArchive::Options o;
  o.gather_delay = std::chrono::seconds(60);
  AnswerArchive archive([](const std::vector<StoredAnswer>&) -> Status { return {}; }, o);
  ASSERT_TRUE(archive.submit(one(answer("a"))));
  // Readers flush before reading: they must not sit out the gather delay.
  ASSERT_TRUE(archive.flush(std::chrono::seconds(10)).ok());
  EXPECT_EQ(archive.stats().written, 1u);
}

TEST(AnswerArchive, AFullQueueRefusesAtOnceAndAllOrNothing) {
  Gate gate;
  AnswerArchive::Options o;
  o.max_queue = 4;
  AnswerArchive archive(gate.fn(), o);
  ASSERT_TRUE(archive.submit(one(answer("a"))));
  gate.wait_entered(1);  // "a" is in flight and still counts
  ASSERT_TRUE(archive.submit(one(answer("b"))));
  ASSERT_TRUE(archive.submit(one(answer("c"))));
  // Two answers of one request do not fit in the one place left: neither is taken.
  std::vector<StoredAnswer> two;
  two.push_back(answer("d"));
  two.push_back(answer("d"));
  two[1].resource = "R05";
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(archive.submit(std::move(two)));
  EXPECT_TRUE(archive.submit(one(answer("e"))));
  EXPECT_FALSE(archive.submit(one(answer("f"))));  // full: refused, not waited for
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  auto st = archive.stats();
  EXPECT_EQ(st.queued, 4u);
  EXPECT_EQ(st.refused, 3u);
  // A flush cannot complete while the writer is stuck: it says so instead of hanging.
  auto f = archive.flush(std::chrono::milliseconds(50));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, "archive_unavailable");
  gate.release();
  ASSERT_TRUE(archive.flush().ok());
  EXPECT_TRUE(archive.submit(one(answer("g"))));  // room again
  ASSERT_TRUE(archive.flush().ok());
  EXPECT_EQ(archive.stats().written, 5u);
}

TEST(AnswerArchive, TheQueueIsBoundedInBytesToo) {
  Gate gate;
  AnswerArchive::Options o;
  o.max_queue_bytes = 1000;
  AnswerArchive archive(gate.fn(), o);
  ASSERT_TRUE(archive.submit(one(answer("a", std::string(600, 'x')))));
  gate.wait_entered(1);
  EXPECT_FALSE(archive.submit(one(answer("b", std::string(500, 'x')))));
  EXPECT_TRUE(archive.submit(one(answer("c", std::string(400, 'x')))));
  gate.release();
}

// A reader of one request waits only for that request's answers: an unknown request id forces
// no flush, a queued or in-flight one is waited for (answers_of in exports.cpp).
TEST(AnswerArchive, OnlyAPendingRequestIsFlushedFor) {
  Gate gate;
  AnswerArchive::Options o;
  o.gather_delay = std::chrono::microseconds(0);
  AnswerArchive archive(gate.fn(), o);
  ASSERT_TRUE(archive.submit(one(answer("in-flight"))));
  gate.wait_entered(1);  // its batch is being written
  ASSERT_TRUE(archive.submit(one(answer("queued"))));
  EXPECT_TRUE(archive.pending("in-flight"));
  EXPECT_TRUE(archive.pending("queued"));
  EXPECT_FALSE(archive.pending("unknown"));
  // The writes are stuck: a flush cannot finish, but asking about an unknown id does not wait.
  EXPECT_FALSE(archive.flush(std::chrono::milliseconds(20)).ok());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(archive.flush_if_pending("unknown", std::chrono::seconds(5)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(archive.flush_if_pending("queued", std::chrono::milliseconds(20)).error().code,
            "archive_unavailable");
  gate.release();
  ASSERT_TRUE(archive.flush_if_pending("queued", std::chrono::seconds(5)).ok());
  EXPECT_FALSE(archive.pending("in-flight"));
  EXPECT_FALSE(archive.pending("queued"));
  std::lock_guard<std::mutex> l(gate.mu);
  size_t written = 0;
  for (size_t b : gate.batches) written += b;
  EXPECT_EQ(written, 2u);
}

TEST(AnswerArchive, FailedWritesAreRetriedAndNothingIsLost) {
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> written;
  AnswerArchive::Options o;
  o.retry_first = std::chrono::milliseconds(5);
  AnswerArchive archive(
      [&](const std::vector<StoredAnswer>& b) -> Status {
        if (++calls <= 3) return Error{"store_unavailable", "disk full"};
        std::lock_guard<std::mutex> l(mu);
        for (const auto& a : b) written.push_back(a.request_id);
        return {};
      },
      o);
  ASSERT_TRUE(archive.submit(one(answer("x"))));
  ASSERT_TRUE(archive.flush(std::chrono::seconds(5)).ok());
  EXPECT_EQ(written, std::vector<std::string>{"x"});
  EXPECT_EQ(archive.stats().failures, 3u);
  EXPECT_EQ(archive.stats().lost, 0u);
}

TEST(AnswerArchive, WhatCannotBeWrittenAtStopIsReportedLost) {
  std::vector<std::string> lost;
  {
    AnswerArchive::Options o;
    o.retry_first = std::chrono::milliseconds(1);
    o.attempts_at_stop = 2;
    AnswerArchive archive(
        [](const std::vector<StoredAnswer>&) -> Status {
          return Error{"store_unavailable", "gone"};
        },
        o,
        [&](const std::vector<StoredAnswer>& b, const Error& e) {
          EXPECT_EQ(e.detail, "gone");
          for (const auto& a : b) lost.push_back(a.request_id);
        });
    ASSERT_TRUE(archive.submit(one(answer("p"))));
    ASSERT_TRUE(archive.submit(one(answer("q"))));
  }
  std::sort(lost.begin(), lost.end());
  EXPECT_EQ(lost, (std::vector<std::string>{"p", "q"}));
}

TEST(AnswerArchive, AcceptedAnswersSurviveARestart) {
  char tmpl[] = "/tmp/aaj-archive-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  const std::string cyrillic = R"({"surname":"ӘБДІРАХМАНОВ","note":"ұзын жауап"})";
  {
    auto s = aaj::store::open_store({"sqlite", dir, ""});
    ASSERT_TRUE(s.ok()) << s.error().detail;
    aaj::store::Store* st = s->get();
    AnswerArchive archive([st](const std::vector<StoredAnswer>& b) { return st->add_answers(b); });
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(archive.submit(one(answer("req-" + std::to_string(i), cyrillic))));
    // No flush: destroying the archive writes what is queued.
  }
  auto s = aaj::store::open_store({"sqlite", dir, ""});
  ASSERT_TRUE(s.ok());
  for (int i : {0, 99, 199}) {
    auto rows = (*s)->answers_of_request("req-" + std::to_string(i));
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u) << i;
    EXPECT_EQ((*rows)[0].data, cyrillic);
    EXPECT_EQ((*rows)[0].material_number, "267510000000031");
    EXPECT_NE((*rows)[0].stored_at, aaj::time::Instant{});
    EXPECT_FALSE((*rows)[0].destroyed());
  }
  s->reset();
  fs::remove_all(dir);
}

}  // namespace
