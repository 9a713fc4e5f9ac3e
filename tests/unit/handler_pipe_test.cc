// The co-process handler against real co-processes: a small Python script written by the
// test that behaves as each event's payload.mode asks, and shell one-liners that die at
// start-up.
#include "evt/handler_pipe.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace evt {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The co-process: writes DIR/pid.<pid> when it starts and DIR/clean.<pid> when its stdin
// ends, then answers each event as its payload.mode says.
constexpr const char* kScript = R"PY(
import json, os, subprocess, sys, time
d = sys.argv[1]
open(os.path.join(d, "pid.%d" % os.getpid()), "w").close()
def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
while True:
    line = sys.stdin.readline()
    if not line:
        break
    ev = json.loads(line)
    p = ev["payload"]
    mode = p.get("mode", "ok")
    if mode == "ok":
        reply({"status": "ok", "extra": "ignored"})
    elif mode == "retry":
        reply({"status": "retry", "error": "db busy", "category": "network", "retry_after_ms": 1500})
    elif mode == "retry-bare":
        reply({"status": "retry"})
    elif mode == "fail":
        reply({"status": "fail", "error": "bad record\nsecond line", "category": "auth"})
    elif mode == "fail-bare":
        reply({"status": "fail"})
    elif mode == "crash":
        sys.stderr.write("about to crash on " + ev["event_id"] + "\n")
        sys.stderr.flush()
        os._exit(3)
    elif mode == "hang":
        time.sleep(100)
    elif mode == "garbage":
        sys.stdout.write("hello, I am not JSON\n")
        sys.stdout.flush()
    elif mode == "bad-status":
        reply({"status": "maybe"})
    elif mode == "two":
        reply({"status": "ok"})
        reply({"status": "ok"})
    elif mode == "exit-after":
        reply({"status": "ok"})
        sys.exit(0)
    elif mode == "stderr":
        for i in range(p.get("lines", 3)):
            sys.stderr.write("log line %02d of the event\n" % i)
        sys.stderr.flush()
        reply({"status": "ok"})
    elif mode == "child":
        c = subprocess.Popen(["sleep", "100"])
        open(os.path.join(d, "child.%d" % c.pid), "w").close()
        reply({"status": "ok"})
    elif mode == "env":
        names = ["EVT_REDIS_PASSWORD", "EVT_REDIS_PASSWORD_FILE", "EVT_BROKER", "EVT_OTHER"]
        reply({"status": "fail", "error": " ".join(n + "=" + os.environ.get(n, "-") for n in names)})
open(os.path.join(d, "clean.%d" % os.getpid()), "w").close()
)PY";

// Waits (up to 10 s) until process `pid` has exited: gone, or a zombie not yet reaped.
void WaitExited(int pid) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return;
    const std::size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') return;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/evt-pipe-test.XXXXXX";
    REQUIRE(mkdtemp(path) != nullptr);
    path_ = path;
  }
  ~TempDir() {
    const std::string cmd = "rm -rf '" + path_ + "'";
    int rc = std::system(cmd.c_str());
    (void)rc;
  }
  const std::string& path() const { return path_; }

  // The pids named by files PREFIX.<pid> in the folder.
  std::set<int> Pids(const std::string& prefix) const {
    std::set<int> pids;
    DIR* d = opendir(path_.c_str());
    if (d == nullptr) return pids;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind(prefix + ".", 0) == 0) pids.insert(std::stoi(name.substr(prefix.size() + 1)));
    }
    closedir(d);
    return pids;
  }

  std::string Write(const std::string& name, const std::string& content, mode_t mode = 0755) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << content;
    chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::string path_;
};

// Alive and not a zombie (PID 1 in a container may never reap an orphan).
bool Alive(int pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const std::size_t close = line.rfind(')');
  return close == std::string::npos || line.size() < close + 3 || line[close + 2] != 'Z';
}

