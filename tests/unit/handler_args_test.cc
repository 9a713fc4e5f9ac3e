#include "evt/handler_args.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace evt {
namespace {

using Args = std::vector<std::string>;

Event UserEvent() {
  Event e;
  e.doc = Json{{"schema_version", 1},
               {"event_id", "evt_01HX"},
               {"event_type", "user.imported"},
               {"idempotency_key", "user-7"},
               {"retry_count", 2},
               {"payload", Json{{"server", "srv-a"},
                                {"name", "Ann Lee; rm -rf / $(id)"},
                                {"port", 5432},
                                {"ratio", 0.5},
                                {"admin", true},
                                {"note", nullptr},
                                {"hosts", Json::array({"h1", "h2"})},
                                {"a", Json{{"b", Json{{"c", "deep"}}}}},
                                {"empty", ""}}}};
  return e;
}

Args Expand(const Args& argv) {
  Result<Args> r = ExpandArguments(argv, UserEvent());
  INFO((r.ok() ? std::string() : r.status().message()));
  REQUIRE(r.ok());
  return *r;
}

std::string ExpandError(const Args& argv) {
  Result<Args> r = ExpandArguments(argv, UserEvent());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == Status::Kind::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("ExpandArguments: each placeholder becomes exactly one argument", "[handler_args]") {
  CHECK(Expand({"backup.sh", "{payload.server}", "{event_id}"}) ==
        Args{"backup.sh", "srv-a", "evt_01HX"});
  // Spaces, quotes and shell syntax stay inside the one element: no shell ever sees them.
  CHECK(Expand({"greet", "{payload.name}"}) == Args{"greet", "Ann Lee; rm -rf / $(id)"});
  CHECK(Expand({"x", "{payload.empty}"}) == Args{"x", ""});
}

TEST_CASE("ExpandArguments: text around placeholders stays", "[handler_args]") {
  CHECK(Expand({"psql", "--host={payload.server}:{payload.port}", "-c", "select 1"}) ==
        Args{"psql", "--host=srv-a:5432", "-c", "select 1"});
}

TEST_CASE("ExpandArguments: nested fields and array indexes", "[handler_args]") {
  CHECK(Expand({"x", "{payload.a.b.c}", "{payload.hosts.1}"}) == Args{"x", "deep", "h2"});
}

TEST_CASE("ExpandArguments: non-strings become compact JSON", "[handler_args]") {
  CHECK(Expand({"x", "{payload.port}", "{payload.ratio}", "{payload.admin}", "{payload.note}",
                "{retry_count}"}) == Args{"x", "5432", "0.5", "true", "null", "2"});
  CHECK(Expand({"x", "{payload.hosts}"}) == Args{"x", R"(["h1","h2"])"});
  CHECK(Expand({"x", "{payload.a}"}) == Args{"x", R"({"b":{"c":"deep"}})"});
}

TEST_CASE("ExpandArguments: {{ and }} are literal braces", "[handler_args]") {
  CHECK(Expand({"jq", "{{\"id\": \"{event_id}\"}}"}) == Args{"jq", R"({"id": "evt_01HX"})"});
  CHECK(Expand({"x", "{{event_id}}"}) == Args{"x", "{event_id}"});
}

TEST_CASE("ExpandArguments: the command itself is never expanded", "[handler_args]") {
  CHECK(Expand({"/opt/{payload.server}/run", "a"}) == Args{"/opt/{payload.server}/run", "a"});
}

TEST_CASE("ExpandArguments: arguments without braces pass unchanged", "[handler_args]") {
  CHECK(Expand({"true"}) == Args{"true"});
  CHECK(Expand({"cp", "-a", "src", "dst"}) == Args{"cp", "-a", "src", "dst"});
}

TEST_CASE("ExpandArguments: a missing field is an error naming it", "[handler_args]") {
  CHECK(ExpandError({"backup.sh", "{event_id}", "{payload.srv}"}) ==
        "argument 2: {payload.srv}: no field payload.srv in the event");
  CHECK(ExpandError({"x", "{payload.server.name}"}) ==
        "argument 1: {payload.server.name}: no field payload.server.name in the event");
  CHECK(ExpandError({"x", "{payload.hosts.2}"}) ==
        "argument 1: {payload.hosts.2}: no field payload.hosts.2 in the event");
  CHECK(ExpandError({"x", "{payload.hosts.first}"}).find("no field payload.hosts.first") !=
        std::string::npos);
}

TEST_CASE("ExpandArguments: a NUL character cannot become an argument", "[handler_args]") {
  Event e = UserEvent();
  e.doc["payload"]["bad"] = std::string("a\0b", 3);
  Result<Args> r = ExpandArguments({"x", "{payload.bad}"}, e);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("payload.bad holds a NUL") != std::string::npos);
}

TEST_CASE("ExpandArguments: braces that are not a field path stay as they are", "[handler_args]") {
  CHECK(Expand({"sh", "-c", "echo ${HOME} ${EVT_EVENT_ID:-none}"}) ==
        Args{"sh", "-c", "echo ${HOME} ${EVT_EVENT_ID:-none}"});
  CHECK(Expand({"awk", "{print $1}"}) == Args{"awk", "{print $1}"});
  CHECK(Expand({"jq", "{a: .b}"}) == Args{"jq", "{a: .b}"});
  CHECK(Expand({"find", "-exec", "{}", "+"}) == Args{"find", "-exec", "{}", "+"});
  CHECK(Expand({"x", "{payload.server"}) == Args{"x", "{payload.server"});
  CHECK(Expand({"x", "a}b", "{payload..server}"}) == Args{"x", "a}b", "{payload..server}"});
  CHECK(Expand({"x", "{a{payload.server}"}) == Args{"x", "{asrv-a"});
}

TEST_CASE("CheckArgumentTemplates accepts any argument list", "[handler_args]") {
  CHECK(CheckArgumentTemplates({"x", "{payload.server}", "{{literal}}"}).ok());
  CHECK(CheckArgumentTemplates({"{not-checked", "a"}).ok());
  CHECK(CheckArgumentTemplates({"x", "ok", "{payload.server", "${X}"}).ok());
}

TEST_CASE("HasArgumentTemplates", "[handler_args]") {
  CHECK_FALSE(HasArgumentTemplates({"backup.sh", "-v"}));
  CHECK_FALSE(HasArgumentTemplates({"{x}"}));
  CHECK(HasArgumentTemplates({"backup.sh", "{payload.server}"}));
  CHECK(HasArgumentTemplates({"x", "}}"}));
}

}  // namespace
}  // namespace evt
