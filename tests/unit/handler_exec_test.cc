#include "evt/handler_exec.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "handler/subprocess.h"

namespace evt {
namespace {

using std::chrono::milliseconds;

Event TestEvent(Json payload = Json{{"order", 42}}) {
  Event e;
  e.doc = Json{{"schema_version", 1},
               {"event_id", "evt_01HX"},
               {"event_type", "order.created"},
               {"occurred_at", "2024-05-01T12:00:00.000Z"},
               {"source", "shop-1"},
               {"idempotency_key", "order-42"},
               {"correlation_id", "corr-7"},
               {"retry_count", 0},
               {"payload", std::move(payload)}};
  return e;
}

ExecHandlerOptions Command(std::vector<std::string> argv) {
  ExecHandlerOptions o;
  o.argv = std::move(argv);
  o.timeout = milliseconds(5000);
  o.kill_after = milliseconds(500);
  return o;
}

ExecHandlerOptions Shell(const std::string& script) { return Command({"/bin/sh", "-c", script}); }

HandlerResult Run(ExecHandlerOptions options, const Event& event, int attempt = 1,
                  const Cancellation* cancel = nullptr) {
  ExecHandler handler(std::move(options));
  AttemptContext ctx;
  ctx.event = &event;
  ctx.attempt = attempt;
  ctx.cancel = cancel;
  return handler.Run(ctx);
}

HandlerResult RunShell(const std::string& script) { return Run(Shell(script), TestEvent()); }

std::string TempPath(const std::string& name) {
  std::string path = "/tmp/evt_handler_exec_test." + std::to_string(getpid()) + "." + name;
  std::remove(path.c_str());
  return path;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Gone means no such process, or a zombie: a process whose parent died is reparented
// to PID 1, and not every container's PID 1 reaps.
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) == -1 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(") ");
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

bool WaitGone(pid_t pid, milliseconds within = milliseconds(1000)) {
  auto until = std::chrono::steady_clock::now() + within;
  while (!ProcessGone(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

int OpenFdCount() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* ent = readdir(d)) n += ent->d_name[0] != '.';
  closedir(d);
  return n;
}

bool NoChildrenLeft() {
  int status;
  return waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

TEST_CASE("exit 0 is done, with stdout captured", "[handler_exec]") {
  HandlerResult r = RunShell("echo hello");
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.category == Category::kNone);
  CHECK(r.error.empty());
  CHECK(r.output == "hello\n");
  CHECK_FALSE(r.interrupted);
  CHECK(r.duration < milliseconds(5000));
}

TEST_CASE("exit codes map through the default table", "[handler_exec]") {
  HandlerResult data = RunShell("exit 65");
  CHECK(data.outcome == Outcome::kPermanent);
  CHECK(data.category == Category::kData);
  CHECK(data.error == "exit 65");

  HandlerResult auth = RunShell("exit 77");
  CHECK(auth.outcome == Outcome::kPermanent);
  CHECK(auth.category == Category::kAuth);

  HandlerResult network = RunShell("exit 68");
  CHECK(network.outcome == Outcome::kTransient);
  CHECK(network.category == Category::kNetwork);
}

TEST_CASE("the classifier's overrides apply", "[handler_exec]") {
  ExecHandlerOptions o = Shell("exit 3");
  REQUIRE(o.classifier.Override({3}, {}).ok());
  HandlerResult r = Run(std::move(o), TestEvent());
  CHECK(r.outcome == Outcome::kPermanent);
  CHECK(r.category == Category::kData);
}

TEST_CASE("a failing exit names the last non-empty stderr line", "[handler_exec]") {
  HandlerResult r = RunShell("echo first >&2; echo 'db down: refused' >&2; echo >&2; exit 3");
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kDependency);
  CHECK(r.error == "exit 3: db down: refused");

  HandlerResult quiet = RunShell("exit 3");
  CHECK(quiet.error == "exit 3");
}

TEST_CASE("a very long stderr line is bounded in the error", "[handler_exec]") {
  HandlerResult r = RunShell("head -c 100000 /dev/zero | tr '\\0' x >&2; exit 4");
  CHECK(r.error.rfind("exit 4: xxx", 0) == 0);
  CHECK(r.error.size() < 1024);
}

TEST_CASE("stderr lines reach the callback", "[handler_exec]") {
  ExecHandler handler(Shell("printf 'one\\ntwo\\nthree' >&2"));
  Event e = TestEvent();
  std::vector<std::string> lines;
  AttemptContext ctx;
  ctx.event = &e;
  ctx.on_stderr_line = [&](std::string_view l) { lines.emplace_back(l); };
  HandlerResult r = handler.Run(ctx);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(lines == std::vector<std::string>{"one", "two", "three"});
}

// Runs `script` with a stderr line collector; returns the lines passed on for logging.
std::vector<std::string> StderrLines(const std::string& script, std::size_t max_output_bytes,
                                     HandlerResult* result) {
  ExecHandlerOptions o = Shell(script);
  o.max_output_bytes = max_output_bytes;
  o.timeout = milliseconds(20000);
  ExecHandler handler(std::move(o));
  Event e = TestEvent();
  std::vector<std::string> lines;
  AttemptContext ctx;
  ctx.event = &e;
  ctx.on_stderr_line = [&](std::string_view l) { lines.emplace_back(l); };
  *result = handler.Run(ctx);
  return lines;
}

TEST_CASE("stderr passed on to the log is bounded per attempt, the cut marked once",
          "[handler_exec]") {
  HandlerResult r;
  // 2 MB of short lines, then the explanation: 2,000,011 bytes.
  std::vector<std::string> lines =
      StderrLines("yes x | head -c 2000000 >&2; echo 'last words' >&2; exit 3", 1024, &r);
  REQUIRE(lines.size() == 513);
  std::size_t logged = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    CHECK(lines[i] == "x");
    logged += lines[i].size() + 1;
  }
  CHECK(logged == 1024);
  CHECK(lines.back() == "... 1998987 more bytes");
  // The error still names the handler's last line, which the log bound cut off.
  CHECK(r.error == "exit 3: last words");
}

TEST_CASE("a stderr line that crosses the log bound is cut there", "[handler_exec]") {
  HandlerResult r;
  std::vector<std::string> lines =
      StderrLines("echo 0123456789 >&2; echo abcdefghij >&2; echo tail >&2", 15, &r);
  CHECK(lines == std::vector<std::string>{"0123456789", "abcd", "... 12 more bytes"});
  // Within the bound, nothing is marked, with or without a final newline.
  CHECK(StderrLines("printf 'a\\nbcd' >&2", 5, &r) == std::vector<std::string>{"a", "bcd"});
  CHECK(StderrLines("printf 'a\\nbcd\\n' >&2", 6, &r) == std::vector<std::string>{"a", "bcd"});
  // Bytes a line loses to the per-line bound count as not logged.
  lines = StderrLines("head -c 5000 /dev/zero | tr '\\0' y >&2; echo >&2; printf z >&2", 65536, &r);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].size() == kMaxStderrLine);
  CHECK(lines[1] == "z");
  CHECK(lines[2] == "... " + std::to_string(5000 - kMaxStderrLine) + " more bytes");
}