bool WaitDead(int pid, milliseconds bound = milliseconds(3000)) {
  const Clock::time_point until = Clock::now() + bound;
  while (Alive(pid)) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

Event ModeEvent(const std::string& mode, const std::string& id = "evt_01HX", Json extra = {}) {
  Event e;
  Json payload = Json{{"mode", mode}};
  if (extra.is_object()) payload.update(extra);
  e.doc = Json{{"schema_version", 1},    {"event_id", id},
               {"event_type", "t.pipe"}, {"occurred_at", "2024-05-01T12:00:00.000Z"},
               {"source", "test"},       {"idempotency_key", id},
               {"correlation_id", id},   {"retry_count", 0},
               {"payload", payload}};
  return e;
}

PipeHandlerOptions Options(std::vector<std::string> argv) {
  PipeHandlerOptions o;
  o.argv = std::move(argv);
  o.timeout = milliseconds(10000);  // Python starts slowly on a loaded machine
  o.kill_after = milliseconds(500);
  o.restart_backoff_min = milliseconds(10);
  o.restart_backoff_max = milliseconds(40);
  return o;
}

std::unique_ptr<PipeHandler> Make(PipeHandlerOptions o) {
  Result<std::unique_ptr<PipeHandler>> h = PipeHandler::Create(std::move(o));
  INFO((h.ok() ? std::string() : h.status().message()));
  REQUIRE(h.ok());
  return std::move(*h);
}

std::unique_ptr<PipeHandler> MakePython(const TempDir& dir, PipeHandlerOptions o = Options({})) {
  const std::string script = dir.path() + "/handler.py";
  std::ofstream(script) << kScript;
  o.argv = {"python3", script, dir.path()};
  return Make(std::move(o));
}

HandlerResult Run(Handler& h, const Event& e, std::vector<std::string>* stderr_lines = nullptr,
                  const Cancellation* cancel = nullptr) {
  AttemptContext ctx;
  ctx.event = &e;
  ctx.cancel = cancel;
  if (stderr_lines != nullptr) {
    ctx.on_stderr_line = [stderr_lines](std::string_view l) { stderr_lines->emplace_back(l); };
  }
  return h.Run(ctx);
}

TEST_CASE("Pipe handler: ok, retry and fail replies, one warm process for all", "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  HandlerResult ok = Run(*h, ModeEvent("ok"));
  CHECK(ok.outcome == Outcome::kDone);
  CHECK(ok.error.empty());

  HandlerResult retry = Run(*h, ModeEvent("retry"));
  CHECK(retry.outcome == Outcome::kTransient);
  CHECK(retry.category == Category::kNetwork);
  CHECK(retry.error == "db busy");
  CHECK(retry.retry_after == milliseconds(1500));

  HandlerResult fail = Run(*h, ModeEvent("fail"));
  CHECK(fail.outcome == Outcome::kPermanent);
  CHECK(fail.category == Category::kAuth);
  CHECK(fail.error == "bad record second line");
  CHECK(fail.retry_after == milliseconds(0));

  HandlerResult retry_bare = Run(*h, ModeEvent("retry-bare"));
  CHECK(retry_bare.outcome == Outcome::kTransient);
  CHECK(retry_bare.category == Category::kDependency);
  CHECK(retry_bare.error == "the handler replied retry");
  HandlerResult fail_bare = Run(*h, ModeEvent("fail-bare"));
  CHECK(fail_bare.outcome == Outcome::kPermanent);
  CHECK(fail_bare.category == Category::kData);

  for (const HandlerResult& r : {ok, retry, fail, retry_bare, fail_bare}) {
    CHECK_FALSE(r.fatal);
    CHECK_FALSE(r.interrupted);
  }
  CHECK(dir.Pids("pid").size() == 1);  // started once, reused for every event
}

TEST_CASE("Pipe handler: a co-process that exits mid-event is a crash and is restarted",
          "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  std::vector<std::string> lines;
  HandlerResult r = Run(*h, ModeEvent("crash", "evt_crash"), &lines);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kCrash);
  CHECK(r.error == "co-process ended before replying: exit 3: about to crash on evt_crash");
  CHECK(lines == std::vector<std::string>{"about to crash on evt_crash"});
  CHECK_FALSE(r.fatal);

  CHECK(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  CHECK(dir.Pids("pid").size() == 2);
}

TEST_CASE("Pipe handler: no reply within the timeout kills the co-process", "[handler_pipe]") {
  TempDir dir;
  // A shell co-process: it starts well within the timeout even on a loaded machine (the
  // first event's timeout includes the start-up).
  const std::string script =
      dir.Write("hang.sh",
                "#!/bin/sh\n: > \"$1/pid.$$\"\nwhile read -r line; do\n  case \"$line\" in\n"
                "    *'\"hang\"'*) sleep 100 ;;\n    *) echo '{\"status\":\"ok\"}' ;;\n  esac\n"
                "done\n");
  PipeHandlerOptions o = Options({script, dir.path()});
  o.timeout = milliseconds(1000);
  o.kill_after = milliseconds(200);
  auto h = Make(o);
  REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  const std::set<int> first = dir.Pids("pid");
  REQUIRE(first.size() == 1);

  const Clock::time_point start = Clock::now();
  HandlerResult r = Run(*h, ModeEvent("hang"));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  CHECK(r.outcome == Outcome::kTransient);
  CHECK(r.category == Category::kTimeout);
  CHECK(r.error == "no reply from the co-process within 1s");
  CHECK(took >= milliseconds(1000));
  CHECK(took < milliseconds(3000));
  CHECK(WaitDead(*first.begin()));

  CHECK(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);  // a fresh one, at once
  CHECK(dir.Pids("pid").size() == 2);
}

TEST_CASE("Pipe handler: garbage and bad replies are crashes, the co-process is replaced",
          "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  HandlerResult garbage = Run(*h, ModeEvent("garbage"));
  CHECK(garbage.outcome == Outcome::kTransient);
  CHECK(garbage.category == Category::kCrash);
  CHECK(garbage.error == "malformed reply from the co-process (not JSON): hello, I am not JSON");
  CHECK(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);

  HandlerResult bad = Run(*h, ModeEvent("bad-status"));
  CHECK(bad.category == Category::kCrash);
  CHECK(bad.error.find("\"status\" must be ok, retry or fail") != std::string::npos);
  CHECK(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  CHECK(dir.Pids("pid").size() == 3);
}

TEST_CASE("Pipe handler: extra output or an exit between events only restarts the co-process",
          "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  CHECK(Run(*h, ModeEvent("two")).outcome == Outcome::kDone);
  std::this_thread::sleep_for(milliseconds(100));  // the second line arrives meanwhile
  CHECK(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  CHECK(dir.Pids("pid").size() == 2);

  CHECK(Run(*h, ModeEvent("exit-after")).outcome == Outcome::kDone);
  // The exit must have happened before the next event is sent (else that event meets a
  // co-process on its way out, a crash): wait for it, not for a fixed time (a loaded
  // machine takes longer than 100 ms to end Python).
  for (int pid : dir.Pids("pid")) WaitExited(pid);
  HandlerResult next = Run(*h, ModeEvent("ok"));
  CHECK(next.outcome == Outcome::kDone);
  CHECK(dir.Pids("pid").size() == 3);
}

TEST_CASE("Pipe handler: a co-process dying at start-up stops the worker, not spins",
          "[handler_pipe]") {
  TempDir dir;
  const std::string marker = dir.path() + "/starts";
  PipeHandlerOptions o = Options(
      {"/bin/sh", "-c",
       "echo start >> '" + marker + "'; echo 'ModuleNotFoundError: no module x' >&2; exit 1"});
  auto h = Make(o);
  const Clock::time_point start = Clock::now();
  std::vector<HandlerResult> results;
  for (int i = 0; i < 8; ++i) {
    results.push_back(Run(*h, ModeEvent("ok", "evt_" + std::to_string(i))));
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  for (int i = 0; i < 4; ++i) {
    INFO("event " << i);
    CHECK_FALSE(results[i].fatal);
    CHECK(results[i].outcome == Outcome::kTransient);
    CHECK(results[i].category == Category::kCrash);
    CHECK(results[i].error ==
          "co-process ended before replying: exit 1: ModuleNotFoundError: no module x");
  }
  for (int i = 4; i < 8; ++i) {
    INFO("event " << i);
    CHECK(results[i].fatal);
    CHECK(results[i].interrupted);
    CHECK(results[i].error ==
          "co-process /bin/sh ended 5 times in a row without answering an event; last: exit 1: "
          "ModuleNotFoundError: no module x");
  }
  // Five starts and no more: the later calls do not start anything.
  std::ifstream in(marker);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all == "start\nstart\nstart\nstart\nstart\n");
  CHECK(took < milliseconds(3000));
}

TEST_CASE("Pipe handler: one event that crashes every co-process is not fatal", "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  for (int attempt = 1; attempt <= 7; ++attempt) {
    INFO("attempt " << attempt);
    HandlerResult r = Run(*h, ModeEvent("crash", "evt_poison"));
    CHECK(r.category == Category::kCrash);
    CHECK_FALSE(r.fatal);
  }
  CHECK(Run(*h, ModeEvent("ok", "evt_fine")).outcome == Outcome::kDone);
}

TEST_CASE("Pipe handler: a command that cannot be started any more is fatal after retries",
          "[handler_pipe]") {
  TempDir dir;
  const std::string script = dir.Write("gone.sh", "#!/bin/sh\nexit 0\n");
  PipeHandlerOptions o = Options({script});
  auto h = Make(o);
  unlink(script.c_str());
  HandlerResult r;
  for (int i = 0; i < 5; ++i) r = Run(*h, ModeEvent("ok"));
  CHECK(r.fatal);
  CHECK(r.error.find("cannot run " + script + ": No such file or directory") != std::string::npos);
}

TEST_CASE("Pipe handler: co-processes never see evt's credentials", "[handler_pipe]") {
  TempDir dir;
  setenv("EVT_REDIS_PASSWORD", "hunter2", 1);
  setenv("EVT_REDIS_PASSWORD_FILE", "/etc/evt/pw", 1);
  setenv("EVT_BROKER", "redis://:hunter2@127.0.0.1:6379", 1);
  setenv("EVT_OTHER", "kept", 1);
  auto h = MakePython(dir);
  HandlerResult r = Run(*h, ModeEvent("env"));
  unsetenv("EVT_REDIS_PASSWORD");
  unsetenv("EVT_REDIS_PASSWORD_FILE");
  unsetenv("EVT_BROKER");
  unsetenv("EVT_OTHER");
  // As for a command handler: the broker URL without its password.
  CHECK(r.error ==
        "EVT_REDIS_PASSWORD=- EVT_REDIS_PASSWORD_FILE=- EVT_BROKER=redis://127.0.0.1:6379 "
        "EVT_OTHER=kept");
}

TEST_CASE("Pipe handler: refuses a missing command at creation", "[handler_pipe]") {
  CHECK(PipeHandler::Create(Options({})).status().kind() == Status::Kind::kConfig);
  CHECK(PipeHandler::Create(Options({"/nonexistent/handler"})).status().kind() ==
        Status::Kind::kConfig);
  PipeHandlerOptions zero = Options({"/bin/cat"});
  zero.processes = 0;
  CHECK(PipeHandler::Create(zero).status().kind() == Status::Kind::kUsage);
}

TEST_CASE("Pipe handler: stderr reaches the attempt, bounded", "[handler_pipe]") {
  TempDir dir;
  PipeHandlerOptions o = Options({});
  o.max_output_bytes = 100;  // each line is 25 bytes with its newline: 4 lines pass
  auto h = MakePython(dir, o);
  std::vector<std::string> lines;
  HandlerResult r = Run(*h, ModeEvent("stderr", "evt_1", Json{{"lines", 50}}), &lines);
  CHECK(r.outcome == Outcome::kDone);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "log line 00 of the event");
  CHECK(lines[3] == "log line 03 of the event");
}

TEST_CASE("Pipe handler: cancellation stops the co-process in flight", "[handler_pipe]") {
  TempDir dir;
  auto h = MakePython(dir);
  REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
  Cancellation cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel.Cancel();
  });
  const Clock::time_point start = Clock::now();
  HandlerResult r = Run(*h, ModeEvent("hang"), nullptr, &cancel);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  canceller.join();
  CHECK(r.interrupted);
  CHECK_FALSE(r.fatal);
  CHECK(took < milliseconds(2000));
  for (int pid : dir.Pids("pid")) CHECK(WaitDead(pid));
  CHECK(Run(*h, ModeEvent("ok"), nullptr, &cancel).interrupted);  // nothing new starts
}

