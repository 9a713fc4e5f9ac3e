// The default log format (json when stderr is systemd's journal, and for a service whenever
// stderr is not a terminal) and the correlation fields of a line about an event.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "evt/cli.h"
#include "evt/log.h"
#include "temp_fd.h"

namespace evt {
namespace {

std::string StreamOf(int fd) {
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST_CASE("JOURNAL_STREAM counts only when it names the file stderr is open on", "[log]") {
  int journal = testing::FdWith("", "journal");
  int other = testing::FdWith("", "other");
  const std::string id = StreamOf(journal);
  CHECK(IsJournalStream(id.c_str(), journal));
  CHECK_FALSE(IsJournalStream(id.c_str(), other));  // inherited by a child with a new stderr
  CHECK_FALSE(IsJournalStream(nullptr, journal));
  CHECK_FALSE(IsJournalStream("", journal));
  CHECK_FALSE(IsJournalStream("12", journal));
  CHECK_FALSE(IsJournalStream((id + "x").c_str(), journal));

  // stderr itself: json by default under the journal, text otherwise.
  int saved = dup(STDERR_FILENO);
  REQUIRE(dup2(journal, STDERR_FILENO) == STDERR_FILENO);
  setenv("JOURNAL_STREAM", id.c_str(), 1);
  const LogFormat under_journal = DefaultLogFormat(LogAudience::kPerson);
  unsetenv("JOURNAL_STREAM");
  const LogFormat without = DefaultLogFormat(LogAudience::kPerson);
  const LogFormat service_to_file = DefaultLogFormat(LogAudience::kService);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(journal);
  close(other);
  CHECK(under_journal == LogFormat::kJson);
  CHECK(without == LogFormat::kText);
  CHECK(service_to_file == LogFormat::kJson);  // a file is no terminal: a collector reads it
}

TEST_CASE("the default log format: json for the journal, and for a service off a terminal",
          "[log]") {
  // (audience, stderr is a terminal, stderr is the journal) -> format
  CHECK(DefaultLogFormat(LogAudience::kPerson, true, false) == LogFormat::kText);
  CHECK(DefaultLogFormat(LogAudience::kPerson, false, false) == LogFormat::kText);  // cron mail
  CHECK(DefaultLogFormat(LogAudience::kPerson, false, true) == LogFormat::kJson);
  CHECK(DefaultLogFormat(LogAudience::kPerson, true, true) == LogFormat::kJson);
  CHECK(DefaultLogFormat(LogAudience::kService, true, false) == LogFormat::kText);  // watched
  CHECK(DefaultLogFormat(LogAudience::kService, false, false) == LogFormat::kJson);
  CHECK(DefaultLogFormat(LogAudience::kService, false, true) == LogFormat::kJson);
  CHECK(DefaultLogFormat(LogAudience::kService, true, true) == LogFormat::kJson);
}

TEST_CASE("a service whose stderr is a terminal logs text", "[log]") {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  int terminal = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(terminal >= 0);
  int saved = dup(STDERR_FILENO);
  REQUIRE(dup2(terminal, STDERR_FILENO) == STDERR_FILENO);
  unsetenv("JOURNAL_STREAM");
  const LogFormat service = DefaultLogFormat(LogAudience::kService);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(terminal);
  close(master);
  CHECK(service == LogFormat::kText);
}

TEST_CASE("evt-work is a service on a durable broker unless it runs once", "[log]") {
  Result<BrokerConfig> redis = ParseBrokerUrl("redis://127.0.0.1:6379");
  Result<BrokerConfig> sqlite = ParseBrokerUrl("sqlite:///tmp/evt.db");
  Result<BrokerConfig> stdio = ParseBrokerUrl("-");
  REQUIRE(redis.ok());
  REQUIRE(sqlite.ok());
  REQUIRE(stdio.ok());
  CommonOptions work;
  work.kind = ToolKind::kWorker;
  CHECK(LogAudienceOf(work, *redis) == LogAudience::kService);
  CHECK(LogAudienceOf(work, *sqlite) == LogAudience::kService);
  CHECK(LogAudienceOf(work, *stdio) == LogAudience::kPerson);  // a cron pipeline
  work.runs_once = true;                                       // --burst: from cron
  CHECK(LogAudienceOf(work, *sqlite) == LogAudience::kPerson);
  CommonOptions command;  // evt-emit, evt-status, evt-dlq, evt-replay
  CHECK(LogAudienceOf(command, *redis) == LogAudience::kPerson);
}

// Applies `common` with stderr sent to a file, logs one warning and returns the line.
std::string FirstLogLine(const CommonOptions& common) {
  int capture = testing::FdWith("", "stderr");
  int saved = dup(STDERR_FILENO);
  dup2(capture, STDERR_FILENO);
  unsetenv("JOURNAL_STREAM");
  Status s = ApplyCommonOptions("evt-work", common);
  Log(LogLevel::kWarn, "store unreachable", {{"consumer", "h:1"}});
  dup2(saved, STDERR_FILENO);
  close(saved);
  const std::string out = testing::ReadFd(capture);
  close(capture);
  InitLogging({"test", LogFormat::kText, LogLevel::kOff});
  REQUIRE(s.ok());
  return out.substr(0, out.find('\n'));
}

TEST_CASE("evt-work with stderr to a file writes json lines, unless told text", "[log]") {
  CommonOptions work;
  work.kind = ToolKind::kWorker;
  work.broker = "redis://127.0.0.1:6379";
  const std::string json = FirstLogLine(work);
  REQUIRE_FALSE(json.empty());
  CHECK(json.front() == '{');
  CHECK(Json::parse(json)["consumer"] == "h:1");
  work.log_format = "text";  // --log-format text or EVT_LOG_FORMAT=text
  CHECK(FirstLogLine(work) == "evt-work: warn: store unreachable consumer=h:1");
  work.log_format = "auto";
  work.runs_once = true;
  CHECK(FirstLogLine(work) == "evt-work: warn: store unreachable consumer=h:1");
  CommonOptions emit;  // a command's lines go to cron mail as text
  emit.broker = "redis://127.0.0.1:6379";
  CHECK(FirstLogLine(emit) == "evt-work: warn: store unreachable consumer=h:1");
}

TEST_CASE("a line about an event carries its correlation fields", "[log]") {
  int capture = testing::FdWith("", "stderr");
  int saved = dup(STDERR_FILENO);
  dup2(capture, STDERR_FILENO);
  InitLogging({"evt-test", LogFormat::kJson, LogLevel::kInfo});
  LogEvent(LogLevel::kWarn, "attempt failed", {"evt_1", "k1", "a.b", "h:1", 2, "corr-9"},
           {{"outcome", "transient"}});
  LogEvent(LogLevel::kWarn, "attempt failed", {"evt_2", "k2", "a.b", "h:1", 1});
  dup2(saved, STDERR_FILENO);
  close(saved);
  const std::string out = testing::ReadFd(capture);
  close(capture);
  InitLogging({});
  const std::size_t nl = out.find('\n');
  REQUIRE(nl != std::string::npos);
  Json first = Json::parse(out.substr(0, nl));
  Json second = Json::parse(out.substr(nl + 1));
  CHECK(first["event_id"] == "evt_1");
  CHECK(first["idempotency_key"] == "k1");
  CHECK(first["event_type"] == "a.b");
  CHECK(first["consumer"] == "h:1");
  CHECK(first["attempt"] == 2);
  CHECK(first["correlation_id"] == "corr-9");
  CHECK(first["outcome"] == "transient");
  CHECK(second["correlation_id"] == "evt_2");  // none given: the event_id, as the contract says
}

}  // namespace
}  // namespace evt
