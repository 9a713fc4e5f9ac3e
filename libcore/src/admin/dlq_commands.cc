// evt-dlq list, show, stats, export and purge over a QueueAdmin.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "evt/dlq.h"
#include "evt/ndjson.h"
#include "evt/ulid.h"

namespace evt {
namespace {

Status Emit(LineWriter& out, std::string_view line) {
  if (Status s = out.WriteLine(line); !s.ok()) return Status::IOError("stdout: " + s.message());
  return Status::Ok();
}

Status Done(LineWriter& out) {
  if (Status s = out.Flush(); !s.ok()) return Status::IOError("stdout: " + s.message());
  return Status::Ok();
}

std::string Age(UnixMillis now, UnixMillis then) {
  const long long s = std::max<long long>(0, (now - then) / 1000);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string FirstLine(const std::string& text, std::size_t max = 120) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}

std::string Or(const std::string& s, const char* dash = "-") { return s.empty() ? dash : s; }

// Rows of cells, written with each column as wide as its widest cell (the last one free).
Status WriteTable(LineWriter& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i + 1 < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    if (Status s = Emit(out, line); !s.ok()) return s;
  }
  return Status::Ok();
}

std::string DeadReasonOf(const DeadLetterRecord& r) {
  return r.plain_event ? "-" : std::string(DeadReasonName(r.letter.reason));
}

}  // namespace

Status DlqList(QueueAdmin& admin, const RecordFilter& filter, UnixMillis now, bool header,
               int out_fd) {
  Result<std::vector<DeadLetterRecord>> list = admin.ListDeadLetters(filter);
  if (!list.ok()) return list.status();
  std::vector<std::vector<std::string>> rows;
  if (header) rows.push_back({"ID", "TYPE", "REASON", "CATEGORY", "ATTEMPTS", "AGE", "ERROR"});
  for (const DeadLetterRecord& r : *list) {
    rows.push_back({r.id, Or(r.event_type()), DeadReasonOf(r),
                    Or(std::string(CategoryName(r.letter.category))),
                    std::to_string(r.letter.attempts), r.time() > 0 ? Age(now, r.time()) : "-",
                    FirstLine(r.letter.error.empty() ? "-" : r.letter.error)});
  }
  LineWriter out(out_fd);
  if (Status s = WriteTable(out, rows); !s.ok()) return s;
  return Done(out);
}

Status DlqShow(QueueAdmin& admin, const std::string& id, int out_fd) {
  RecordFilter f;
  f.ids = {id};
  Result<std::vector<DeadLetterRecord>> list = admin.ListDeadLetters(f);
  if (!list.ok()) return list.status();
  if (list->empty()) return Status::NotFound("no dead letter " + id + " in " + admin.Describe());
  LineWriter out(out_fd);
  for (const DeadLetterRecord& r : *list) {
    const DeadLetter& d = r.letter;
    std::vector<std::vector<std::string>> rows = {
        {"id:", r.id},
        {"event_id:", Or(r.event_id())},
        {"event_type:", Or(r.event_type())},
        {"reason:", DeadReasonOf(r)},
        {"category:", Or(std::string(CategoryName(d.category)))},
        {"attempts:", std::to_string(d.attempts)},
        {"failed_at:", d.failed_at > 0 ? FormatRfc3339Millis(d.failed_at) : "-"},
        {"consumer:", Or(d.consumer)},
        {"stream_id:", Or(r.stream_id)},
        {"error:", Or(d.error)}};
    if (Status s = WriteTable(out, rows); !s.ok()) return s;
    if (Status s = Emit(out, "event:"); !s.ok()) return s;
    std::string body = d.event.is_null()
                           ? "(not an event) " + d.raw
                           : d.event.dump(2, ' ', false, Json::error_handler_t::replace);
    if (Status s = Emit(out, body); !s.ok()) return s;
    if (&r != &list->back()) {
      if (Status s = Emit(out, ""); !s.ok()) return s;
    }
  }
  return Done(out);
}

