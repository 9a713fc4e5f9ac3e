#include "evt/log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "temp_fd.h"

namespace {

// Runs `fn` with stderr sent to a memfd and returns what it wrote.
template <typename Fn>
std::string CaptureStderr(Fn fn) {
  int capture = evt::testing::FdWith("", "stderr");
  int saved = ::dup(STDERR_FILENO);
  ::dup2(capture, STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out = evt::testing::ReadFd(capture);
  ::close(capture);
  return out;
}

}  // namespace

TEST_CASE("text log lines start with the tool and level and quote only what needs it", "[log]") {
  std::string out = CaptureStderr([] {
    evt::InitLogging({"evt-test", evt::LogFormat::kText, evt::LogLevel::kInfo});
    evt::LogEvent(evt::LogLevel::kWarn, "attempt failed", {"evt_1", "key 1", "a.b", "h:1", 2},
                  {{"duration_ms", 12}, {"error", "exit 3: \"bad\"\nnext"}});
  });
  CHECK(out ==
        "evt-test: warn: attempt failed event_id=evt_1 idempotency_key=\"key 1\" "
        "event_type=a.b consumer=h:1 attempt=2 correlation_id=evt_1 duration_ms=12 "
        "error=\"exit 3: \\\"bad\\\"\\nnext\"\n");
}

TEST_CASE("json log lines are one object with the fields", "[log]") {
  std::string out = CaptureStderr([] {
    evt::InitLogging({"evt-test", evt::LogFormat::kJson, evt::LogLevel::kInfo});
    evt::Log(evt::LogLevel::kError, "dead letter", {{"event_id", "evt_2"}, {"attempt", 3}});
  });
  REQUIRE(out.back() == '\n');
  evt::Json j = evt::Json::parse(out);
  CHECK(j["level"] == "error");
  CHECK(j["tool"] == "evt-test");
  CHECK(j["msg"] == "dead letter");
  CHECK(j["event_id"] == "evt_2");
  CHECK(j["attempt"] == 3);
  CHECK(j["ts"].get<std::string>().back() == 'Z');
}

TEST_CASE("lines below the level are not written", "[log]") {
  std::string out = CaptureStderr([] {
    evt::InitLogging({"evt-test", evt::LogFormat::kText, evt::LogLevel::kWarn});
    evt::Log(evt::LogLevel::kInfo, "quiet");
    evt::Log(evt::LogLevel::kDebug, "quieter");
    evt::Log(evt::LogLevel::kWarn, "loud");
  });
  CHECK(out == "evt-test: warn: loud\n");
  evt::InitLogging({"test", evt::LogFormat::kText, evt::LogLevel::kOff});
}

TEST_CASE("log format and level names are checked", "[log]") {
  CHECK(*evt::ParseLogFormat("json") == evt::LogFormat::kJson);
  CHECK_FALSE(evt::ParseLogFormat("xml").ok());
  CHECK(*evt::ParseLogLevel("warning") == evt::LogLevel::kWarn);
  CHECK_THAT(evt::ParseLogLevel("loud").status().message(), Catch::Contains("--log-level"));
}