TEST_CASE("the EVT_ variables reach the handler", "[handler_exec]") {
  setenv("EVT_SOURCE", "stale-from-parent", 1);
  HandlerResult r = Run(Shell("printf '%s|%s|%s|%s|%s|%s' \"$EVT_EVENT_ID\" \"$EVT_EVENT_TYPE\" "
                              "\"$EVT_IDEMPOTENCY_KEY\" \"$EVT_ATTEMPT\" \"$EVT_SOURCE\" "
                              "\"$EVT_CORRELATION_ID\"; env | grep -c '^EVT_SOURCE=' >&2"),
                        TestEvent(), 3);
  unsetenv("EVT_SOURCE");
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.output == "evt_01HX|order.created|order-42|3|shop-1|corr-7");
}

// Sets an environment variable for the life of a test, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

TEST_CASE("no evt credential reaches the handler's environment", "[handler_exec]") {
  // Every secret holds "Zq", which appears nowhere else in the environment.
  ScopedEnv password("EVT_REDIS_PASSWORD", "pw-Zq1");
  ScopedEnv password_file("EVT_REDIS_PASSWORD_FILE", "/run/secrets/Zq2");
  ScopedEnv broker("EVT_BROKER", "redis://u1:Xp@ss/Zq3@redis.example:6380/2");
  ScopedEnv other("EVT_QUEUE", "backups");
  HandlerResult r = Run(Command({"env"}), TestEvent());
  REQUIRE(r.outcome == Outcome::kDone);
  CHECK(r.output.find("Zq") == std::string::npos);
  CHECK(r.output.find("EVT_REDIS_PASSWORD") == std::string::npos);
  CHECK(r.output.find("\nEVT_BROKER=redis://u1@redis.example:6380/2\n") != std::string::npos);
  CHECK(r.output.find("\nEVT_QUEUE=backups\n") != std::string::npos);
  CHECK(r.output.find("\nEVT_EVENT_ID=evt_01HX\n") != std::string::npos);
}

