// A real redis-server for integration tests: started on a free loopback port in a private
// temporary folder, stopped (and the folder removed) by the destructor. Never a mock.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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
    port_ = FreePort();
    Start();
  }
  ~RedisServer() {
    Stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Starts the server (again) on the same port and data folder; waits until it answers.
  void Start() {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
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
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (Ping()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) +
                             " (see " + dir_ + "/redis.log)");
  }

  // Stops the server; with `crash` by SIGKILL (no shutdown save), else SIGTERM.
  void Stop(bool crash = false) {
    if (pid_ <= 0) return;
    ::kill(pid_, crash ? SIGKILL : SIGTERM);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Runs redis-cli against this server and returns its trimmed stdout.
  std::string Cli(const std::string& args) const {
    std::string cmd = "redis-cli -p " + std::to_string(port_) + " " + args + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

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
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
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

  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace evt::testing
