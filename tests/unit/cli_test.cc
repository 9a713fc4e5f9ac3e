#include "evt/cli.h"

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

}  // namespace

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