TEST_CASE("Pipe handler: concurrent Runs use at most `processes` co-processes", "[handler_pipe]") {
  TempDir dir;
  PipeHandlerOptions o = Options({});
  o.processes = 2;
  auto h = MakePython(dir, o);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const Event e = ModeEvent("ok", "evt_" + std::to_string(t) + "_" + std::to_string(i));
        if (Run(*h, e).outcome == Outcome::kDone) ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(done == 20);
  CHECK(dir.Pids("pid").size() <= 2);
}

TEST_CASE("Pipe handler: destruction ends every co-process and its children", "[handler_pipe]") {
  TempDir dir;
  std::set<int> pids, children;
  {
    PipeHandlerOptions o = Options({});
    o.processes = 2;
    auto h = MakePython(dir, o);
    REQUIRE(Run(*h, ModeEvent("child")).outcome == Outcome::kDone);
    REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
    pids = dir.Pids("pid");
    children = dir.Pids("child");
    REQUIRE(pids.size() == 1);
    REQUIRE(children.size() == 1);
    for (int pid : pids) CHECK(Alive(pid));
  }
  for (int pid : pids) CHECK(WaitDead(pid));
  for (int pid : children) CHECK(WaitDead(pid));
  // The co-process saw the end of its input and finished its own way first.
  CHECK(dir.Pids("clean") == pids);
}

TEST_CASE("Pipe handler: a co-process that ignores end of input is killed at destruction",
          "[handler_pipe]") {
  TempDir dir;
  const std::string pid_file = dir.path() + "/stubborn.pid";
  PipeHandlerOptions o = Options({"/bin/sh", "-c",
                                  "trap '' TERM; echo $$ > '" + pid_file +
                                      "'; while read -r line; do echo '{\"status\":\"ok\"}'; "
                                      "done; sleep 100"});
  o.kill_after = milliseconds(200);
  int pid = 0;
  const Clock::time_point start = Clock::now();
  {
    auto h = Make(o);
    REQUIRE(Run(*h, ModeEvent("ok")).outcome == Outcome::kDone);
    std::ifstream(pid_file) >> pid;
    REQUIRE(pid > 0);
  }
  CHECK(std::chrono::duration_cast<milliseconds>(Clock::now() - start) < milliseconds(3000));
  CHECK(WaitDead(pid));
}

}  // namespace
}  // namespace evt
