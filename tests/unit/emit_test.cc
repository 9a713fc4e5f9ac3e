#include "evt/emit.h"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "evt/log.h"
#include "temp_fd.h"

using evt::testing::FdWith;
using evt::testing::ReadFd;

namespace {

evt::EmitOptions OneEvent() {
  evt::EmitOptions o;
  o.type = "server.backup.requested";
  o.source = "cron@host";
  return o;
}

}  // namespace

TEST_CASE("flags build one defaulted event", "[emit]") {
  evt::EmitOptions o = OneEvent();
  o.key = "backup_srvA_2026-02-27";
  o.fields = {"server=srv-a", "retries:=3", "tags:=[\"a\",\"b\"]", "note=x=y"};
  auto ev = evt::BuildEventFromFlags(o, -1);
  REQUIRE(ev.ok());
  CHECK(ev->event_type() == "server.backup.requested");
  CHECK(ev->source() == "cron@host");
  CHECK(ev->idempotency_key() == "backup_srvA_2026-02-27");
  CHECK(ev->event_id().rfind("evt_", 0) == 0);
  CHECK(ev->correlation_id() == ev->event_id());
  const evt::Json& p = ev->doc["payload"];
  CHECK(p["server"] == "srv-a");
  CHECK(p["retries"] == 3);
  CHECK(p["tags"] == evt::Json::array({"a", "b"}));
  CHECK(p["note"] == "x=y");
}

TEST_CASE("the payload comes from JSON text, a file, or stdin, and fields override it", "[emit]") {
  evt::EmitOptions o = OneEvent();
  o.payload = R"({"a":1,"b":2})";
  o.fields = {"b=two"};
  auto ev = evt::BuildEventFromFlags(o, -1);
  REQUIRE(ev.ok());
  CHECK(ev->doc["payload"] == evt::Json{{"a", 1}, {"b", "two"}});

  char path[] = "/tmp/evt_payload_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::string text = R"({"from":"file"})";
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  o.fields.clear();
  o.payload = std::string("@") + path;
  ev = evt::BuildEventFromFlags(o, -1);
  REQUIRE(ev.ok());
  CHECK(ev->doc["payload"]["from"] == "file");
  ::unlink(path);

  o.payload = "-";
  int in = FdWith(R"({"from":"stdin"})");
  ev = evt::BuildEventFromFlags(o, in);
  REQUIRE(ev.ok());
  CHECK(ev->doc["payload"]["from"] == "stdin");
  ::close(in);
}

TEST_CASE("a bad payload or field says what is wrong", "[emit]") {
  evt::EmitOptions o = OneEvent();
  o.payload = "[1,2]";
  CHECK_THAT(evt::BuildEventFromFlags(o, -1).status().message(),
             Catch::Contains("must be a JSON object"));
  o.payload = "{nope";
  CHECK_THAT(evt::BuildEventFromFlags(o, -1).status().message(), Catch::Contains("not valid JSON"));
  o.payload = "@/nonexistent/payload.json";
  CHECK(evt::BuildEventFromFlags(o, -1).status().kind() == evt::Status::Kind::kNotFound);
  o.payload.clear();
  o.fields = {"novalue"};
  CHECK_THAT(evt::BuildEventFromFlags(o, -1).status().message(),
             Catch::Contains("expected KEY=VALUE or KEY:=JSON"));
  o.fields = {"n:={bad"};
  CHECK_THAT(evt::BuildEventFromFlags(o, -1).status().message(), Catch::Contains("not valid JSON"));
  o.fields.clear();
  o.type = "Not A Type";
  CHECK_THAT(evt::BuildEventFromFlags(o, -1).status().message(), Catch::Contains("event_type"));
}

TEST_CASE("a payload or field too deep for the event is refused", "[emit]") {
  // A reader (evt-work) accepts 128 levels in all; the event object is the first of them.
  auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  evt::EmitOptions o = OneEvent();
  o.payload = R"({"a":)" + nested(126) + "}";
  REQUIRE(evt::BuildEventFromFlags(o, -1).ok());
  o.payload = R"({"a":)" + nested(127) + "}";
  evt::Result<evt::Event> deep = evt::BuildEventFromFlags(o, -1);
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(deep.status().message() ==
        "payload: must nest at most 127 levels (an event nests at most 128)");
  o.payload.clear();
  o.fields = {"k:=" + nested(126)};
  REQUIRE(evt::BuildEventFromFlags(o, -1).ok());
  o.fields = {"k:=" + nested(127)};
  CHECK(evt::BuildEventFromFlags(o, -1).status().message() ==
        "payload: must nest at most 127 levels (an event nests at most 128)");
}

