// PRIVATE: the stdio queue (evt/stdio_queue.h). One object holds the whole state of a run
// under one mutex; every session is a view of it. Receive (stdio_queue.cc) reads lines
// and hands out entries; the lease table and the attempt-ending calls are in
// stdio_finish.cc; result lines, dead letters and the end of the run in stdio_results.cc.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "evt/ndjson.h"
#include "evt/stdio_queue.h"

namespace evt {

// One event read, from its line to its outcome.
struct StdioEntry {
  std::uint64_t line = 0;       // input line number
  std::uint64_t serial = 0;     // unique in the run: the holder of a lease
  std::string raw;              // handed out next (after a retry: retry_count raised)
  std::string rejected;         // an over-long line: why (raw is its head)
  std::int64_t deliveries = 0;  // hand-outs so far
  std::string event_id;         // known once an attempt started (StartAttempt)
  std::string event_type;       // likewise
  std::string key;              // likewise: the idempotency key
  std::string holder;           // the lease owner of its last acquired attempt
  int attempts = 0;             // handler runs
  bool started = false;         // its attempt reached StartAttempt (keys go in input order)
  Millis handler_time{0};       // summed over them
  std::string last_error;       // of the last failed run
  Category last_category = Category::kNone;
};

class StdioQueue : public Queue {
 public:
  StdioQueue(int in_fd, int out_fd, DeadLetterSink& dlq, const StdioQueueOptions& options);
  ~StdioQueue() override;

  std::unique_ptr<QueueSession> OpenSession() override;
  const std::string& consumer() const override { return consumer_; }
  std::string Describe() const override { return "stdin"; }
  std::string Scope() const override { return "stdio"; }
  bool NeedsJournal() const override { return false; }
  EventDefaults EntryDefaults(const Delivery& delivery) const override;
  void Stop() override;
  bool Drained() const override;
  Status EndRun(std::uint64_t* interrupted) override;

  // The sessions' calls (stdio_queue.cc, stdio_finish.cc).
  Status Receive(Millis block, std::vector<Delivery>* out);
  Result<Lease> StartAttempt(const AttemptEnd& attempt);
  Result<Lease> TakeLease(const std::string& key, const std::string& owner);
  Status ReleaseLease(const std::string& key, const std::string& owner);
  bool RenewLease(const std::string& key, const std::string& owner);
  Status FinishDone(const AttemptEnd& end);
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due);
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw);
  Status FinishDuplicate(const AttemptEnd& end);
  Status Defer(const Delivery& delivery);
  Status Abandon(const AttemptEnd& end);

 private:
  using Steady = std::chrono::steady_clock;

  // stdio_queue.cc. All REQUIRE mu_ held.
  bool HandOut(std::vector<Delivery>* out);
  void Poll(std::unique_lock<std::mutex>& lock, Steady::time_point until);
  void ReadOnce();
  StdioEntry EntryOf(const Line& line);
  bool DrainedLocked() const;
  void Changed();  // wakes whoever waits in Receive

  // stdio_finish.cc. All REQUIRE mu_ held.
  Result<StdioEntry> Take(const AttemptEnd& end);
  void Release(const std::string& key, const std::string& holder);
  static std::string Holder(const StdioEntry& e) {
    return e.holder.empty() ? "entry " + std::to_string(e.serial) : e.holder;
  }
  // True when `id` names a hand-out of a line already read that is no longer out: its
  // outcome was committed (or it was deferred), so a repeated call only returns OK.
  bool Settled(const std::string& id) const;

  // stdio_results.cc. All REQUIRE mu_ held.
  void WriteResult(const StdioEntry& e, const char* status, const DeadReason* reason);
  void WriteLine(const std::string& text);
  void Flush();
  void RecordDeadLetter(const DeadLetter& d);
  void DeadLetterEntry(const StdioEntry& e, DeadReason reason, const std::string& raw);
  void RejectLine(const StdioEntry& e, DeadReason reason, const std::string& error,
                  const std::string& raw);
  void Interrupt(StdioEntry e);
  void InterruptReadAhead();

  const int in_fd_;
  DeadLetterSink& dlq_;
  const StdioQueueOptions options_;
  std::string consumer_;
  int wake_[2] = {-1, -1};  // pokes the thread waiting in poll(2)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  LineReader reader_;
  LineWriter writer_;
  bool eof_ = false;
  bool stopped_ = false;
  bool polling_ = false;        // a thread waits in poll(2) (Poll); the others on cv_
  bool output_failed_ = false;  // results cannot be written: the run stops
  Status io_status_;            // the first output or dead-letter failure
  Status input_status_;         // reading the input failed
  std::uint64_t serial_ = 0;
  std::uint64_t last_line_ = 0;            // the last input line read
  std::uint64_t invalid_ = 0;              // lines rejected
  std::uint64_t interrupted_ = 0;          // entries dead-lettered as interrupted by EndRun
  std::map<std::string, StdioEntry> out_;  // handed out, by delivery id
  // Signalled when a handed-out entry starts its attempt or ends: StartAttempt waits until
  // every entry handed out before its own has done one of the two, so that of two events
  // with one key the earlier line takes the lease first (the later one waits for it).
  std::condition_variable order_cv_;
  bool EarlierUnstarted(std::uint64_t serial) const;
  std::multimap<std::int64_t, StdioEntry> retries_;  // by due time (the clock's steady ms)
  std::deque<StdioEntry> ready_;                     // to hand out first
  std::unordered_map<std::string, std::deque<StdioEntry>> parked_;  // key → waiting for it
  std::unordered_map<std::string, std::string> held_;               // key → holder
  std::unordered_set<std::string> done_keys_;
};

}  // namespace evt
