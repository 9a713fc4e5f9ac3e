#include <catch2/catch.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "evt/cli.h"

namespace {

using nlohmann::json;

// A small app with one of each kind of option CLI11 has.
struct SmallApp {
  SmallApp() : app("A small tool.", "evt-small") {
    app.set_version_flag("--version", evt::VersionString(), "Print the version and exit");
    app.add_flag("-v,--verbose", verbose, "Say more");
    app.add_option("-c,--count", count, "How many")
        ->envname("EVT_SMALL_COUNT")
        ->check(CLI::Range(1, 9))
        ->capture_default_str();
    app.add_option("--mode", mode, "fast or slow")
        ->check(CLI::IsMember({"fast", "slow"}))
        ->capture_default_str();
    app.add_option("--header", headers, "A header")->type_name("'NAME: VALUE'");
    auto* a = app.add_flag("--a", a_flag, "Mode a");
    app.add_flag("--b", b_flag, "Mode b")->excludes(a);
    app.add_option("--secret", secret, "Not shown")->group("");
    app.add_option_group("grouped")->add_option("--in-group", in_group, "In an option group");
    CLI::App* sub = app.add_subcommand("list", "List things");
    sub->alias("ls");
    sub->add_option("--limit", limit, "At most this many")->capture_default_str();
    app.add_option("command", command, "The rest")->take_all();
    evt::AddHelpJson(app);
  }
  // The option (or positional, or subcommand option) named `name` in `model`.
  static json Find(const json& list, const std::string& name) {
    for (const json& o : list) {
      if (o["name"] == name) return o;
    }
    FAIL("no option " << name);
    return {};
  }
  CLI::App app;
  bool verbose = false, a_flag = false, b_flag = false;
  int count = 3, limit = 10;
  std::string mode = "fast", secret, in_group;
  std::vector<std::string> headers, command;
};

// Runs ParseCommandLine on `args` with stdout captured; returns what it printed there.
std::string ParseOut(CLI::App& app, std::vector<std::string> args, int* rc) {
  args.insert(args.begin(), "evt-small");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream captured;
  std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
  *rc = evt::ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(saved);
  return captured.str();
}

}  // namespace

TEST_CASE("HelpJson describes every option of a CLI11 app", "[cli_json]") {
  SmallApp s;
  const json m = json::parse(evt::HelpJson(s.app));
  CHECK(m["help_json"] == 1);
  CHECK(m["name"] == "evt-small");
  CHECK(m["version"] == evt::VersionString());
  CHECK(m["description"] == "A small tool.");

  const json verbose = SmallApp::Find(m["options"], "--verbose");
  CHECK(verbose["short"] == json{"-v"});
  CHECK(verbose["long"] == json{"--verbose"});
  CHECK(verbose["takes_value"] == false);
  CHECK(verbose["type"].is_null());
  CHECK(verbose["description"] == "Say more");

  const json count = SmallApp::Find(m["options"], "--count");
  CHECK(count["short"] == json{"-c"});
  CHECK(count["takes_value"] == true);
  CHECK(count["type"] == "INT");
  CHECK(count["checks"] == json{"INT in [1 - 9]"});
  CHECK(count["choices"].is_null());
  CHECK(count["default"] == "3");
  CHECK(count["env"] == "EVT_SMALL_COUNT");
  CHECK(count["repeatable"] == false);
  CHECK(count["hidden"] == false);

  const json mode = SmallApp::Find(m["options"], "--mode");
  CHECK(mode["choices"] == json({"fast", "slow"}));
  CHECK(mode["checks"] == json::array());
  CHECK(mode["default"] == "fast");
  CHECK(mode["env"].is_null());

  const json header = SmallApp::Find(m["options"], "--header");
  CHECK(header["type"] == "'NAME: VALUE'");
  CHECK(header["repeatable"] == true);
  CHECK(header["default"].is_null());

  CHECK(SmallApp::Find(m["options"], "--b")["excludes"] == json{"--a"});
  CHECK(SmallApp::Find(m["options"], "--version")["takes_value"] == false);
  CHECK(SmallApp::Find(m["options"], "--help")["short"] == json{"-h"});
  CHECK(SmallApp::Find(m["options"], "--secret")["hidden"] == true);
  CHECK(SmallApp::Find(m["options"], "--help-json")["hidden"] == true);
  CHECK(SmallApp::Find(m["options"], "--in-group")["description"] == "In an option group");

  REQUIRE(m["positionals"].size() == 1);
  CHECK(m["positionals"][0]["name"] == "command");
  CHECK(m["positionals"][0]["positional"] == true);
  CHECK(m["positionals"][0]["repeatable"] == true);

  REQUIRE(m["subcommands"].size() == 1);
  const json list = m["subcommands"][0];
  CHECK(list["name"] == "list");
  CHECK(list["aliases"] == json{"ls"});
  CHECK(list["description"] == "List things");
  CHECK(SmallApp::Find(list["options"], "--limit")["default"] == "10");
  CHECK(m["require_subcommand"] == false);
}

TEST_CASE("help-json: prints the model on stdout and exits 0, whatever follows", "[cli_json]") {
  SmallApp s;
  int rc = -1;
  std::string out = ParseOut(s.app, {"--help-json"}, &rc);
  CHECK(rc == 0);
  CHECK(json::parse(out) == json::parse(evt::HelpJson(s.app)));

  SmallApp sub;
  out = ParseOut(sub.app, {"list", "--help-json"}, &rc);
  CHECK(rc == 0);
  CHECK(json::parse(out)["name"] == "evt-small");

  SmallApp bad;
  out = ParseOut(bad.app, {"--mode", "wrong", "--help-json", "--no-such-option"}, &rc);
  CHECK(rc == 0);
  CHECK(json::parse(out)["name"] == "evt-small");
}

TEST_CASE("help-json: does not show in --help", "[cli_json]") {
  SmallApp s;
  CHECK(s.app.help().find("--help-json") == std::string::npos);
  CHECK(s.app.help().find("--count") != std::string::npos);
}
