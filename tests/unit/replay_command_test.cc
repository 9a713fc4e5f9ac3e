// evt-replay's command line: the --to target (- or a broker URL, password resolved and
// never shown), whether it is another store, and which combinations are usage errors.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>

#include "evt/replay.h"
#include "temp_dir.h"

namespace {

evt::BrokerConfig Url(const std::string& url) { return *evt::ParseBrokerUrl(url); }

evt::Status Check(const std::string& broker, const std::string& to,
                  const std::function<void(evt::ReplayCommand&)>& edit = nullptr) {
  evt::ReplayCommand c;
  c.to = to;
  if (edit) edit(c);
  evt::Result<evt::BrokerConfig> target = evt::ResolveReplayTarget(to, "");
  REQUIRE(target.ok());
  return evt::CheckReplayCommand(Url(broker), *target, c);
}

}  // namespace

TEST_CASE("replay --to: - and nothing are no broker, a URL is a durable broker", "[replay][cli]") {
  CHECK_FALSE(evt::ResolveReplayTarget("", "")->is_durable());
  CHECK_FALSE(evt::ResolveReplayTarget("-", "")->is_durable());
  evt::Result<evt::BrokerConfig> r = evt::ResolveReplayTarget("redis://10.0.0.5:6380/2", "");
  REQUIRE(r.ok());
  CHECK(r->kind == evt::BrokerConfig::Kind::kRedisTcp);
  CHECK(r->port == 6380);
  CHECK(r->db == 2);
  CHECK(evt::ResolveReplayTarget("sqlite:///var/lib/evt/evt.db", "")->kind ==
        evt::BrokerConfig::Kind::kSqlite);
}

TEST_CASE("replay --to: a bad URL is a one-line usage error naming --to, never the password",
          "[replay][cli]") {
  evt::Status s = evt::ResolveReplayTarget("redis://u:hunter2@host:notaport", "").status();
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK_THAT(s.message(), Catch::StartsWith("--to redis://u:***@host:notaport: "));
  CHECK_THAT(s.message(), !Catch::Contains("hunter2"));
  CHECK(s.message().find('\n') == std::string::npos);
  s = evt::ResolveReplayTarget("http://example.com", "").status();
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK_THAT(s.message(), Catch::StartsWith("--to http://example.com: expected"));
}

TEST_CASE("replay --to: a Redis URL without a password takes --redis-password-file's",
          "[replay][cli]") {
  evt::testing::TempDir dir;
  std::ofstream(dir / "pw") << "s3cret\n";
  evt::Result<evt::BrokerConfig> r = evt::ResolveReplayTarget("redis://h", dir / "pw");
  REQUIRE(r.ok());
  CHECK(r->password == "s3cret");
  r = evt::ResolveReplayTarget("redis://:own@h", dir / "pw");  // the URL's own comes first
  REQUIRE(r.ok());
  CHECK(r->password == "own");
  CHECK(r->redacted == "redis://:***@h");
  CHECK(evt::ResolveReplayTarget("redis://h", dir / "missing").status().kind() ==
        evt::Status::Kind::kConfig);
  // A file never asks for a password.
  CHECK(evt::ResolveReplayTarget("sqlite:///x/evt.db", dir / "missing").ok());
}

TEST_CASE("replay --to: another store is another kind, server, database or file", "[replay][cli]") {
  CHECK_FALSE(evt::IsOtherStore(Url("redis://h:6379/0"), Url("redis://u:pw@h")));
  CHECK(evt::IsOtherStore(Url("redis://h"), Url("redis://h:6380")));
  CHECK(evt::IsOtherStore(Url("redis://h"), Url("redis://h/1")));
  CHECK(evt::IsOtherStore(Url("redis://h"), Url("redis://g")));
  CHECK(evt::IsOtherStore(Url("unix:///run/r.sock"), Url("unix:///run/r.sock?db=3")));
  CHECK(evt::IsOtherStore(Url("sqlite:///a/evt.db"), Url("redis://h")));
  CHECK_FALSE(evt::IsOtherStore(Url("sqlite:///a/evt.db"), Url("sqlite:///a/evt.db")));
  CHECK(evt::IsOtherStore(Url("sqlite:///a/evt.db"), Url("sqlite:///b/evt.db")));
  // One file under two names is one store.
  evt::testing::TempDir dir;
  std::ofstream(dir / "evt.db") << "";
  REQUIRE(::symlink((dir / "evt.db").c_str(), (dir / "link.db").c_str()) == 0);
  CHECK_FALSE(
      evt::IsOtherStore(Url("sqlite://" + (dir / "evt.db")), Url("sqlite://" + (dir / "link.db"))));
}

TEST_CASE("replay combinations: --to URL goes with --to-queue, --to - does not", "[replay][cli]") {
  const auto to_queue = [](evt::ReplayCommand& c) { c.options.to_queue = "other"; };
  CHECK(Check("sqlite:///a/evt.db", "redis://h", to_queue).ok());
  CHECK(Check("sqlite:///a/evt.db", "redis://h").ok());
  CHECK(Check("redis://h", "-", to_queue).kind() == evt::Status::Kind::kUsage);
  CHECK(Check("redis://h", "-").ok());
  const auto stream = [](evt::ReplayCommand& c) {
    c.options.source = evt::ReplayOptions::Source::kStream;
  };
  CHECK(Check("sqlite:///a/evt.db", "redis://h", stream).ok());
  const auto stream_keep = [](evt::ReplayCommand& c) {
    c.options.source = evt::ReplayOptions::Source::kStream;
    c.options.keep = true;
  };
  CHECK(Check("sqlite:///a/evt.db", "redis://h", stream_keep).kind() == evt::Status::Kind::kUsage);
}

TEST_CASE("replay combinations: a queue source needs --broker, a file needs a target",
          "[replay][cli]") {
  // --to names only the target: the dead letters still come from --broker.
  CHECK(Check("-", "redis://h").kind() == evt::Status::Kind::kUsage);
  const auto file = [](evt::ReplayCommand& c) {
    c.options.source = evt::ReplayOptions::Source::kFile;
    c.from_file = "dlq.ndjson";
  };
  CHECK(Check("-", "redis://h", file).ok());
  CHECK(Check("-", "-", file).ok());
  evt::Status none = Check("-", "", file);
  CHECK(none.kind() == evt::Status::Kind::kUsage);
  CHECK_THAT(none.message(), Catch::Contains("--to URL"));
}

TEST_CASE("replay combinations: a --to URL must be resolved first", "[replay][cli]") {
  evt::ReplayCommand c;
  c.to = "redis://u:pw@h";
  evt::Status s = evt::CheckReplayCommand(Url("redis://h"), evt::BrokerConfig(), c);
  CHECK(s.kind() == evt::Status::Kind::kInternal);
  CHECK_THAT(s.message(), !Catch::Contains(":pw@"));
}
