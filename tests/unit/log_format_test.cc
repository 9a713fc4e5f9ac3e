// The default log format (json when stderr is systemd's journal) and the correlation
// fields of a line about an event.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

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
  const LogFormat under_journal = DefaultLogFormat();
  unsetenv("JOURNAL_STREAM");
  const LogFormat without = DefaultLogFormat();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(journal);
  close(other);
  CHECK(under_journal == LogFormat::kJson);
  CHECK(without == LogFormat::kText);
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
