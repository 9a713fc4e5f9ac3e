#include "evt/emit.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "evt/log.h"
#include "evt/ndjson.h"

namespace evt {
namespace {

Result<std::string> ReadAll(int fd, const std::string& name, std::size_t limit) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot read " + name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) {
      return Status::InvalidArgument(name + " is larger than --max-event-bytes " +
                                     std::to_string(limit) +
                                     " (keep the payload small: pass references to large blobs)");
    }
  }
  return out;
}

Result<std::string> PayloadText(const EmitOptions& o, int stdin_fd) {
  if (o.payload == "-") return ReadAll(stdin_fd, "stdin", o.max_event_bytes);
  if (!o.payload.empty() && o.payload[0] == '@') {
    std::string path = o.payload.substr(1);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      std::string msg = "--payload @" + path + ": " + std::strerror(err);
      return err == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
    }
    Result<std::string> text = ReadAll(fd, path, o.max_event_bytes);
    ::close(fd);
    return text;
  }
  return o.payload;
}

// True when reading `fd` would not block now (data, end of file, or an error is waiting).
bool InputReady(int fd) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, 0);
  } while (n < 0 && errno == EINTR);
  return n != 0;
}

Json ParseJson(const std::string& text, bool* ok) {
  Result<Json> j = evt::ParseJson(text);  // linear on wide objects, unlike Json::parse
  *ok = j.ok();
  return j.ok() ? std::move(*j) : Json();
}

}  // namespace

Status ValidateEmitOptions(const EmitOptions& o, bool to_broker) {
  if (o.from_stdin) {
    if (!o.type.empty() || !o.key.empty() || !o.id.empty() || !o.correlation_id.empty() ||
        !o.payload.empty() || !o.fields.empty()) {
      return Status::Usage(
          "--stdin reads whole events; --type, --key, --id, --correlation-id, --payload and "
          "--field describe one event and cannot be combined with it");
    }
  } else if (o.type.empty()) {
    return Status::Usage("--type is required (or --stdin to read NDJSON events)");
  }
  if (!to_broker &&
      (o.delay.count() > 0 || !o.at.empty() || o.max_depth > 0 || !o.spool_dir.empty())) {
    return Status::Usage(
        "--delay, --at, --max-depth and --spool need a broker (--broker redis://...); "
        "on stdout there is no queue to delay, bound or spool for");
  }
  if (o.delay.count() > 0 && !o.at.empty()) {
    return Status::Usage("--delay and --at both set a due time: give one of them");
  }
  if (!o.at.empty()) {
    if (Result<UnixMillis> t = ParseRfc3339(o.at); !t.ok()) {
      return Status::Usage("--at " + o.at + ": " + t.status().message());
    }
  }
  if (o.max_depth < 0) return Status::Usage("--max-depth must be 0 (no limit) or more");
  if (o.on_full != "wait" && o.on_full != "fail") {
    return Status::Usage("--on-full " + o.on_full + ": expected wait or fail");
  }
  return Status::Ok();
}

Result<Event> BuildEventFromFlags(const EmitOptions& o, int stdin_fd) {
  Json payload = Json::object();
  if (!o.payload.empty()) {
    Result<std::string> text = PayloadText(o, stdin_fd);
    if (!text.ok()) return text.status();
    bool ok;
    payload = ParseJson(*text, &ok);
    if (!ok) {
      // `--payload /path.json` meant `--payload @/path.json`: a usage mistake, said so.
      struct stat st {};
      if (o.payload != "-" && o.payload[0] != '@' && ::stat(o.payload.c_str(), &st) == 0 &&
          !S_ISDIR(st.st_mode)) {
        return Status::Usage("--payload " + o.payload +
                             ": not JSON, but a file of that name exists: to read it, write "
                             "--payload @" +
                             o.payload);
      }
      return Status::InvalidArgument("--payload: not valid JSON");
    }
    if (!payload.is_object()) return Status::InvalidArgument("--payload: must be a JSON object");
  }
  for (const std::string& f : o.fields) {
    std::size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0 || (eq == 1 && f[0] == ':')) {
      return Status::InvalidArgument("--field " + f + ": expected KEY=VALUE or KEY:=JSON");
    }
    if (f[eq - 1] == ':') {
      std::string key = f.substr(0, eq - 1);
      bool ok;
      Json value = ParseJson(f.substr(eq + 1), &ok);
      if (!ok) {
        return Status::InvalidArgument("--field " + key + ":=...: the value is not valid JSON");
      }
      payload[key] = std::move(value);
    } else {
      payload[f.substr(0, eq)] = f.substr(eq + 1);
    }
  }
  Json doc = Json::object();
  doc["event_type"] = o.type;
  if (!o.id.empty()) doc["event_id"] = o.id;
  if (!o.source.empty()) doc["source"] = o.source;
  if (!o.key.empty()) doc["idempotency_key"] = o.key;
  if (!o.correlation_id.empty()) doc["correlation_id"] = o.correlation_id;
  doc["payload"] = std::move(payload);
  EventDefaults defaults;
  defaults.source = o.source;
  defaults.max_event_bytes = o.max_event_bytes;
  return MakeEvent(std::move(doc), defaults);
}

Status ReadEventStream(int in_fd, const EmitOptions& o, EmitStats* stats, const EventSink& sink) {
  LineReader reader(in_fd, o.max_event_bytes);
  EventDefaults defaults;
  defaults.source = o.source;
  defaults.max_event_bytes = o.max_event_bytes;
  Line line;
  while (true) {
    LineReader::State st = reader.Next(&line);
    if (st == LineReader::State::kWouldBlock) continue;
    if (st == LineReader::State::kEof) break;
    if (st == LineReader::State::kError) return reader.status();
    ++stats->lines;
    if (line.too_long) {
      ++stats->rejected;
      Log(LogLevel::kError,
          "line " + std::to_string(line.number) + ": line is " + std::to_string(line.length) +
              " bytes, more than --max-event-bytes " + std::to_string(o.max_event_bytes));
      continue;
    }
    Result<Event> ev = ParseEvent(line.text, defaults);
    if (!ev.ok()) {
      ++stats->rejected;
      Log(LogLevel::kError, "line " + std::to_string(line.number) + ": " + ev.status().message());
      continue;
    }
    const bool more_ready = reader.HasBufferedLine() || InputReady(in_fd);
    if (Status s = sink(std::move(*ev), line.number, more_ready); !s.ok()) return s;
  }
  if (stats->rejected > 0) {
    return Status::InvalidArgument(std::to_string(stats->rejected) + " of " +
                                   std::to_string(stats->lines) + " lines rejected");
  }
  return Status::Ok();
}

Status EmitStream(int in_fd, int out_fd, const EmitOptions& o, EmitStats* stats) {
  LineWriter writer(out_fd);
  const EventSink write = [&](Event ev, std::uint64_t, bool more) {
    Status s = writer.WriteLine(Serialize(ev, o.format));
    if (s.ok() && !more && o.rate > 0) s = writer.Flush();  // before a pause of --rate
    if (!s.ok()) return Status::IOError("stdout: " + s.message());
    ++stats->written;
    return Status::Ok();
  };
  Status read = ReadEventStream(in_fd, o, stats, PacedSink(o, write));
  Status s = writer.Flush();  // keep what was good, also when reading failed
  if (read.kind() == Status::Kind::kIOError) return read;
  if (!s.ok()) return Status::IOError("stdout: " + s.message());
  return read;
}

}  // namespace evt
