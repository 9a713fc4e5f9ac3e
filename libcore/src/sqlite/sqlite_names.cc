#include "sqlite/sqlite_names.h"

#include <charconv>

namespace evt {

Result<std::int64_t> SqliteQueueId(SqliteDb& db, const std::string& ns, const std::string& queue) {
  std::int64_t id = 0;
  Status s = db.Write([&] {
    {
      Query q = db.Prepare("SELECT id FROM queues WHERE ns = ?1 AND name = ?2");
      q.Bind(ns).Bind(queue);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (*row) {
        id = q.Int(0);
        return Status::Ok();
      }
    }
    Query q = db.Prepare("INSERT INTO queues(ns, name) VALUES(?1, ?2) RETURNING id");
    q.Bind(ns).Bind(queue);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Internal(db.options().what + ": no id for queue " + queue);
    id = q.Int(0);
    return q.Run();
  });
  if (!s.ok()) return s;
  return id;
}

std::string SqliteEntryId(std::int64_t added_ms, std::int64_t id) {
  return std::to_string(added_ms) + "-" + std::to_string(id);
}

std::int64_t SqliteRowId(const std::string& entry_id) {
  const std::size_t dash = entry_id.rfind('-');
  const std::string digits = dash == std::string::npos ? entry_id : entry_id.substr(dash + 1);
  std::int64_t id = -1;
  const char* end = digits.data() + digits.size();
  auto r = std::from_chars(digits.data(), end, id);
  if (digits.empty() || r.ec != std::errc() || r.ptr != end || id < 0) return -1;
  return id;
}

SqliteOptions SqliteOptionsFor(const BrokerConfig& broker, Millis busy_timeout,
                               Millis backoff_max) {
  SqliteOptions o;
  o.path = broker.path;
  o.sync_full = broker.sync_full;
  o.busy_timeout = busy_timeout;
  o.backoff_max = backoff_max;
  o.what = broker.redacted;
  return o;
}

}  // namespace evt
