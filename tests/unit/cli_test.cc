#include "evt/cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Parses `args` (without the program name) and returns ParseCommandLine's answer.
int Parse(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "evt-test");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return evt::ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
}

// Parses `args` like Parse, with stderr sent to a pipe; returns what was printed there and
// sets *rc to ParseCommandLine's answer.
std::string ParseErr(CLI::App& app, std::vector<std::string> args, int* rc) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(p[1], STDERR_FILENO);
  ::close(p[1]);
  *rc = Parse(app, std::move(args));
  std::fflush(stderr);
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

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// An app shaped like evt-work's: the common options, a few of its own, a handler after --.
struct WorkLikeApp {
  WorkLikeApp() : app("test", "evt-test") {
    evt::SetUpApp(app, &common);
    app.add_option("-c,--concurrency", concurrency, "Handlers")
        ->envname("EVT_TEST_CONCURRENCY")
        ->check(CLI::Range(1, 1024));
    app.add_option("--jitter", jitter, "Jitter")
        ->envname("EVT_TEST_JITTER")
        ->check(CLI::Range(0.0, 10.0));
    app.add_option("--max-output-bytes", max_output, "Bound")->envname("EVT_TEST_MAX_OUTPUT");
    app.add_option("-t,--type", type, "event_type");
    evt::AddDurationOption(app, "--timeout", &timeout, "limit", "EVT_TEST_TIMEOUT");
    app.add_option("command", command, "The handler (after --)")->take_all();
  }
  CLI::App app;
  evt::CommonOptions common;
  int concurrency = 1;
  double jitter = 0.1;
  std::size_t max_output = 65536;
  std::string type;
  evt::Millis timeout{1000};
  std::vector<std::string> command;
};

}  // namespace

TEST_CASE("an unknown option names itself and the nearest known one", "[cli]") {
  int rc = 0;
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--tpye", "a.b"}, &rc);
    CHECK(rc == 64);
    CHECK(FirstLine(err) == "evt-test: error: unknown option --tpye (did you mean --type?)");
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--concurency=4", "--", "true"}, &rc);
    CHECK(rc == 64);
    CHECK(FirstLine(err) ==
          "evt-test: error: unknown option --concurency (did you mean --concurrency?)");
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--zzzzzzzz"}, &rc);
    CHECK(rc == 64);
    CHECK(FirstLine(err) == "evt-test: error: unknown option --zzzzzzzz");
    CHECK(err.find("Run 'evt-test --help' for usage.") != std::string::npos);
  }
}

TEST_CASE("the nearest option is found by edit distance over the app's names", "[cli]") {
  WorkLikeApp w;
  CHECK(evt::NearestOption(w.app, "--tpye") == "--type");
  CHECK(evt::NearestOption(w.app, "--timout") == "--timeout");
  CHECK(evt::NearestOption(w.app, "--log-levle") == "--log-level");
  CHECK(evt::NearestOption(w.app, "--loglevel") == "--log-level");
  CHECK(evt::NearestOption(w.app, "--max-output") == "--max-output-bytes");
  CHECK(evt::NearestOption(w.app, "--brokr=redis://x") == "--broker");
  CHECK(evt::NearestOption(w.app, "--queu") == "--queue");
  CHECK(evt::NearestOption(w.app, "--xyzzy") == "");
  CHECK(evt::NearestOption(w.app, "-x") == "");
}

