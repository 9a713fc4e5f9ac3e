// The stdio worker's input edges: the dead letter of an over-long line, and what a
// stopped worker leaves in a regular file for the next reader.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/worker.h"
#include "fake_handler.h"
#include "temp_fd.h"

using evt::testing::FdWith;
using evt::testing::ReadFd;

namespace {

std::vector<evt::Json> JsonLines(const std::string& text) {
  std::vector<evt::Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(evt::Json::parse(line));
  return out;
}

struct Run {
  evt::Status status;
  evt::WorkerStats stats;
  std::vector<evt::Json> dead;
};

// Runs the worker on `in_fd` (left open, at wherever the worker left it) with results
// going to `out_fd`.
Run RunWorker(int in_fd, int out_fd, evt::Handler& handler, std::size_t max_event_bytes) {
  evt::InstallStopSignals();
  evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
  char dir[] = "/tmp/evt_worker_in_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string dlq_path = std::string(dir) + "/dlq.ndjson";
  Run run;
  {
    evt::DeadLetterSink dlq;
    REQUIRE(dlq.Open(dlq_path).ok());
    evt::WorkerOptions o;
    o.concurrency = 1;
    o.retry.backoff_base = evt::Millis(0);
    o.retry.backoff_max = evt::Millis(0);
    o.max_event_bytes = max_event_bytes;
    o.seed = 1;
    run.status = evt::RunStdioWorker(in_fd, out_fd, handler, dlq, o, &run.stats);
  }
  int dfd = ::open(dlq_path.c_str(), O_RDONLY);
  if (dfd >= 0) {
    run.dead = JsonLines(ReadFd(dfd));
    ::close(dfd);
  }
  ::unlink(dlq_path.c_str());
  ::rmdir(dir);
  return run;
}

}  // namespace

TEST_CASE("the dead letter of an over-long line keeps its first 64 KiB", "[worker]") {
  std::string big = R"({"event_type":"t.x","payload":{"blob":")";
  while (big.size() < 200'000) big += "0123456789";
  big += "\"}}";
  const std::string input = big + "\n" + R"({"event_type":"t.x","event_id":"ok"})" + "\n";
  int in = FdWith(input);
  int out = ::memfd_create("worker_out", MFD_CLOEXEC);
  evt::testing::FakeHandler h;
  Run run = RunWorker(in, out, h, 1024);
  CHECK(run.status.kind() == evt::Status::Kind::kInvalidArgument);
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["reason"] == "invalid");
  CHECK(run.dead[0]["line"] == 1);
  CHECK(run.dead[0]["raw"] == big.substr(0, 64 * 1024));
  CHECK_THAT(run.dead[0]["error"].get<std::string>(),
             Catch::Contains("line is " + std::to_string(big.size()) + " bytes"));
  CHECK(run.stats.done == 1);
  ::close(in);
  ::close(out);
}

TEST_CASE("a worker stopped early leaves the unread lines of a regular file to the next reader",
          "[worker]") {
  // The output is a pipe nobody reads: the first result fails to be written and the
  // worker stops, as it would on SIGTERM, with most of the file read ahead into its
  // buffer. It must give those lines back, not dead-letter them or keep half a line.
  std::string input;
  std::vector<std::size_t> ends;  // offset just after each line
  for (int i = 1; i <= 3000; ++i) {
    input += R"({"event_type":"t.x","event_id":"e)" + std::to_string(i) +
             R"(","payload":{"pad":"................................"}})" + "\n";
    ends.push_back(input.size());
  }
  int in = FdWith(input);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  ::close(p[0]);
  evt::testing::FakeHandler h;
  Run run = RunWorker(in, p[1], h, 4096);
  ::close(p[1]);
  CHECK(run.status.kind() == evt::Status::Kind::kIOError);

  // The offset is just after a line, and every line before it was taken exactly once:
  // run (done) or recorded as interrupted.
  const off_t offset = ::lseek(in, 0, SEEK_CUR);
  std::size_t taken = 0;
  while (taken < ends.size() && static_cast<off_t>(ends[taken]) <= offset) ++taken;
  INFO("offset " << offset << ", lines taken " << taken);
  REQUIRE(taken >= 1);
  REQUIRE(taken < ends.size());
  CHECK(static_cast<off_t>(ends[taken - 1]) == offset);
  std::set<std::string> dead_ids;
  for (const evt::Json& d : run.dead) {
    CHECK(d["reason"] == "interrupted");
    CHECK_FALSE(d.contains("raw"));  // no fragment
    dead_ids.insert(d["event_id"].get<std::string>());
  }
  CHECK(dead_ids.size() == run.dead.size());
  for (std::size_t i = 1; i <= ends.size(); ++i) {
    const std::string id = "e" + std::to_string(i);
    const int ran = h.runs(id);
    const int dead = static_cast<int>(dead_ids.count(id));
    INFO(id);
    if (i <= taken) {
      CHECK(ran + dead >= 1);
    } else {
      CHECK(ran == 0);
      CHECK(dead == 0);
    }
  }

  // The next reader starts on the next whole line.
  int out = ::memfd_create("worker_out", MFD_CLOEXEC);
  evt::testing::FakeHandler h2;
  Run second = RunWorker(in, out, h2, 4096);
  CHECK(second.status.ok());
  CHECK(second.stats.invalid == 0);
  CHECK(second.stats.done == ends.size() - taken);
  ::close(out);
  ::close(in);
}
