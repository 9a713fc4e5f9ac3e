// evt-replay's run: select, plan (rewrite, look up done keys), then write each event
// paced, moving dead letters atomically, and record the run in the audit stream.
#include "evt/replay.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "evt/log.h"
#include "evt/ndjson.h"
#include "evt/rate.h"
#include "evt/signals.h"

namespace evt {
namespace {

struct Planned {
  enum What { kReplay, kForce, kSkipDone, kSkipNotEvent, kInvalid };
  std::string id;        // the record's id in the source
  std::string event_id;  // of the original event
  std::string type;
  std::string key;   // the original idempotency key
  std::string json;  // the replayed copy
  What what = kReplay;
  std::string why;  // kInvalid, kSkipNotEvent
};

struct Record {
  std::string id;
  Json event;  // null: not an event
};

std::string Text(const Json& j, const char* name) {
  auto it = j.is_object() ? j.find(name) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::vector<Record>> Select(QueueAdmin& source, const RecordFilter& filter,
                                   const ReplayOptions& o) {
  std::vector<Record> out;
  if (o.source == ReplayOptions::Source::kStream) {
    // The stream holds an event again for each retry and each earlier replay: one copy of
    // each event_id (its first) is what a replay of history means.
    Result<std::vector<HistoryRecord>> h = source.ReadHistory(filter);
    if (!h.ok()) return h.status();
    std::set<std::string> seen;
    for (HistoryRecord& r : *h) {
      const std::string id = Text(r.event, "event_id");
      if (!id.empty() && !seen.insert(id).second) continue;
      out.push_back({r.id, std::move(r.event)});
    }
    return out;
  }
  Result<std::vector<DeadLetterRecord>> d = source.ListDeadLetters(filter);
  if (!d.ok()) return d.status();
  for (DeadLetterRecord& r : *d) out.push_back({r.id, std::move(r.letter.event)});
  return out;
}

// Rewrites every record and sorts out what to do with each; needs the done keys.
Result<std::vector<Planned>> Plan(const std::vector<Record>& records, QueueAdmin& source,
                                  QueueAdmin* target, const ReplayOptions& o,
                                  const std::string& replay_id) {
  std::vector<Planned> plan;
  std::vector<std::string> keys;
  std::vector<std::size_t> keyed;  // plan index of each key
  for (const Record& r : records) {
    Planned p;
    p.id = r.id;
    p.event_id = Text(r.event, "event_id");
    p.type = Text(r.event, "event_type");
    if (r.event.is_null()) {
      p.what = Planned::kSkipNotEvent;
      p.why = "not an event (its text is not a JSON object)";
    } else if (Result<Event> ev = RewriteForReplay(r.event, {replay_id, o.keep_retries, false});
               !ev.ok()) {
      p.what = Planned::kInvalid;
      p.why = ev.status().message();
    } else {
      p.key = ev->idempotency_key();
      p.json = Serialize(*ev);
      keys.push_back(p.key);
      keyed.push_back(plan.size());
    }
    plan.push_back(std::move(p));
  }
  Result<std::vector<bool>> done = ReplayDoneKeys(source, target, o.other_store, keys);
  if (!done.ok()) return done.status();
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    if (!(*done)[i]) continue;
    Planned& p = plan[keyed[i]];
    if (!o.force) {
      p.what = Planned::kSkipDone;
      continue;
    }
    p.what = Planned::kForce;
    p.json = Serialize(*RewriteForReplay(records[keyed[i]].event,
                                         {replay_id, o.keep_retries, /*derive_key=*/true}));
  }
  return plan;
}

Status PrintPlan(const std::vector<Planned>& plan, const std::string& replay_id, int out_fd,
                 ReplaySummary* s) {
  LineWriter out(out_fd);
  for (const Planned& p : plan) {
    std::string line;
    switch (p.what) {
      case Planned::kReplay:
        line = "replay  " + p.id + "  " + p.event_id + "  " + p.type;
        ++s->replayed;
        break;
      case Planned::kForce:
        line = "force   " + p.id + "  " + p.event_id + "  " + p.type + "  key " + p.key +
               " is done: runs again as " + DerivedKey(p.key, replay_id);
        ++s->replayed;
        ++s->forced;
        break;
      case Planned::kSkipDone:
        line = "skip    " + p.id + "  " + p.event_id + "  " + p.type + "  key " + p.key +
               " is done: a worker would skip it (--force runs it again)";
        ++s->skipped;
        break;
      case Planned::kSkipNotEvent:
        line = "skip    " + p.id + "  " + p.why;
        ++s->skipped;
        break;
      case Planned::kInvalid:
        line = "fail    " + p.id + "  " + p.event_id + "  " + p.why;
        ++s->failed;
        break;
    }
    if (Status w = out.WriteLine(line); !w.ok()) return Status::IOError("stdout: " + w.message());
  }
  if (Status w = out.Flush(); !w.ok()) return Status::IOError("stdout: " + w.message());
  return Status::Ok();
}

// "  replayed 120/500  50.0/s  8s left" on stderr, redrawn in place at most 4 times a
// second. The rate shown is the one measured (after a second); the time left counts on the
// --rate asked for, when there is one.
class Progress {
 public:
  Progress(bool on, Clock& clock, std::int64_t total, double rate)
      : on_(on), clock_(clock), total_(total), rate_(rate), start_(clock.SteadyMillis()) {}
  ~Progress() { Clear(); }