Status DlqStats(QueueAdmin& admin, const RecordFilter& filter, int out_fd) {
  Result<std::vector<DeadLetterRecord>> list = admin.ListDeadLetters(filter);
  if (!list.ok()) return list.status();
  std::map<std::string, std::size_t> by_type, by_reason, by_category;
  for (const DeadLetterRecord& r : *list) {
    ++by_type[Or(r.event_type())];
    ++by_reason[DeadReasonOf(r)];
    ++by_category[Or(std::string(CategoryName(r.letter.category)))];
  }
  std::vector<std::vector<std::string>> rows = {{"total", std::to_string(list->size())}};
  const auto section = [&](const char* name, const std::map<std::string, std::size_t>& counts) {
    std::vector<std::pair<std::string, std::size_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [key, n] : sorted) rows.push_back({name, key, std::to_string(n)});
  };
  section("type", by_type);
  section("reason", by_reason);
  section("category", by_category);
  LineWriter out(out_fd);
  if (Status s = WriteTable(out, rows); !s.ok()) return s;
  return Done(out);
}

Status DlqExport(QueueAdmin& admin, const RecordFilter& filter, int out_fd) {
  Result<std::vector<DeadLetterRecord>> list = admin.ListDeadLetters(filter);
  if (!list.ok()) return list.status();
  LineWriter out(out_fd);
  for (const DeadLetterRecord& r : *list) {
    std::string line = r.plain_event
                           ? r.letter.event.dump(-1, ' ', false, Json::error_handler_t::replace)
                           : SerializeDeadLetter(r.letter);
    if (Status s = Emit(out, line); !s.ok()) return s;
  }
  return Done(out);
}

Status DlqPurge(QueueAdmin& admin, const RecordFilter& filter, const PurgeOptions& o,
                std::int64_t* purged) {
  *purged = 0;
  Result<std::vector<DeadLetterRecord>> list = admin.ListDeadLetters(filter);
  if (!list.ok()) return list.status();
  if (list->empty()) return Status::Ok();
  const std::string what = std::to_string(list->size()) + " dead letter(s) from " +
                           admin.Describe() + " (filters: " + o.filters + ")";
  if (!o.yes) {
    if (!o.confirm) {
      return Status::Usage("refusing to purge " + what +
                           " without --yes: standard input is not a terminal");
    }
    if (!o.confirm("Purge " + what + "? [y/N] ")) return Status::Ok();
  }
  std::vector<std::string> ids;
  for (const DeadLetterRecord& r : *list) ids.push_back(r.id);
  Result<std::int64_t> n = admin.PurgeDeadLetters(ids);
  if (!n.ok()) return n.status();
  *purged = *n;
  AuditRecord a;
  a.action = "purge";
  a.id = o.purge_id.empty() ? "prg_" + NewEventId().substr(4) : o.purge_id;
  a.user = CurrentUser();
  a.host = HostName();
  a.at = NowUnixMillis();
  a.source = admin.Describe();
  a.filters = o.filters;
  a.count = *n;
  if (Status s = admin.AppendAudit(a); !s.ok()) {
    return Status(s.kind(),
                  "purged " + std::to_string(*n) +
                      " dead letter(s) but could not write the audit record: " + s.message());
  }
  return Status::Ok();
}

std::function<bool(const std::string&)> TerminalConfirm(int in_fd, int err_fd) {
  if (::isatty(in_fd) != 1) return {};
  return [in_fd, err_fd](const std::string& question) {
    std::string q = question;
    while (!q.empty()) {
      ssize_t n = ::write(err_fd, q.data(), q.size());
      if (n <= 0) break;
      q.erase(0, static_cast<std::size_t>(n));
    }
    std::string answer;
    char c;
    while (::read(in_fd, &c, 1) == 1 && c != '\n') answer.push_back(c);
    return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES";
  };
}

}  // namespace evt
