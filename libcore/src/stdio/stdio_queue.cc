// The stdio queue's input side: Receive hands out due retries, events whose key was
// released, and new lines, in that order. Lines are read only when a thread asks and
// nothing else is there, so nothing is read that no thread is free to run. One waiting
// thread at a time polls the input (and the wake pipes); the others wait on cv_.
#include "stdio/stdio_queue.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/ulid.h"
#include "stdio/stdio_session.h"

namespace evt {

StdioQueue::StdioQueue(int in_fd, int out_fd, DeadLetterSink& dlq, const StdioQueueOptions& options)
    : in_fd_(in_fd),
      dlq_(dlq),
      options_(options),
      consumer_(options.consumer.empty() ? DefaultConsumerName() : options.consumer),
      reader_(in_fd, options.max_event_bytes),
      writer_(out_fd) {
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
}

StdioQueue::~StdioQueue() {
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

std::unique_ptr<QueueSession> StdioQueue::OpenSession() {
  return std::make_unique<StdioSession>(*this);
}

EventDefaults StdioQueue::EntryDefaults(const Delivery& /*delivery*/) const {
  // A line without event_id gets a new one, once: the loop carries it from then on (a
  // retry hands out the event as completed).
  EventDefaults defaults;
  defaults.event_id = NewEventId();
  defaults.max_event_bytes = options_.max_event_bytes;
  return defaults;
}

void StdioQueue::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  Changed();
}

bool StdioQueue::Drained() const {
  std::lock_guard<std::mutex> lock(mu_);
  return DrainedLocked();
}

bool StdioQueue::DrainedLocked() const {
  return eof_ && !reader_.HasBufferedLine() && out_.empty() && retries_.empty() && ready_.empty() &&
         parked_.empty();
}

void StdioQueue::Changed() {
  cv_.notify_all();
  if (polling_ && wake_[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &byte, 1);
  }
}

Status StdioQueue::Receive(Millis block, std::vector<Delivery>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  const Steady::time_point until = Steady::now() + block;
  while (true) {
    if (output_failed_) return io_status_;
    if (stopped_ || HandOut(out)) return Status::Ok();
    Flush();  // nothing to hand out at once: let the results out before waiting
    if (output_failed_) return io_status_;
    if (DrainedLocked() || Steady::now() >= until) return Status::Ok();
    if (!polling_) {
      Poll(lock, until);
    } else {
      cv_.wait_until(lock, until);
    }
  }
}

bool StdioQueue::HandOut(std::vector<Delivery>* out) {
  StdioEntry e;
  if (!retries_.empty() && retries_.begin()->first <= options_.clock->SteadyMillis()) {
    e = std::move(retries_.begin()->second);
    retries_.erase(retries_.begin());
  } else if (!ready_.empty()) {
    e = std::move(ready_.front());
    ready_.pop_front();
  } else if (!eof_ && reader_.HasBufferedLine()) {
    Line line;
    if (reader_.Next(&line) != LineReader::State::kLine) return false;
    e = EntryOf(line);
  } else {
    return false;
  }
  e.deliveries += 1;
  e.started = false;
  // Unique per hand-out: a retry of line 7 is "7#2", never confused with "7" in flight.
  std::string id = std::to_string(e.line);
  if (e.deliveries > 1) id += "#" + std::to_string(e.deliveries);
  Delivery d;
  d.id = id;
  d.raw = e.raw;
  d.deliveries = e.deliveries;
  d.rejected = e.rejected;
  out->push_back(std::move(d));
  out_.emplace(std::move(id), std::move(e));
  return true;
}

StdioEntry StdioQueue::EntryOf(const Line& line) {
  StdioEntry e;
  e.line = line.number;
  e.serial = ++serial_;
  last_line_ = std::max(last_line_, line.number);
  if (line.too_long) {
    // An over-long line was never held whole: its head is what there is to keep.
    e.rejected = "line is " + std::to_string(line.length) + " bytes, more than --max-event-bytes " +
                 std::to_string(options_.max_event_bytes);
    e.raw = std::string(line.head);
  } else {
    e.raw = std::string(line.text);
  }
  return e;
}

void StdioQueue::Poll(std::unique_lock<std::mutex>& lock, Steady::time_point until) {
  std::int64_t ms = std::chrono::ceil<Millis>(until - Steady::now()).count();
  if (!retries_.empty()) {
    // Due times are on the worker's clock (a fake one in tests): wait at most until then.
    ms = std::min<std::int64_t>(ms, retries_.begin()->first - options_.clock->SteadyMillis());
  }
  const int timeout = static_cast<int>(std::clamp<std::int64_t>(ms, 0, 3'600'000));
  const bool read = !eof_;
  polling_ = true;
  lock.unlock();
  pollfd fds[3];
  nfds_t n = 0;
  fds[n++] = pollfd{wake_[0], POLLIN, 0};
  fds[n++] = pollfd{WakeFd(), POLLIN, 0};  // a stop signal, or a test's clock tick
  if (read) fds[n++] = pollfd{in_fd_, POLLIN, 0};
  const int got = ::poll(fds, n, timeout);
  char buf[64];
  while (::read(wake_[0], buf, sizeof buf) > 0) {
  }
  if (got > 0 && fds[1].revents != 0) DrainWake();
  lock.lock();
  polling_ = false;
  if (got > 0 && read && fds[2].revents != 0 && !stopped_) ReadOnce();
  cv_.notify_all();
}

void StdioQueue::ReadOnce() {
  Line line;
  switch (reader_.Next(&line)) {
    case LineReader::State::kLine:
      ready_.push_back(EntryOf(line));
      break;
    case LineReader::State::kEof:
      eof_ = true;
      break;
    case LineReader::State::kError:
      eof_ = true;
      input_status_ = reader_.status();
      Log(LogLevel::kError, "cannot read input: " + input_status_.message());
      break;
    case LineReader::State::kWouldBlock:
      break;
  }
}

std::unique_ptr<Queue> OpenStdioQueue(int in_fd, int out_fd, DeadLetterSink& dlq,
                                      const StdioQueueOptions& options) {
  return std::make_unique<StdioQueue>(in_fd, out_fd, dlq, options);
}

}  // namespace evt
