// AttachOperations and its parts that need no peer: option checks, the metrics file
// (written atomically, at start, every interval and at exit) and the warning about secret
// files others can read.
#include "evt/ops.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "ops/metrics_file.h"
#include "ops/secret_files.h"
#include "temp_dir.h"

namespace evt {
namespace {

int Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 07777);
}

int FilesIn(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

TEST_CASE("a file is replaced atomically: mode 0644, no temporary file left") {
  testing::TempDir dir;
  const std::string path = dir / "evt.prom";
  REQUIRE(WriteFileAtomically(path, "one\n").ok());
  CHECK(testing::ReadFile(path) == "one\n");
  REQUIRE(WriteFileAtomically(path, "two\n").ok());
  CHECK(testing::ReadFile(path) == "two\n");
  CHECK(Mode(path) == 0644);
  CHECK(FilesIn(dir.path()) == 1);

  Status s = WriteFileAtomically(dir / "missing/evt.prom", "x");
  CHECK(s.kind() == Status::Kind::kIOError);
  CHECK(s.message().find(dir / "missing/evt.prom") == 0);
}

TEST_CASE("a secret file others can read is named once") {
  testing::TempDir dir;
  const std::string open = dir / "password";
  const std::string closed = dir / "secret";
  testing::WriteFile(open, "pw");
  testing::WriteFile(closed, "key");
  REQUIRE(chmod(open.c_str(), 0644) == 0);
  REQUIRE(chmod(closed.c_str(), 0640) == 0);
  CHECK(ReadableByOthers(open));
  CHECK_FALSE(ReadableByOthers(closed));
  CHECK_FALSE(ReadableByOthers(dir / "none"));
  CHECK(WarnIfReadableByOthers(open));
  CHECK_FALSE(WarnIfReadableByOthers(open));  // once per file
  CHECK_FALSE(WarnIfReadableByOthers(closed));
  CHECK_FALSE(WarnIfReadableByOthers(""));
}

TEST_CASE("AttachOperations refuses a malformed --listen and a zero interval") {
  ObserverList observers;
  OpsOptions options;
  options.listen = "9464";
  auto ops = AttachOperations(options, &observers);
  REQUIRE_FALSE(ops.ok());
  CHECK(ops.status().kind() == Status::Kind::kUsage);
  options.listen.clear();
  options.metrics_interval = Millis(0);
  ops = AttachOperations(options, &observers);
  REQUIRE_FALSE(ops.ok());
  CHECK(ops.status().message() == "--metrics-interval must be more than 0");
}

TEST_CASE("AttachOperations fails at once when the metrics file cannot be written") {
  testing::TempDir dir;
  ObserverList observers;
  OpsOptions options;
  options.metrics_file = dir / "no/such/folder/evt.prom";
  auto ops = AttachOperations(options, &observers);
  REQUIRE_FALSE(ops.ok());
  CHECK(ops.status().kind() == Status::Kind::kIOError);
}

TEST_CASE("the metrics file is written at start, every interval and at exit") {
  testing::TempDir dir;
  const std::string path = dir / "evt.prom";
  ObserverList observers;
  OpsOptions options;
  options.metrics_file = path;
  options.metrics_interval = Millis(50);
  AttemptEnd end;
  end.event_type = "t";
  {
    auto ops = AttachOperations(options, &observers);
    REQUIRE(ops.ok());
    CHECK(testing::ReadFile(path).find("# TYPE evt_worker_events_total counter") !=
          std::string::npos);
    observers.OnAttemptEnded(end, Disposition::kDone, DeadReason::kPermanent);
    const std::string line = "evt_worker_events_total{event_type=\"t\",outcome=\"done\"} 1\n";
    bool seen = false;
    for (int i = 0; i < 200 && !seen; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      seen = testing::ReadFile(path).find(line) != std::string::npos;
    }
    CHECK(seen);  // rewritten by the interval
    CHECK((*ops)->MetricsText() == testing::ReadFile(path));
  }
  {
    options.metrics_interval = Millis(3600000);  // no rewrite but at start and at exit
    ObserverList more;
    auto ops = AttachOperations(options, &more);
    REQUIRE(ops.ok());
    more.OnAttemptEnded(end, Disposition::kRetry, DeadReason::kPermanent);
  }
  CHECK(testing::ReadFile(path).find("evt_worker_retries_total{event_type=\"t\"} 1\n") !=
        std::string::npos);
  CHECK(FilesIn(dir.path()) == 1);
}

TEST_CASE("AttachOperations serves --listen and says which port") {
  ObserverList observers;
  OpsOptions options;
  options.listen = "127.0.0.1:0";
  auto ops = AttachOperations(options, &observers);
  REQUIRE(ops.ok());
  CHECK((*ops)->port() > 0);
  OpsOptions none;
  auto quiet = AttachOperations(none, &observers);
  REQUIRE(quiet.ok());
  CHECK((*quiet)->port() == 0);
}

}  // namespace
}  // namespace evt
