// evt-emit with a broker: the order of things, and what "accepted" means.
//
// An event's id is printed only once the event is safe: accepted by Redis (EXEC replied),
// or fsync'ed into the spool. Events go out in input order through one path at a time:
// Redis while it answers; once it has been unreachable for --wait-timeout (or at start),
// the spool for the rest of the run if --spool was given, else the run stops with a message
// saying how far it got. Waiting spooled events go before the run's own, so order holds.
//
// The spool is only needed during an outage: while Redis answers, a spool folder that
// cannot be used (unwritable, full, not a folder) costs one warning, not the run.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "evt/broker_factory.h"
#include "evt/emit.h"
#include "evt/log.h"
#include "evt/ndjson.h"
#include "evt/signals.h"
#include "evt/spool.h"

namespace evt {
namespace {

using Clock = std::chrono::steady_clock;

class Delivery {
 public:
  Delivery(const EmitOptions& o, EventPublisher* publisher, Spool* spool,
           const Status& spool_problem, UnixMillis due_ms, int out_fd, EmitStats* stats)
      : o_(o),
        publisher_(publisher),
        spool_(spool),
        spool_problem_(spool_problem),
        due_ms_(due_ms),
        out_(out_fd),
        stats_(stats) {}

  // Switches to the spool for the rest of the run (Redis is unreachable).
  void UseSpool(const Status& why) {
    publisher_ = nullptr;
    Log(LogLevel::kWarn,
        "redis unreachable: keeping events in " + spool_->file() +
            " until an evt-emit reaches redis",
        {{"error", why.message()}});
  }

  void Add(Event event, std::uint64_t line) {
    pending_.push_back(Publication{std::move(event), due_ms_});
    lines_.push_back(line);
  }
  void Add(std::vector<Publication>* events, std::vector<std::uint64_t>* lines) {
    for (std::size_t i = 0; i < events->size(); ++i) {
      pending_.push_back(std::move((*events)[i]));
      pending_.back().due_ms = due_ms_;
      lines_.push_back((*lines)[i]);
    }
  }

  // Delivers every pending event, in order; see the file comment.
  Status Flush() {
    while (!pending_.empty()) {
      std::size_t accepted = 0;
      Status s;
      if (publisher_ != nullptr) {
        s = WaitForRoom();
        if (s.ok()) s = publisher_->Publish(pending_, &accepted);
      } else {
        s = spool_->Append(pending_);
        accepted = s.ok() ? pending_.size() : 0;
        spooled_ += accepted;
      }
      if (Status w = Acknowledge(accepted); !w.ok()) return w;
      if (s.ok()) continue;
      if (s.kind() == Status::Kind::kUnavailable && publisher_ != nullptr && spool_ != nullptr) {
        UseSpool(s);
        continue;
      }
      return Annotate(s);
    }
    return Status::Ok();
  }

  // Reports the spooled count at the end of the run.
  void Summary() const {
    if (spooled_ > 0) {
      Log(LogLevel::kWarn, "spooled " + std::to_string(spooled_) + " event(s) in " +
                               spool_->file() +
                               "; the next evt-emit that reaches redis sends them");
    }
  }

 private:
  // Prints the ids of the first `n` pending events and drops them from pending.
  Status Acknowledge(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (Status s = out_.WriteLine(pending_[i].event.event_id()); !s.ok()) {
        return Status::IOError("stdout: " + s.message());
      }
    }
    if (Status s = out_.Flush(); !s.ok()) return Status::IOError("stdout: " + s.message());
    stats_->written += n;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(n));
    return Status::Ok();
  }

  // Says how far the run got, so that a person knows what to send again.
  Status Annotate(const Status& s) const {
    std::string tail;
    if (!o_.from_stdin) {
      tail = "; the event was not published";
    } else {
      tail = "; " + std::to_string(stats_->written) +
             " event(s) were accepted (their ids are on stdout); the events from line " +
             std::to_string(lines_.front()) + " on were not";
    }
    if (s.kind() == Status::Kind::kUnavailable && spool_ == nullptr) {
      tail += spool_problem_.ok()
                  ? " (--spool DIR keeps events while the broker cannot take them)"
                  : " (and the spool cannot be used: " + spool_problem_.message() + ")";
    }
    return Status(s.kind(), s.message() + tail);
  }