TEST_CASE("a broker URL without a password reaches the handler as it is", "[handler_exec]") {
  ScopedEnv broker("EVT_BROKER", "redis://worker@redis.example:6380/2");
  HandlerResult r = Run(Shell("printf '%s' \"$EVT_BROKER\""), TestEvent());
  CHECK(r.output == "redis://worker@redis.example:6380/2");
}

TEST_CASE("stdin carries the event as one JSON line", "[handler_exec]") {
  Event e = TestEvent(Json{{"text", "héllo \"quoted\"\nnext"}});
  HandlerResult r = Run(Command({"cat"}), e);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.output == e.doc.dump() + "\n");
  CHECK(Json::parse(r.output) == e.doc);
}

TEST_CASE("payload text never reaches a shell", "[handler_exec]") {
  const std::string marker = TempPath("injected");
  Event e = TestEvent(Json{{"a", "$(touch " + marker + ")"}, {"b", "`touch " + marker + "`"}});
  e.doc["source"] = "$(touch " + marker + ")";
  HandlerResult r =
      Run(Command({"/bin/sh", "-c", "cat; printf '%s' \"$EVT_SOURCE\"", "handler"}), e);
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.output.find("$(touch " + marker + ")") != std::string::npos);
  CHECK(r.output.find("`touch " + marker + "`") != std::string::npos);
  std::this_thread::sleep_for(milliseconds(50));
  CHECK_FALSE(FileExists(marker));
}

TEST_CASE("a timeout kills the whole process group", "[handler_exec]") {
  const std::string pidfile = TempPath("timeout.pid");
  ExecHandlerOptions o = Shell("sleep 30 & echo $! > " + pidfile + "; sleep 30");
  o.timeout = milliseconds(300);
  HandlerResult r = Run(std::move(o), TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kTimeout);
  CHECK(r.error == "timed out after 300ms");
  CHECK(r.duration >= milliseconds(300));
  CHECK(r.duration < milliseconds(3000));
  pid_t grandchild = ReadPid(pidfile);
  REQUIRE(grandchild > 0);
  CHECK(WaitGone(grandchild));
  std::remove(pidfile.c_str());
}

TEST_CASE("a handler that ignores SIGTERM is killed after kill_after", "[handler_exec]") {
  ExecHandlerOptions o = Shell("trap '' TERM; sleep 30; sleep 30");
  o.timeout = milliseconds(200);
  o.kill_after = milliseconds(300);
  HandlerResult r = Run(std::move(o), TestEvent());
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kTimeout);
  CHECK(r.duration >= milliseconds(500));
  CHECK(r.duration < milliseconds(3000));
}

TEST_CASE("a background child does not outlive a successful handler", "[handler_exec]") {
  const std::string pidfile = TempPath("background.pid");
  HandlerResult r = RunShell("sleep 30 & echo $! > " + pidfile + "; exit 0");
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.duration < milliseconds(3000));
  pid_t background = ReadPid(pidfile);
  REQUIRE(background > 0);
  CHECK(WaitGone(background));
  std::remove(pidfile.c_str());
}

// A handler script that daemonizes the classic way: a background job calls setsid (a new
// session and group, out of reach of killpg) and forks `sleep 300`, whose pid it writes to
// `pidfile`, then exits; the sleep is orphaned. The handler waits for that, then runs `then`.
std::string Daemonizer(const std::string& pidfile, const std::string& then) {
  return "setsid sh -c 'sleep 300 & echo $! > " + pidfile + ".tmp; mv " + pidfile + ".tmp " +
         pidfile + "' & wait; " + then;
}

