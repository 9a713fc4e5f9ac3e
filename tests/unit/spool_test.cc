#include "evt/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "evt/log.h"
#include "fake_publisher.h"

namespace {

using evt::Publication;
using evt::Spool;
using evt::testing::FakePublisher;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/evt-spool-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

Publication P(const std::string& id, evt::UnixMillis due = 0) {
  evt::Result<evt::Event> ev = evt::MakeEvent({{"event_type", "spool.test"}, {"event_id", id}});
  REQUIRE(ev.ok());
  return {*ev, due};
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

off_t Size(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_size;
}

// A full disk, as far as this process can tell: while it lives, a write past `bytes` bytes
// of any regular file fails with EFBIG (RLIMIT_FSIZE, with SIGXFSZ ignored). A write that
// crosses the limit is cut short there, as on a disk that fills up in the middle of it.
class FullDiskAt {
 public:
  explicit FullDiskAt(off_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = static_cast<rlim_t>(bytes);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FullDiskAt() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FullDiskAt(const FullDiskAt&) = delete;
  FullDiskAt& operator=(const FullDiskAt&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = SIG_DFL;
};

// Runs `fn` with stderr sent to a pipe (not a file: the file size limit of FullDiskAt does
// not apply to it) and returns what it wrote, up to 64 KiB.
template <typename Fn>
std::string CaptureStderr(Fn fn) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(p[1], STDERR_FILENO);
  ::close(p[1]);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  REQUIRE(::fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  return out;
}

Spool OpenSpool(const std::string& dir) {
  evt::Result<Spool> s = Spool::Open(dir);
  INFO(s.status().message());
  REQUIRE(s.ok());
  return *s;
}

}  // namespace

TEST_CASE("spool: the folder is created 0700 and its files 0600", "[spool]") {
  TempDir tmp;
  ::umask(022);
  const std::string dir = tmp.path + "/a/b/spool";
  Spool spool = OpenSpool(dir);
  CHECK(Mode(dir) == 0700);
  CHECK(Mode(tmp.path + "/a") == 0700);
  REQUIRE(spool.Append({P("e1")}).ok());
  CHECK(Mode(spool.file()) == 0600);
  CHECK(Mode(dir + "/lock") == 0600);

  std::ofstream(tmp.path + "/file") << "x";
  CHECK(Spool::Open(tmp.path + "/file").status().kind() == evt::Status::Kind::kIOError);
  // The same words as --dlq's (dead_letter_test.cc).
  CHECK(Spool::Open(tmp.path + "/file/sub").status().message() ==
        "--spool " + tmp.path + "/file/sub: " + tmp.path + "/file is not a folder");
}

TEST_CASE("spool: a flush sends every spooled event in order, then empties the spool", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1"), P("e2")}).ok());
  REQUIRE(spool.Append({P("e3", 1790000000123)}).ok());
  REQUIRE(spool.Append({P("e4")}).ok());
  // Each line is the event itself, or an envelope for a delayed one.
  CHECK(Read(spool.file()).find("{\"due_at\":\"2026-09-21T") != std::string::npos);

  FakePublisher pub;
  std::size_t sent = 0;
  REQUIRE(spool.Flush(&pub, 2, &sent).ok());
  CHECK(sent == 4);
  CHECK(pub.Ids() == std::vector<std::string>{"e1", "e2", "e3", "e4"});
  CHECK(pub.accepted[2].due_ms == 1790000000123);
  CHECK(pub.accepted[0].due_ms == 0);
  CHECK_FALSE(Exists(spool.file()));

  REQUIRE(spool.Flush(&pub, 2, &sent).ok());  // nothing left: nothing sent twice
  CHECK(sent == 0);
  CHECK(pub.accepted.size() == 4);
}

TEST_CASE("spool: a flush cut short keeps exactly the unsent events, in order", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  for (int i = 1; i <= 10; ++i) REQUIRE(spool.Append({P("e" + std::to_string(i))}).ok());

  FakePublisher pub;
  pub.budget = 3;  // the broker goes away after three, in the middle of the second round
  std::size_t sent = 0;
  evt::Status s = spool.Flush(&pub, 2, &sent);
  CHECK(s.kind() == evt::Status::Kind::kUnavailable);
  CHECK(sent == 3);

  pub.budget = -1;
  REQUIRE(spool.Flush(&pub, 4, &sent).ok());
  CHECK(sent == 7);
  CHECK(pub.Ids() ==
        std::vector<std::string>{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10"});
}

TEST_CASE("spool: a line torn by a crash is set aside, the others still go", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1")}).ok());
  {
    std::ofstream torn(spool.file(), std::ios::app);
    torn << "{\"schema_version\":1,\"event_id\":\"e2\",\"ev";  // no newline: a crash mid-write
  }
  REQUIRE(spool.Append({P("e3")}).ok());

  FakePublisher pub;
  std::size_t sent = 0;
  REQUIRE(spool.Flush(&pub, 100, &sent).ok());
  CHECK(pub.Ids() == std::vector<std::string>{"e1", "e3"});
  CHECK(Read(spool.dir() + "/rejected.ndjson").find("\"event_id\":\"e2\",\"ev") !=
        std::string::npos);
  CHECK(Mode(spool.dir() + "/rejected.ndjson") == 0600);
}

TEST_CASE("spool: appends and flushes hold the folder's lock", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1")}).ok());
  const std::string lock_path = spool.dir() + "/lock";

  // While a flush publishes, nobody else can take the lock.
  FakePublisher pub;
  bool locked_out = false;
  pub.on_publish = [&] {
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    locked_out = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
  };
  std::size_t sent = 0;
  REQUIRE(spool.Flush(&pub, 10, &sent).ok());
  CHECK(locked_out);

  // An append waits for a lock held elsewhere (e.g. by a flushing evt-emit).
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  // The thread hands its status back; only this thread asserts (Catch2 v2 is not
  // thread-safe), and the lock is released before any assertion can end the test.
  std::atomic<bool> done{false};
  evt::Status appended = evt::Status::Internal("not run");
  std::thread appender([&] {
    appended = spool.Append({P("e2")});
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const bool waited = !done;
  ::close(fd);  // releases the lock
  appender.join();
  CHECK(waited);
  INFO(appended.message());
  CHECK(appended.ok());
  CHECK(done);
  CHECK(appended.ok());
  CHECK(Read(spool.file()).find("\"event_id\":\"e2\"") != std::string::npos);
}

TEST_CASE("spool: lines read back as they were written", "[spool]") {
  Publication now = P("n1");
  Publication later = P("l1", 1790000000123);
  evt::Result<Publication> a = evt::ParseSpoolLine(evt::SpoolLine(now));
  evt::Result<Publication> b = evt::ParseSpoolLine(evt::SpoolLine(later));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->due_ms == 0);
  CHECK(evt::Serialize(a->event) == evt::Serialize(now.event));
  CHECK(b->due_ms == 1790000000123);
  CHECK(evt::Serialize(b->event) == evt::Serialize(later.event));
  CHECK_FALSE(evt::ParseSpoolLine("[1]").ok());
  CHECK_FALSE(evt::ParseSpoolLine("{\"due_at\":\"soon\",\"event\":{}}").ok());
}

TEST_CASE("spool: a batch the disk cannot hold leaves the file as it was", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1")}).ok());
  const std::string before = Read(spool.file());
  std::vector<Publication> batch;
  for (int i = 2; i <= 20; ++i) batch.push_back(P("e" + std::to_string(i)));

  evt::Status s;
  {
    // Room for about three more lines: the batch is cut in the middle of a line.
    FullDiskAt full(Size(spool.file()) * 3 + Size(spool.file()) / 2);
    s = spool.Append(batch);
  }
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK(Size(spool.file()) == static_cast<off_t>(before.size()));
  CHECK(Read(spool.file()) == before);

  // What was reported as not kept is never sent: only e1 goes.
  FakePublisher pub;
  std::size_t sent = 0;
  REQUIRE(spool.Flush(&pub, 100, &sent).ok());
  CHECK(pub.Ids() == std::vector<std::string>{"e1"});
}

TEST_CASE("spool: a full disk after a torn line leaves the torn line as it was", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1")}).ok());
  {
    std::ofstream torn(spool.file(), std::ios::app);
    torn << "{\"schema_version\":1,\"event_id\":\"e2\",\"ev";  // a crash mid-write
  }
  const std::string before = Read(spool.file());
  evt::Status s;
  {
    FullDiskAt full(static_cast<off_t>(before.size()) + 10);
    s = spool.Append({P("e3"), P("e4")});
  }
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK(Read(spool.file()) == before);
}

TEST_CASE("spool: a new spool file the disk cannot hold is left empty", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  evt::Status s;
  {
    FullDiskAt full(0);
    s = spool.Append({P("e1"), P("e2")});
  }
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK((!Exists(spool.file()) || Size(spool.file()) == 0));
  FakePublisher pub;
  std::size_t sent = 0;
  REQUIRE(spool.Flush(&pub, 100, &sent).ok());
  CHECK(sent == 0);
}

TEST_CASE("spool: an unreadable line that cannot be set aside is not called moved", "[spool]") {
  TempDir tmp;
  Spool spool = OpenSpool(tmp.path + "/s");
  REQUIRE(spool.Append({P("e1")}).ok());
  {
    std::ofstream torn(spool.file(), std::ios::app);
    torn << "{\"schema_version\":1,\"event_id\":\"e2\",\"ev\n";
  }
  REQUIRE(spool.Append({P("e3")}).ok());
  const std::string before = Read(spool.file());

  evt::InitLogging({"evt-test", evt::LogFormat::kText, evt::LogLevel::kInfo});
  FakePublisher pub;
  std::size_t sent = 0;
  evt::Status s;
  std::string log = CaptureStderr([&] {
    FullDiskAt full(0);  // rejected.ndjson cannot get a byte
    s = spool.Flush(&pub, 100, &sent);
  });
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK(s.message().find("line 2") != std::string::npos);
  CHECK(s.message().find("rejected.ndjson") != std::string::npos);
  CHECK(log.find("moved") == std::string::npos);
  CHECK(s.message().find("moved") == std::string::npos);
  CHECK(Read(spool.file()) == before);  // nothing lost: the line is still in the spool
  CHECK((!Exists(spool.dir() + "/rejected.ndjson") || Size(spool.dir() + "/rejected.ndjson") == 0));

  // Once there is room, it is set aside and said so, and the others go.
  log = CaptureStderr([&] { s = spool.Flush(&pub, 100, &sent); });
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(log.find("line=2") != std::string::npos);
  CHECK(log.find("moved to") != std::string::npos);
  CHECK(pub.Ids() == std::vector<std::string>{"e1", "e3"});
}
