// The JSON reader of events (ParseJson): linear time on wide objects, the first place and
// last value of a repeated key, and the depth bound.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "evt/event.h"

namespace evt {
namespace {

// Best of three, in seconds.
double ParseSeconds(const std::string& text) {
  double best = 1e9;
  for (int i = 0; i < 3; ++i) {
    const auto t = std::chrono::steady_clock::now();
    Result<Json> j = ParseJson(text);
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t;
    REQUIRE(j.ok());
    best = std::min(best, d.count());
  }
  return best;
}

TEST_CASE("a wide object parses in time linear in its number of keys", "[json]") {
  // A search of the members already there for each new key made 100,000 keys take 12 s
  // (quadratic). The same tokens as an array (no keys to look up) are the yardstick.
  std::string object = "{", array = "[";
  for (int i = 0; i < 100'000; ++i) {
    const char* sep = i > 0 ? "," : "";
    object += sep + ("\"k" + std::to_string(i) + "\":") + std::to_string(i);
    array += sep + ("\"k" + std::to_string(i) + "\",") + std::to_string(i);
  }
  object += "}";
  array += "]";
  const double t_object = ParseSeconds(object);
  const double t_array = ParseSeconds(array);
  INFO("100,000 keys: " << t_object << " s, the same as an array: " << t_array << " s");
  CHECK(t_object < 10 * t_array + 0.05);
  // And the whole event path, validation and writing included.
  const std::string line = R"({"event_type":"a","payload":)" + object + "}";
  EventDefaults d;
  d.max_event_bytes = 64 << 20;
  const auto t = std::chrono::steady_clock::now();
  Result<Event> e = ParseEvent(line, d);
  REQUIRE(e.ok());
  CHECK(Serialize(*e).size() > line.size());
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t;
  CHECK(took.count() < 20 * t_array + 0.1);
}

TEST_CASE("a repeated key in a wide object keeps its first place and its last value", "[json]") {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += R"("k3":"again","k999":{"x":1},"k500":[1],"k999":{"y":2},"new":true})";
  Result<Json> j = ParseJson(text);
  REQUIRE(j.ok());
  REQUIRE(j->size() == 1001);
  const auto& members = j->get_ref<const Json::object_t&>();
  CHECK(members.data()[3].first == "k3");
  CHECK(members.data()[3].second == "again");
  CHECK(members.data()[500].second == Json::array({1}));
  CHECK(members.data()[999].first == "k999");
  CHECK(members.data()[999].second.dump() == R"({"y":2})");
  CHECK(members.data()[1000].first == "new");
  CHECK(members.data()[4].second == 4);
}

TEST_CASE("repeated keys are found in nested wide objects too", "[json]") {
  std::string inner = "{";
  for (int i = 0; i < 100; ++i)
    inner += "\"a" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  inner += R"("a7":"x"})";
  const std::string text = R"({"o":)" + inner + R"(,"p":)" + inner + R"(,"o":)" + inner + "}";
  Result<Json> j = ParseJson(text);
  REQUIRE(j.ok());
  REQUIRE(j->size() == 2);
  CHECK((*j)["o"].size() == 100);
  CHECK((*j)["o"]["a7"] == "x");
  CHECK((*j)["p"]["a99"] == 99);
}

TEST_CASE("ParseJson reports bad JSON in one line and bounds the depth", "[json]") {
  Result<Json> bad = ParseJson("{\"a\":");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "invalid JSON: column 6: syntax error while parsing value - unexpected end of input; "
        "expected '[', '{', or a literal");
  Result<Json> deep = ParseJson(std::string(200, '[') + std::string(200, ']'));
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().message() == "invalid JSON: nested deeper than 128 levels");
  Result<Json> limit = ParseJson(std::string(128, '[') + std::string(128, ']'));
  CHECK(limit.ok());
  Result<Json> scalar = ParseJson(" 42 ");
  REQUIRE(scalar.ok());
  CHECK(*scalar == 42);
}

}  // namespace
}  // namespace evt