// Waits for `pidfile` and returns the pid in it, or 0.
pid_t WaitPid(const std::string& pidfile) {
  auto until = std::chrono::steady_clock::now() + milliseconds(3000);
  while (!FileExists(pidfile) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  return ReadPid(pidfile);
}

// Checks that the process is gone; kills it if not, so a failing test leaves nothing behind.
bool GoneOrKill(pid_t pid) {
  if (pid <= 0) return false;
  if (WaitGone(pid)) return true;
  kill(pid, SIGKILL);
  return false;
}

TEST_CASE("a handler that daemonizes leaves nothing behind when it exits", "[handler_exec]") {
  const std::string pidfile = TempPath("daemon.pid");
  HandlerResult r = RunShell(Daemonizer(pidfile, "exit 0"));
  CHECK(r.outcome == Outcome::kDone);
  pid_t daemon = WaitPid(pidfile);
  REQUIRE(daemon > 0);
  CHECK(GoneOrKill(daemon));
  CHECK(NoChildrenLeft());  // killed and reaped, not left a zombie
  std::remove(pidfile.c_str());
}

TEST_CASE("a handler that daemonizes leaves nothing behind when it times out", "[handler_exec]") {
  const std::string pidfile = TempPath("daemon-timeout.pid");
  ExecHandlerOptions o = Shell(Daemonizer(pidfile, "sleep 30"));
  o.timeout = milliseconds(500);
  HandlerResult r = Run(std::move(o), TestEvent());
  CHECK(r.category == Category::kTimeout);
  pid_t daemon = WaitPid(pidfile);
  REQUIRE(daemon > 0);
  CHECK(GoneOrKill(daemon));
  CHECK(NoChildrenLeft());
  std::remove(pidfile.c_str());
}

TEST_CASE("every descendant of a daemon is gone after the attempt", "[handler_exec]") {
  // The daemon starts two more: one in its own session again, one in its group; then it
  // waits. Killing the daemon orphans both.
  const std::string p1 = TempPath("deep1.pid"), p2 = TempPath("deep2.pid");
  HandlerResult r =
      RunShell("setsid sh -c 'setsid sleep 300 & echo $! > " + p1 + ".tmp; sleep 300 & echo $! > " +
               p2 + ".tmp; mv " + p1 + ".tmp " + p1 + "; mv " + p2 + ".tmp " + p2 + "; wait' & " +
               "while [ ! -e " + p2 + " ]; do sleep 0.01; done; exit 0");
  CHECK(r.outcome == Outcome::kDone);
  pid_t a = WaitPid(p1), b = WaitPid(p2);
  REQUIRE(a > 0);
  REQUIRE(b > 0);
  CHECK(GoneOrKill(a));
  CHECK(GoneOrKill(b));
  CHECK(NoChildrenLeft());
  std::remove(p1.c_str());
  std::remove(p2.c_str());
}

TEST_CASE("a daemon that holds the handler's stderr does not delay the attempt", "[handler_exec]") {
  const std::string pidfile = TempPath("holder.pid");
  // Without the sweep the attempt waits out the drain bound for the daemon's pipe.
  HandlerResult r = RunShell(Daemonizer(pidfile, "exit 0"));
  CHECK(r.duration < milliseconds(200));
  CHECK(GoneOrKill(WaitPid(pidfile)));
  std::remove(pidfile.c_str());
}

TEST_CASE("what a handler left behind is gone when the handler kind is destroyed",
          "[handler_exec]") {
  const std::string pidfile = TempPath("exit.pid");
  pid_t daemon = 0;
  {
    ExecHandler handler(Shell("exit 0"));  // makes this process the subreaper
    // An orphan that no attempt's end sees: made here, outside any attempt.
    pid_t sh = fork();
    REQUIRE(sh >= 0);
    if (sh == 0) {
      execl("/bin/sh", "sh", "-c", Daemonizer(pidfile, "exit 0").c_str(), nullptr);
      _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(sh, &status, 0) == sh);
    daemon = WaitPid(pidfile);
    REQUIRE(daemon > 0);
    REQUIRE_FALSE(ProcessGone(daemon));
  }
  CHECK(GoneOrKill(daemon));
  CHECK(NoChildrenLeft());
  std::remove(pidfile.c_str());
}

TEST_CASE("one attempt's end never touches a handler still running on another thread",
          "[handler_exec]") {
  // The slow handler's background sleep is orphaned (its subshell exits) but stays in
  // the handler's group: it belongs to the running attempt, which checks it is alive.
  const std::string slow_pid = TempPath("slow-bg.pid");
  HandlerResult slow;
  std::thread t([&] {
    ExecHandlerOptions o = Shell("(sleep 5 & echo $! > " + slow_pid +
                                 ") ; sleep 1; kill -0 $(cat " + slow_pid + ") && exit 7; exit 9");
    slow = Run(std::move(o), TestEvent());
  });
  std::vector<std::string> pidfiles;
  for (int i = 0; i < 5; ++i) {
    pidfiles.push_back(TempPath("quick" + std::to_string(i) + ".pid"));
    HandlerResult quick = RunShell(Daemonizer(pidfiles.back(), "exit 3"));
    CHECK(quick.error == "exit 3");
  }
  t.join();
  CHECK(slow.error == "exit 7");
  for (const std::string& f : pidfiles) {
    CHECK(GoneOrKill(ReadPid(f)));
    std::remove(f.c_str());
  }
  CHECK(GoneOrKill(ReadPid(slow_pid)));
  std::remove(slow_pid.c_str());
}

TEST_CASE("parallel attempts that daemonize never kill each other's handlers", "[handler_exec]") {
  constexpr int kThreads = 6, kRuns = 8;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::vector<std::string>> pidfiles(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kRuns; ++j) {
        pidfiles[i].push_back(TempPath("par" + std::to_string(i) + "_" + std::to_string(j)));
        errors[i].push_back(RunShell(Daemonizer(pidfiles[i].back(), "exit 3")).error);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    for (int j = 0; j < kRuns; ++j) {
      CHECK(errors[i][j] == "exit 3");
      CHECK(GoneOrKill(ReadPid(pidfiles[i][j])));
      std::remove(pidfiles[i][j].c_str());
    }
  }
  CHECK(NoChildrenLeft());
}

long MaxRssKiB() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST_CASE("100 MB of stdout is drained with bounded memory", "[handler_exec]") {
  ExecHandlerOptions o = Command({"head", "-c", "100000000", "/dev/zero"});
  o.max_output_bytes = 64 * 1024;
  o.timeout = milliseconds(20000);
  long rss_before = MaxRssKiB();
  HandlerResult r = Run(std::move(o), TestEvent());
  // done (not timeout) means head wrote all 100 MB: nobody stopped reading.
  CHECK(r.outcome == Outcome::kDone);
  CHECK(r.output.size() == 64 * 1024);
  CHECK(r.output == std::string(64 * 1024, '\0'));
  CHECK(MaxRssKiB() - rss_before < 32 * 1024);
}

TEST_CASE("RunProcess keeps the bound but counts every byte", "[handler_exec]") {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "head -c 3000000 /dev/zero; head -c 200000 /dev/zero >&2"};
  spec.max_capture = 1000;
  spec.timeout = milliseconds(20000);
  std::vector<std::size_t> line_sizes;
  spec.on_stderr_line = [&](std::string_view line) { line_sizes.push_back(line.size()); };
  ProcessResult p = RunProcess(spec);
  CHECK(p.started);
  CHECK(p.exited);
  CHECK(p.exit_code == 0);
  CHECK(p.out.size() == 1000);
  CHECK(p.err.size() == 1000);
  CHECK(p.out_total == 3000000);
  CHECK(p.err_total == 200000);
  CHECK(line_sizes == std::vector<std::size_t>{kMaxStderrLine});  // one long line, truncated
}