  void Update(std::int64_t done) {
    if (!on_) return;
    const std::int64_t now = clock_.SteadyMillis();
    if (drawn_ && now - last_ < 250 && done < total_) return;
    last_ = now;
    drawn_ = true;
    const double secs = (now - start_) / 1000.0;
    const double measured = secs >= 1.0 ? done / secs : 0.0;
    const double pace = rate_ > 0 ? rate_ : measured;
    std::string rate = measured > 0 ? Fixed1(measured) + "/s" : "-/s";
    std::string left =
        pace > 0
            ? std::to_string(static_cast<long long>(std::ceil((total_ - done) / pace))) + "s left"
            : "";
    std::string line = "\r  replayed " + std::to_string(done) + "/" + std::to_string(total_) +
                       "  " + rate + "  " + left + "\033[K";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  }
  void Clear() {
    if (!drawn_) return;
    drawn_ = false;
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, "\r\033[K", 4);
  }

 private:
  static std::string Fixed1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }

  bool on_;
  Clock& clock_;
  std::int64_t total_;
  double rate_;
  std::int64_t start_;
  std::int64_t last_ = 0;
  bool drawn_ = false;
};

void Audit(QueueAdmin& source, QueueAdmin* target, const ReplayOptions& o, const ReplaySummary& s) {
  AuditRecord a;
  a.action = "replay";
  a.id = s.replay_id;
  a.user = CurrentUser();
  a.host = HostName();
  a.at = NowUnixMillis();
  a.source = o.source_name;
  a.target = o.to_stdout ? "stdout" : "queue:" + (o.to_queue.empty() ? o.source_queue : o.to_queue);
  if (!o.to_stdout && o.other_store) a.target = o.target_store + " " + a.target;
  a.filters = o.filters;
  a.count = s.replayed;
  a.skipped = s.skipped;
  a.failed = s.failed;
  const auto note = [&](bool on, const char* flag) {
    if (on) a.note += (a.note.empty() ? "" : " ") + std::string(flag);
  };
  note(o.force, "--force");
  note(o.keep_retries, "--keep-retries");
  note(o.keep, "--keep");
  std::vector<QueueAdmin*> admins = {&source};
  if (target != nullptr && target != &source) admins.push_back(target);
  for (QueueAdmin* admin : admins) {
    if (Status st = admin->AppendAudit(a); !st.ok()) {
      Log(LogLevel::kWarn, "could not write the audit record of replay " + s.replay_id,
          {{"error", st.message()}});
    }
  }
}

// What became of one planned event, and the store failure that stops the run.
struct Written {
  enum What { kReplayed, kSkipped, kFailed };
  What result = kReplayed;
  Status status;
};

// A dead letter copied into another store leaves its source by a second step: a crash in
// between leaves it in place, and a rerun copies it again, which the idempotency key
// makes harmless (a worker acknowledges the second copy as a duplicate).
Written CopyDeadLetterAcross(QueueAdmin& source, QueueAdmin& target, const Planned& p, bool keep) {
  if (Status st = target.Enqueue(p.json); !st.ok()) return {Written::kFailed, st};
  if (keep) return {};
  Result<std::int64_t> purged = source.PurgeDeadLetters({p.id});
  if (!purged.ok()) {
    return {Written::kReplayed,
            Status(purged.status().kind(),
                   "dead letter " + p.id + " was copied but is still in the source (a rerun " +
                       "copies it again, harmlessly: same idempotency key): " +
                       purged.status().message())};
  }
  if (*purged == 0) {
    Log(LogLevel::kWarn, "dead letter " + p.id +
                             " was gone from the source when its copy was written (replayed "
                             "or purged meanwhile); a second copy runs as a duplicate");
  }
  return {};
}

Written WriteOne(QueueAdmin& source, QueueAdmin* target, const Planned& p, const ReplayOptions& o,
                 const std::string& to_queue, LineWriter& out) {
  if (o.to_stdout) {
    Status st = out.WriteLine(p.json);
    if (!st.ok()) return {Written::kFailed, Status::IOError("stdout: " + st.message())};
    return {};
  }
  if (o.source != ReplayOptions::Source::kDeadLetters) {
    Status st = target->Enqueue(p.json);
    return {st.ok() ? Written::kReplayed : Written::kFailed, st};
  }
  if (o.other_store) return CopyDeadLetterAcross(source, *target, p, o.keep);
  Result<bool> moved = source.MoveDeadLetter(p.id, p.json, to_queue, o.keep);
  if (!moved.ok()) return {Written::kFailed, moved.status()};
  return {*moved ? Written::kReplayed : Written::kSkipped, Status::Ok()};
}