  // Backpressure: OK once the backlog is below --max-depth; TryAgain when it is not and
  // --on-full is fail, or still is not after --wait-timeout.
  Status WaitForRoom() {
    if (o_.max_depth <= 0) return Status::Ok();
    const Clock::time_point deadline = Clock::now() + o_.wait_timeout;
    bool told = false;
    while (true) {
      Result<std::int64_t> depth = publisher_->Depth();
      if (!depth.ok()) return depth.status();
      if (*depth < o_.max_depth) return Status::Ok();
      std::string full = "queue is full: " + std::to_string(*depth) +
                         " events waiting or in progress, --max-depth " +
                         std::to_string(o_.max_depth);
      if (o_.on_full == "fail") return Status::TryAgain(full + "; try again later");
      if (Clock::now() >= deadline || StopRequested()) {
        return Status::TryAgain(full + " still after --wait-timeout " +
                                FormatDuration(o_.wait_timeout) + "; try again later");
      }
      if (!told) {
        Log(LogLevel::kInfo,
            full + "; waiting up to --wait-timeout " + FormatDuration(o_.wait_timeout));
        told = true;
      }
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
      std::this_thread::sleep_for(std::max(Millis(1), std::min(Millis(200), left)));
    }
  }

  const EmitOptions& o_;
  EventPublisher* publisher_;  // null once Redis was given up
  Spool* spool_;               // null without --spool, or when it cannot be used
  Status spool_problem_;       // why --spool cannot be used, if it cannot
  UnixMillis due_ms_;
  LineWriter out_;
  EmitStats* stats_;
  std::vector<Publication> pending_;  // not yet accepted, in input order
  std::vector<std::uint64_t> lines_;  // their input line numbers (0 from flags)
  std::size_t spooled_ = 0;
};

// --stdin: the reading and validating (this thread) overlaps with the round trips to Redis
// (a second thread running Delivery), which roughly halves a bulk emit's wall time. At
// most two rounds wait between them, so memory stays bounded.
class BackgroundDelivery {
 public:
  explicit BackgroundDelivery(Delivery* delivery)
      : delivery_(delivery), thread_([this] { Run(); }) {}
  ~BackgroundDelivery() { Finish(); }

  void Add(Event event, std::uint64_t line) {
    round_.push_back(Publication{std::move(event), 0});
    lines_.push_back(line);
  }
  std::size_t size() const { return round_.size(); }

  // Hands the events added so far to the delivery thread; waits while two rounds are
  // queued. Returns the delivery's failure once there is one (then nothing more is sent).
  Status Send() {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return queue_.size() < 2 || !failure_.ok(); });
    if (!failure_.ok()) return failure_;
    if (!round_.empty()) {
      queue_.push_back({std::move(round_), std::move(lines_)});
      round_.clear();
      lines_.clear();
      work_.notify_one();
    }
    return Status::Ok();
  }

  // Sends the rest, waits until the delivery thread is done, returns its failure or OK.
  Status Finish() {
    if (thread_.joinable()) {
      Status s = Send();
      {
        std::lock_guard<std::mutex> lock(mu_);
        closed_ = true;
      }
      work_.notify_one();
      thread_.join();
      (void)s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

 private:
  struct Round {
    std::vector<Publication> events;
    std::vector<std::uint64_t> lines;
  };

  void Run() {
    while (true) {
      Round r;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      room_.notify_one();
      delivery_->Add(&r.events, &r.lines);
      Status s = delivery_->Flush();
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        failure_ = s;
        room_.notify_all();
        return;
      }
    }
  }

  Delivery* delivery_;
  std::vector<Publication> round_;    // being filled by the reading thread
  std::vector<std::uint64_t> lines_;  // its line numbers
  std::mutex mu_;
  std::condition_variable work_;  // a round was queued, or closed_
  std::condition_variable room_;  // a round was taken, or failure_
  std::deque<Round> queue_;
  bool closed_ = false;
  Status failure_;
  std::thread thread_;  // last: starts once the members above exist
};

UnixMillis DueTime(const EmitOptions& o) {
  if (!o.at.empty()) return *ParseRfc3339(o.at);  // checked by ValidateEmitOptions
  if (o.delay.count() > 0) return NowUnixMillis() + o.delay.count();
  return 0;
}

// The spool of --spool, or null. Returns why --spool cannot be used, if it cannot.
Status OpenSpool(const EmitOptions& o, std::unique_ptr<Spool>* spool) {
  if (o.spool_dir.empty()) return Status::Ok();
  Result<Spool> opened = Spool::Open(o.spool_dir);
  if (!opened.ok()) return opened.status();
  *spool = std::make_unique<Spool>(std::move(*opened));
  return Status::Ok();
}

