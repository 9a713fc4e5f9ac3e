// A real redis-server for integration tests: started on a free loopback port in a private
// temporary folder, stopped (and the folder removed) by the destructor. Never a mock.
//
// No call here blocks without a bound, and the server never outlives the test process:
// - the server does not inherit the test's stdout/stderr (its output goes to redis.out in
//   its folder), so a test that dies with a live server cannot keep CTest waiting for the
//   end of the test's output until the CTest timeout;
// - it gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG). That signal
//   follows the starting *thread*, so Start() must run on the test's own thread; it throws
//   std::logic_error otherwise;
// - Start() gives up after 10 s, Stop() escalates to SIGKILL after 10 s, Cli() is cut off
//   by timeout(1) after 10 s.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace evt::testing {

class RedisServer {
 public:
  // `extra` are additional redis-server arguments, e.g. {"--appendonly", "yes"}.
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    char tmpl[] = "/tmp/evt-redis.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    try {
      port_ = FreePort();
      Start();
    } catch (...) {
      RemoveDir();
      throw;
    }
  }
  ~RedisServer() {
    Stop();
    RemoveDir();
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Starts the server (again) on the same port and data folder; waits (at most 10 s) until it
  // answers. Only from the test's own thread (see the top of this file).
  void Start() {
    if (::syscall(SYS_gettid) != ::getpid()) {
      throw std::logic_error("RedisServer::Start must run on the test's main thread");
    }
    if (pid_ > 0) throw std::logic_error("RedisServer::Start: already running");
    // Everything the child needs is prepared before fork: between fork and exec a child
    // of a multi-threaded process may only make async-signal-safe calls (no malloc).
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_,
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     dir_ + "/redis.log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = dir_ + "/redis.out";
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || null_in < 0) {
      if (out >= 0) ::close(out);
      if (null_in >= 0) ::close(null_in);
      throw std::runtime_error("cannot open " + out_path + " or /dev/null");
    }
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      ::dup2(null_in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(null_in);
    if (pid_ < 0) throw std::runtime_error("fork failed");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
      if (Ping()) return;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start on port " + std::to_string(port_) +
                                 ": " + Logs());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    Stop(/*crash=*/true);
    throw std::runtime_error("redis-server did not answer within 10 s on port " +
                             std::to_string(port_) + ": " + Logs());
  }

  // Stops the server; with `crash` by SIGKILL (no shutdown save), else SIGTERM, then SIGKILL
  // if it has not exited within 10 s.
  void Stop(bool crash = false) {
    if (pid_ <= 0) return;
    ::kill(pid_, crash ? SIGKILL : SIGTERM);
    int status;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > give_up) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);  // SIGKILL cannot be ignored: this returns
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  // Runs redis-cli against this server (cut off after 10 s) and returns its trimmed stdout.
  std::string Cli(const std::string& args) const {
    std::string cmd =
        "timeout -k 1 10 redis-cli -p " + std::to_string(port_) + " " + args + " 2>&1 </dev/null";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "re");
    if (p == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

  pid_t pid() const { return pid_; }

 private:
  // A loopback port that is free now, and whose +10000 (Redis Cluster's bus port, for
  // tests that enable cluster mode) is a valid port that is free too.
  static int FreePort() {
    for (int tries = 0; tries < 100; ++tries) {
      int port = BindAny(0);
      if (port > 0 && port + 10000 <= 65535 && BindAny(port + 10000) > 0) return port;
    }
    throw std::runtime_error("no free port pair for redis-server");
  }

  // Binds a loopback TCP socket to `port` (0 = any), closes it, returns the port or -1.
  static int BindAny(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    int got = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      got = ntohs(addr.sin_port);
    }
    ::close(fd);
    return got;
  }

  bool Ping() const { return Cli("PING") == "PONG"; }

  // The server's own output and the end of its log, for an error message.
  std::string Logs() const {
    std::string text;
    for (const char* name : {"/redis.out", "/redis.log"}) {
      std::ifstream in(dir_ + name);
      std::stringstream s;
      s << in.rdbuf();
      std::string t = s.str();
      if (t.size() > 2000) t = "..." + t.substr(t.size() - 2000);
      text += std::string(name + 1) + ": " + t + "\n";
    }
    return text;
  }

  void RemoveDir() {
    std::string cmd = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
  }

  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace evt::testing