// Writes the planned events, paced; stops at the first store failure.
Status Execute(QueueAdmin& source, QueueAdmin* target, const std::vector<Planned>& plan,
               const ReplayOptions& o, Clock& clock, int out_fd, ReplaySummary* s) {
  std::int64_t to_write = 0;
  for (const Planned& p : plan) {
    if (p.what == Planned::kReplay || p.what == Planned::kForce) ++to_write;
    if (p.what == Planned::kSkipDone || p.what == Planned::kSkipNotEvent) ++s->skipped;
    if (p.what == Planned::kInvalid) {
      ++s->failed;
      Log(LogLevel::kWarn, p.id + ": cannot replay: " + p.why);
    }
  }
  std::unique_ptr<TokenBucket> bucket;
  if (o.rate > 0) bucket = std::make_unique<TokenBucket>(clock, o.rate, 1.0);
  const std::string to_queue = o.to_queue.empty() ? o.source_queue : o.to_queue;
  LineWriter out(out_fd);
  Progress progress(o.progress, clock, to_write, o.rate);
  for (const Planned& p : plan) {
    if (p.what != Planned::kReplay && p.what != Planned::kForce) continue;
    if (bucket && bucket->Empty()) {
      if (Status w = out.Flush(); !w.ok()) return Status::IOError("stdout: " + w.message());
    }
    if (StopRequested() || (bucket && !bucket->Acquire(StopRequested))) {
      return Status::TryAgain("interrupted after " + std::to_string(s->replayed) + " of " +
                              std::to_string(to_write) + " events; run it again for the rest");
    }
    const Written written = WriteOne(source, target, p, o, to_queue, out);
    if (written.result == Written::kSkipped) ++s->skipped;  // replayed or purged meanwhile
    if (written.result == Written::kFailed) ++s->failed;
    if (written.result == Written::kReplayed) {
      ++s->replayed;
      if (p.what == Planned::kForce) ++s->forced;
      if (!o.to_stdout) {
        if (Status w = out.WriteLine(p.event_id); !w.ok()) {
          return Status::IOError("stdout: " + w.message());
        }
      }
      progress.Update(s->replayed);
    }
    if (!written.status.ok()) {
      return Status(written.status.kind(),
                    "stopped after replaying " + std::to_string(s->replayed) + " of " +
                        std::to_string(to_write) + " events: " + written.status.message());
    }
  }
  if (Status w = out.Flush(); !w.ok()) return Status::IOError("stdout: " + w.message());
  return Status::Ok();
}

}  // namespace

Result<std::vector<bool>> ReplayDoneKeys(QueueAdmin& source, QueueAdmin* target, bool other_store,
                                         const std::vector<std::string>& keys) {
  Result<std::vector<bool>> done = (target != nullptr ? *target : source).DoneKeys(keys);
  if (!done.ok() || !other_store || target == nullptr || target == &source) return done;
  Result<std::vector<bool>> at_source = source.DoneKeys(keys);
  if (!at_source.ok()) return at_source.status();
  for (std::size_t i = 0; i < done->size() && i < at_source->size(); ++i) {
    if ((*at_source)[i]) (*done)[i] = true;
  }
  return done;
}

Status RunReplay(QueueAdmin& source, QueueAdmin* target, const RecordFilter& filter,
                 const ReplayOptions& o, Clock& clock, int out_fd, ReplaySummary* s) {
  *s = ReplaySummary();
  s->replay_id = o.replay_id.empty() ? NewReplayId() : o.replay_id;
  if (!o.to_stdout && target == nullptr) {
    return Status::Usage("no target: give --to-queue with a broker, or --to - for stdout");
  }
  Result<std::vector<Record>> records = Select(source, filter, o);
  if (!records.ok()) return records.status();
  s->selected = static_cast<std::int64_t>(records->size());
  Result<std::vector<Planned>> plan = Plan(*records, source, target, o, s->replay_id);
  if (!plan.ok()) return plan.status();
  if (o.dry_run) return PrintPlan(*plan, s->replay_id, out_fd, s);
  Status st = Execute(source, target, *plan, o, clock, out_fd, s);
  Audit(source, target, o, *s);
  if (st.ok() && s->failed > 0) {
    return Status::InvalidArgument(std::to_string(s->failed) +
                                   " record(s) could not be replayed (see the messages above)");
  }
  return st;
}

}  // namespace evt