TEST_CASE("a handler that never reads stdin does not hang", "[handler_exec]") {
  Event big = TestEvent(Json{{"blob", std::string(4 * 1024 * 1024, 'x')}});
  HandlerResult quick = Run(Shell("exit 0"), big);
  CHECK(quick.outcome == Outcome::kDone);

  HandlerResult slow = Run(Shell("sleep 0.2; echo ok"), big);
  CHECK(slow.outcome == Outcome::kDone);
  CHECK(slow.output == "ok\n");
  CHECK(slow.duration < milliseconds(3000));
}

TEST_CASE("cancellation stops a running handler and marks it interrupted", "[handler_exec]") {
  const std::string pidfile = TempPath("cancel.pid");
  Cancellation cancel;
  ExecHandlerOptions o =
      Shell("echo $$ > " + pidfile + ".tmp; mv " + pidfile + ".tmp " + pidfile + "; sleep 30");
  o.timeout = milliseconds(20000);
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    // Cancel only once the handler is surely running.
    auto give_up = std::chrono::steady_clock::now() + milliseconds(5000);
    while (!FileExists(pidfile) && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    cancelled_at = std::chrono::steady_clock::now();
    cancel.Cancel();
  });
  HandlerResult r = Run(std::move(o), TestEvent(), 1, &cancel);
  auto returned_at = std::chrono::steady_clock::now();
  canceller.join();
  pid_t handler_pid = ReadPid(pidfile);
  CHECK(handler_pid > 0);  // it really ran
  CHECK(r.interrupted);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.error == "interrupted by shutdown");
  CHECK(returned_at - cancelled_at < milliseconds(2000));
  std::remove(pidfile.c_str());
}