// Sends the events the spool kept from earlier runs. Sets *down when the broker went away.
void SendSpool(EventPublisher* publisher, Spool* spool, std::size_t round, Status* down) {
  std::size_t sent = 0;
  Status s = spool->Flush(publisher, round, &sent);
  if (sent > 0) {
    Log(LogLevel::kInfo,
        "sent " + std::to_string(sent) + " spooled event(s) from " + spool->file());
  }
  if (s.kind() == Status::Kind::kUnavailable) {
    *down = s;
  } else if (!s.ok()) {
    // Redis answers: the run's own events need not wait for a spool that cannot be sent
    // now (a full or read-only folder); the spooled ones wait for a later run.
    Log(LogLevel::kWarn,
        "cannot send the spool " + spool->file() +
            ", publishing straight to redis; its events wait for a later evt-emit",
        {{"error", s.message()}});
  }
}

// Where this run's events go: the publisher, unless the broker is down and there is a
// spool (then `down` says why).
struct Route {
  std::unique_ptr<EventPublisher> publisher;
  Status down;
};

// Opens the publisher and, with a usable spool, sends what it kept first. A failure to
// connect without a spool to fall back on ends the run: returned with a hint.
Status OpenRoute(const BrokerConfig& broker, const std::string& ns, const std::string& queue,
                 const PublisherOptions& po, Spool* spool, const Status& spool_problem,
                 Route* route) {
  Result<std::unique_ptr<EventPublisher>> publisher = OpenPublisher(broker, ns, queue, po);
  if (!publisher.ok()) {
    const Status& s = publisher.status();
    if (s.kind() == Status::Kind::kUnavailable && spool != nullptr) {
      route->down = s;
      return Status::Ok();
    }
    std::string hint;
    if (s.kind() == Status::Kind::kUnavailable) {
      hint = spool_problem.ok() ? "; nothing was published (--spool DIR keeps events while "
                                  "the broker cannot take them)"
                                : "; nothing was published, and the spool cannot be used: " +
                                      spool_problem.message();
    }
    return Status(s.kind(), s.message() + hint);
  }
  route->publisher = std::move(*publisher);
  if (!spool_problem.ok()) {
    Log(LogLevel::kWarn,
        "spool not usable, publishing straight to redis (events cannot be kept if redis goes "
        "down)",
        {{"error", spool_problem.message()}});
  } else if (spool != nullptr) {
    SendSpool(route->publisher.get(), spool, po.batch_events * po.batches_per_round, &route->down);
  }
  return Status::Ok();
}

// --stdin: reads and validates on this thread while rounds of `round` events are sent on
// another, in input order.
Status PublishStream(Delivery* delivery, int in_fd, const EmitOptions& o, std::size_t round,
                     EmitStats* stats) {
  Status read;
  Status sent;
  {
    BackgroundDelivery background(delivery);
    const EventSink send = [&](Event ev, std::uint64_t line, bool more) {
      background.Add(std::move(ev), line);
      return background.size() >= round || !more ? background.Send() : Status::Ok();
    };
    read = ReadEventStream(in_fd, o, stats, PacedSink(o, send));
    sent = background.Finish();
  }
  delivery->Summary();
  if (!sent.ok()) return sent;
  if (read.kind() == Status::Kind::kIOError) {
    return Status::IOError(read.message() + "; the events read before it were accepted");
  }
  return read;
}

}  // namespace

Status EmitToBroker(const BrokerConfig& broker, const std::string& ns, const std::string& queue,
                    const EmitOptions& o, int in_fd, int out_fd, EmitStats* stats) {
  if (Status s = ValidateEmitOptions(o, /*to_broker=*/true); !s.ok()) return s;
  const UnixMillis due_ms = DueTime(o);
  // Bad input is refused before anything is sent (exit 65 without touching Redis).
  Result<Event> one = Status::Internal("unset");
  if (!o.from_stdin) {
    one = BuildEventFromFlags(o, in_fd);
    if (!one.ok()) return one.status();
  }
  std::unique_ptr<Spool> spool;
  const Status spool_problem = OpenSpool(o, &spool);
  PublisherOptions po;
  po.group = o.group;
  po.outage_patience = o.wait_timeout;
  po.client_name = "evt-emit:" + DefaultConsumerName();
  Route route;
  if (Status s = OpenRoute(broker, ns, queue, po, spool.get(), spool_problem, &route); !s.ok()) {
    return s;
  }
  Delivery delivery(o, route.down.ok() ? route.publisher.get() : nullptr, spool.get(),
                    spool_problem, due_ms, out_fd, stats);
  if (!route.down.ok()) delivery.UseSpool(route.down);
  if (o.from_stdin) {
    return PublishStream(&delivery, in_fd, o, po.batch_events * po.batches_per_round, stats);
  }
  ++stats->lines;
  delivery.Add(std::move(*one), 0);
  Status s = delivery.Flush();
  delivery.Summary();
  return s;
}

}  // namespace evt