TEST_CASE("a --payload that is a file's name and not JSON hints at @FILE", "[emit]") {
  char path[] = "/tmp/evt_payload_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  evt::EmitOptions o = OneEvent();
  o.payload = path;
  evt::Status s = evt::BuildEventFromFlags(o, -1).status();
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK(s.message() == std::string("--payload ") + path +
                           ": not JSON, but a file of that name exists: to read it, write "
                           "--payload @" +
                           path);
  ::unlink(path);
  // Not a file: only the JSON problem.
  s = evt::BuildEventFromFlags(o, -1).status();
  CHECK(s.kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(s.message() == "--payload: not valid JSON");
}

TEST_CASE("stdin mode cannot be mixed with one-event flags, and one event needs a type", "[emit]") {
  evt::EmitOptions o;
  CHECK(evt::ValidateEmitOptions(o).kind() == evt::Status::Kind::kUsage);
  o.from_stdin = true;
  CHECK(evt::ValidateEmitOptions(o).ok());
  o.type = "a.b";
  CHECK_THAT(evt::ValidateEmitOptions(o).message(), Catch::Contains("--stdin"));
}

TEST_CASE("a stream keeps its good lines in order and counts the bad ones", "[emit]") {
  evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
  std::string input =
      R"({"event_type":"a.one","event_id":"e1"})"
      "\n\nnot json\n"
      R"({"event_type":"a.two","event_id":"e2","occurred_at":"2026-02-27T05:55:00+01:00"})"
      "\n" +
      std::string(3000, 'x') + "\n" +
      R"({"specversion":"1.0","id":"e3","type":"a.three","source":"s"})";
  int in = FdWith(input);
  int out = ::memfd_create("emit_out", MFD_CLOEXEC);
  evt::EmitOptions o;
  o.from_stdin = true;
  o.max_event_bytes = 1024;
  evt::EmitStats stats;
  evt::Status s = evt::EmitStream(in, out, o, &stats);
  CHECK(s.kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(s.message() == "2 of 5 lines rejected");
  CHECK(stats.written == 3);
  std::string text = ReadFd(out);
  auto p1 = text.find("\"e1\"");
  auto p2 = text.find("\"e2\"");
  auto p3 = text.find("\"e3\"");
  REQUIRE(p1 != std::string::npos);
  REQUIRE(p2 != std::string::npos);
  REQUIRE(p3 != std::string::npos);
  CHECK(p1 < p2);
  CHECK(p2 < p3);
  CHECK_THAT(text, Catch::Contains(R"("occurred_at":"2026-02-27T04:55:00.000Z")"));
  ::close(in);
  ::close(out);
}

TEST_CASE("emit: delivery options need a broker and agree with each other", "[emit]") {
  evt::EmitOptions o;
  o.type = "a.b";
  o.spool_dir = "/tmp/spool";
  CHECK(evt::ValidateEmitOptions(o, /*to_broker=*/false).kind() == evt::Status::Kind::kUsage);
  CHECK(evt::ValidateEmitOptions(o, /*to_broker=*/true).ok());
  o.delay = evt::Millis(60000);
  o.at = "2030-01-01T00:00:00Z";
  CHECK_THAT(evt::ValidateEmitOptions(o, true).message(), Catch::Contains("--delay and --at"));
  o.delay = evt::Millis(0);
  CHECK(evt::ValidateEmitOptions(o, true).ok());
  o.at = "tomorrow";
  CHECK_THAT(evt::ValidateEmitOptions(o, true).message(), Catch::Contains("--at tomorrow"));
  o.at.clear();
  o.on_full = "drop";
  CHECK(evt::ValidateEmitOptions(o, true).kind() == evt::Status::Kind::kUsage);
  o.on_full = "wait";
  o.max_depth = -1;
  CHECK(evt::ValidateEmitOptions(o, true).kind() == evt::Status::Kind::kUsage);
}