TEST_CASE("after cancellation no new attempt starts", "[handler_exec]") {
  const std::string marker = TempPath("started");
  Cancellation cancel;
  cancel.Cancel();
  CHECK(cancel.cancelled());
  HandlerResult r = Run(Shell("touch " + marker), TestEvent(), 1, &cancel);
  CHECK(r.interrupted);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK_FALSE(FileExists(marker));
}

TEST_CASE("killed by a signal is a transient crash", "[handler_exec]") {
  HandlerResult r = RunShell("kill -9 $$");
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kCrash);
  CHECK(r.error == "killed by signal 9 (SIGKILL)");
}

TEST_CASE("a command that cannot start is a transient dependency failure", "[handler_exec]") {
  HandlerResult missing = Run(Command({"/nonexistent/evt-handler"}), TestEvent());
  CHECK(missing.outcome == Outcome::kTransient);
  CHECK(missing.category == Category::kDependency);
  CHECK(missing.error == "cannot run /nonexistent/evt-handler: No such file or directory");

  HandlerResult not_in_path = Run(Command({"evt-no-such-handler-xyz"}), TestEvent());
  CHECK(not_in_path.category == Category::kDependency);
  CHECK(not_in_path.error.rfind("cannot run evt-no-such-handler-xyz: ", 0) == 0);

  const std::string plain = TempPath("not-executable");
  std::ofstream(plain) << "#!/bin/sh\nexit 0\n";
  HandlerResult denied = Run(Command({plain}), TestEvent());
  CHECK(denied.error == "cannot run " + plain + ": Permission denied");
  std::remove(plain.c_str());
}

TEST_CASE("CheckCommand finds commands the way exec will", "[handler_exec]") {
  Status empty = ExecHandler::CheckCommand({});
  CHECK(empty.kind() == Status::Kind::kConfig);
  CHECK(empty.message() == "no handler command given (evt-work [options] -- COMMAND [ARGS...])");

  CHECK(ExecHandler::CheckCommand({"sh", "-c", "true"}).ok());
  CHECK(ExecHandler::CheckCommand({"/bin/sh"}).ok());

  Status missing = ExecHandler::CheckCommand({"/nonexistent/handler"});
  CHECK(missing.kind() == Status::Kind::kConfig);
  CHECK(missing.message() == "handler command not found: /nonexistent/handler");

  Status not_in_path = ExecHandler::CheckCommand({"evt-no-such-handler-xyz"});
  CHECK(not_in_path.message() == "handler command not found: evt-no-such-handler-xyz");

  const std::string plain = TempPath("plain-file");
  std::ofstream(plain) << "data\n";
  Status not_exec = ExecHandler::CheckCommand({plain});
  CHECK(not_exec.kind() == Status::Kind::kConfig);
  CHECK(not_exec.message() == "handler command not executable: " + plain);
  std::remove(plain.c_str());

  CHECK(ExecHandler::CheckCommand({"/tmp"}).kind() == Status::Kind::kConfig);
}

TEST_CASE("attempts leak neither descriptors nor processes, even in parallel", "[handler_exec]") {
  const int fds_before = OpenFdCount();
  std::vector<std::thread> threads;
  std::vector<HandlerResult> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&results, i] {
      Event e = TestEvent(Json{{"i", i}});
      results[i] =
          Run(Shell("read line; echo \"$EVT_ATTEMPT\"; exit " + std::to_string(i)), e, i + 1);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    INFO("handler " << i);
    CHECK(results[i].output == std::to_string(i + 1) + "\n");
    CHECK(results[i].error == (i == 0 ? "" : "exit " + std::to_string(i)));
  }
  CHECK(OpenFdCount() == fds_before);
  CHECK(NoChildrenLeft());
}

}  // namespace
}  // namespace evt
