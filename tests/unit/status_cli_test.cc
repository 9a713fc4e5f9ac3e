// evt-status's command line: --queue names one queue; without it every queue is read, and
// its --help, --help-json and man page say so (no "Default: default").
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "evt/cli.h"
#include "evt/status_command.h"

namespace evt {
namespace {

struct StatusApp {
  StatusApp() : app("test", "evt-status") {
    SetUpApp(app, &common);
    AddStatusOptions(app, &options, &flags);
  }
  int Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "evt-status");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
  }
  CLI::App app;
  CommonOptions common;
  StatusOptions options;
  StatusFlags flags;
};

TEST_CASE("evt-status --queue has no default: every queue unless one is named", "[status]") {
  {
    StatusApp s;
    const Json model = Json::parse(HelpJson(s.app));
    bool found = false;
    for (const Json& o : model["options"]) {
      if (o["long"] != Json::array({"--queue"})) continue;
      found = true;
      CHECK(o["default"].is_null());
      CHECK(o["env"] == "EVT_QUEUE");
      CHECK(o["description"].get<std::string>().find("every queue") != std::string::npos);
    }
    CHECK(found);
    const std::string help = s.app.help();
    const std::size_t at = help.find("--queue");
    REQUIRE(at != std::string::npos);
    const std::string line = help.substr(at, help.find('\n', at) - at);
    CHECK(line.find("=default") == std::string::npos);
    CHECK(line.find("Default") == std::string::npos);
  }
  {
    StatusApp s;
    REQUIRE(s.Parse({}) == -1);
    REQUIRE(FinishStatusOptions(s.app, s.flags, s.common.queue, &s.options).ok());
    CHECK(s.options.queues.empty());
  }
  {
    StatusApp s;
    REQUIRE(s.Parse({"--queue", "backups"}) == -1);
    REQUIRE(FinishStatusOptions(s.app, s.flags, s.common.queue, &s.options).ok());
    CHECK(s.options.queues == std::vector<std::string>{"backups"});
  }
}

}  // namespace
}  // namespace evt
