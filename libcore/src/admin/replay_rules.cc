// The rules of a replayed copy (DESIGN.md: retry_count reset by replay; --force gives a
// done key a derived key) and the replay's summary line.
#include "evt/replay.h"
#include "evt/ulid.h"

namespace evt {

std::string DerivedKey(const std::string& key, const std::string& replay_id) {
  return key + "#replay-" + replay_id;
}

std::string NewReplayId() { return "rpl_" + NewEventId().substr(4); }

Result<Event> RewriteForReplay(const Json& event, const ReplayRewrite& rw) {
  if (!event.is_object()) return Status::InvalidArgument("not an event object");
  // MakeEvent reads a CloudEvent too, and returns the evt form.
  Result<Event> ev = MakeEvent(event);
  if (!ev.ok()) return ev.status();
  if (!rw.keep_retries) ev->set_retry_count(0);
  if (!rw.replay_id.empty()) ev->doc["replay_id"] = rw.replay_id;
  if (rw.derive_key) {
    const std::string key = DerivedKey(ev->idempotency_key(), rw.replay_id);
    if (key.size() > 255) {
      return Status::InvalidArgument("idempotency_key: the derived key " + key.substr(0, 40) +
                                     "... would be over 255 characters");
    }
    ev->doc["idempotency_key"] = key;
  }
  return ev;
}

std::string FormatReplaySummary(const ReplaySummary& s, const ReplayOptions& o) {
  std::string line = o.dry_run ? "dry run: would replay " : "replayed ";
  line += std::to_string(s.replayed) + ", skipped " + std::to_string(s.skipped) + ", failed " +
          std::to_string(s.failed) + ", replay id " + s.replay_id;
  if (s.forced > 0) {
    line += "; " + std::to_string(s.forced) + " done key(s) " + (o.dry_run ? "would run" : "run") +
            " again as KEY" + DerivedKey("", s.replay_id);
  }
  if (o.dry_run) line += "; nothing was changed";
  return line;
}

}  // namespace evt