TEST_CASE("a bad value from the environment names the variable", "[cli]") {
  int rc = 0;
  ::setenv("EVT_TEST_CONCURRENCY", "abc", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(rc == 64);
    CHECK(FirstLine(err) == "evt-test: error: EVT_TEST_CONCURRENCY=abc: not a number");
  }
  {
    WorkLikeApp w;  // the flag wins over the environment, which is then never read
    CHECK(ParseErr(w.app, {"-c", "2", "--", "true"}, &rc).empty());
    CHECK(rc == -1);
    CHECK(w.concurrency == 2);
  }
  ::setenv("EVT_TEST_CONCURRENCY", "0", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(FirstLine(err) == "evt-test: error: EVT_TEST_CONCURRENCY=0: not in range 1 to 1024");
  }
  ::unsetenv("EVT_TEST_CONCURRENCY");
  ::setenv("EVT_TEST_JITTER", "11", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(FirstLine(err) == "evt-test: error: EVT_TEST_JITTER=11: not in range 0 to 10");
  }
  ::unsetenv("EVT_TEST_JITTER");
  ::setenv("EVT_TEST_MAX_OUTPUT", "lots", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(FirstLine(err) == "evt-test: error: EVT_TEST_MAX_OUTPUT=lots: not a number");
  }
  ::unsetenv("EVT_TEST_MAX_OUTPUT");
  ::setenv("EVT_TEST_TIMEOUT", "soon", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(FirstLine(err).rfind("evt-test: error: EVT_TEST_TIMEOUT=soon: invalid duration", 0) == 0);
  }
  ::unsetenv("EVT_TEST_TIMEOUT");
  ::setenv("EVT_LOG_LEVEL", "loud", 1);
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--", "true"}, &rc);
    CHECK(FirstLine(err) ==
          "evt-test: error: EVT_LOG_LEVEL=loud: not one of debug, info, warn, warning, error, "
          "off");
  }
  ::unsetenv("EVT_LOG_LEVEL");
}

TEST_CASE("a bad value from a flag says what it is", "[cli]") {
  int rc = 0;
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--concurrency", "abc", "--", "true"}, &rc);
    CHECK(rc == 64);
    CHECK(FirstLine(err) == "evt-test: error: --concurrency: abc is not a number");
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"-c", "2000", "--", "true"}, &rc);
    CHECK(FirstLine(err) == "evt-test: error: --concurrency: 2000 is not in range 1 to 1024");
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--log-level", "loud"}, &rc);
    CHECK(FirstLine(err) ==
          "evt-test: error: --log-level: loud is not one of debug, info, warn, warning, error, "
          "off");
  }
}

TEST_CASE("a handler given without -- gets a hint", "[cli]") {
  int rc = 0;
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"sh", "-c", "exit 0"}, &rc);
    CHECK(rc == 64);
    CHECK(err.find("\nevt-test: put the handler after --: evt-test -- sh -c 'exit 0'\n") !=
          std::string::npos);
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--timeout", "5s", "grep", "-x", "it's"}, &rc);
    CHECK(rc == 64);
    CHECK(err.find("\nevt-test: put the handler after --: evt-test --timeout 5s -- grep -x "
                   "'it'\\''s'\n") != std::string::npos);
  }
  {
    WorkLikeApp w;
    CHECK(ParseErr(w.app, {"--", "sh", "-c", "exit 0"}, &rc).empty());
    CHECK(rc == -1);
    CHECK(w.command == std::vector<std::string>{"sh", "-c", "exit 0"});
  }
  {
    WorkLikeApp w;  // a mistake of evt-work's own options: no talk of handlers
    std::string err = ParseErr(w.app, {"--tpye", "--", "sh"}, &rc);
    CHECK(err.find("put the handler") == std::string::npos);
  }
}

TEST_CASE("a flag before the handler takes no value: the hint still comes", "[cli]") {
  int rc = 0;
  {
    WorkLikeApp w;  // -v is a flag: "sh" is the handler, not -v's value
    std::string err = ParseErr(w.app, {"-v", "sh", "-c", "exit 0"}, &rc);
    CHECK(rc == 64);
    CHECK(err.find("\nevt-test: put the handler after --: evt-test -v -- sh -c 'exit 0'\n") !=
          std::string::npos);
  }
  {
    WorkLikeApp w;
    std::string err = ParseErr(w.app, {"--verbose", "--timeout", "5s", "grep", "-c", "x"}, &rc);
    CHECK(rc == 64);
    CHECK(err.find("\nevt-test: put the handler after --: evt-test --verbose --timeout 5s -- "
                   "grep -c x\n") != std::string::npos);
  }
}

TEST_CASE("the -v flag logs at info at least, the default level is warn", "[cli]") {
  int rc = 0;
  {
    WorkLikeApp w;
    CHECK(ParseErr(w.app, {}, &rc).empty());
    CHECK(w.common.log_level == "warn");
    REQUIRE(evt::ApplyCommonOptions("evt-test", w.common).ok());
    CHECK_FALSE(evt::LogEnabled(evt::LogLevel::kInfo));
    CHECK(evt::LogEnabled(evt::LogLevel::kWarn));
  }
  {
    WorkLikeApp w;
    CHECK(ParseErr(w.app, {"-v"}, &rc).empty());
    REQUIRE(evt::ApplyCommonOptions("evt-test", w.common).ok());
    CHECK(evt::LogEnabled(evt::LogLevel::kInfo));
    CHECK_FALSE(evt::LogEnabled(evt::LogLevel::kDebug));
  }
  {
    WorkLikeApp w;
    CHECK(ParseErr(w.app, {"-v", "--log-level", "debug"}, &rc).empty());
    REQUIRE(evt::ApplyCommonOptions("evt-test", w.common).ok());
    CHECK(evt::LogEnabled(evt::LogLevel::kDebug));
  }
  evt::InitLogging({"test", evt::LogFormat::kText, evt::LogLevel::kOff});
}

TEST_CASE("a duration option reads the flag, else the environment, else its default", "[cli]") {
  evt::Millis timeout{120000};
  {
    CLI::App app("test", "evt-test");
    evt::AddDurationOption(app, "--timeout", &timeout, "limit", "EVT_TEST_TIMEOUT");
    CHECK(Parse(app, {}) == -1);
    CHECK(timeout == evt::Millis(120000));
  }
  ::setenv("EVT_TEST_TIMEOUT", "90s", 1);
  {
    CLI::App app("test", "evt-test");
    evt::AddDurationOption(app, "--timeout", &timeout, "limit", "EVT_TEST_TIMEOUT");
    CHECK(Parse(app, {}) == -1);
    CHECK(timeout == evt::Millis(90000));
  }
  {
    CLI::App app("test", "evt-test");
    evt::AddDurationOption(app, "--timeout", &timeout, "limit", "EVT_TEST_TIMEOUT");
    CHECK(Parse(app, {"--timeout", "250ms"}) == -1);
    CHECK(timeout == evt::Millis(250));
  }
  ::unsetenv("EVT_TEST_TIMEOUT");
}

TEST_CASE("usage errors exit 64, --help and --version exit 0", "[cli]") {
  evt::Millis timeout{1000};
  evt::CommonOptions common;
  auto make = [&](CLI::App& app) {
    evt::SetUpApp(app, &common);
    evt::AddDurationOption(app, "--timeout", &timeout, "limit", "EVT_TEST_TIMEOUT");
  };
  {
    CLI::App app("test", "evt-test");
    make(app);
    CHECK(Parse(app, {"--timeout", "soon"}) == 64);
  }
  {
    CLI::App app("test", "evt-test");
    make(app);
    CHECK(Parse(app, {"--no-such-option"}) == 64);
  }
  {
    CLI::App app("test", "evt-test");
    make(app);
    CHECK(Parse(app, {"--log-format", "xml"}) == 64);
  }
  {
    CLI::App app("test", "evt-test");
    make(app);
    CHECK(Parse(app, {"--version"}) == 0);
  }
  {
    CLI::App app("test", "evt-test");
    make(app);
    CHECK(Parse(app, {"--help"}) == 0);
  }
}

TEST_CASE("the common options are checked before anything runs", "[cli]") {
  evt::CommonOptions common;
  CHECK(evt::ApplyCommonOptions("evt-test", common).ok());
  common.queue = "bad queue";
  CHECK(evt::ApplyCommonOptions("evt-test", common).kind() == evt::Status::Kind::kUsage);
  common.queue = "default";
  common.broker = "amqp://u:hunter2@host";
  evt::Status s = evt::ApplyCommonOptions("evt-test", common);
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK_THAT(s.message(), !Catch::Contains("hunter2"));
  common.broker = "redis://:from-url@host";
  auto broker = evt::ResolveBroker(common);
  REQUIRE(broker.ok());
  CHECK(broker->password == "from-url");
  evt::InitLogging({"test", evt::LogFormat::kText, evt::LogLevel::kOff});
}
