// CloudEvents 1.0 JSON conformance (evt(7), CLOUDEVENTS): input as strict as the spec,
// output always valid, nothing lost in between.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "evt/event.h"

namespace evt {
namespace {

constexpr UnixMillis kNow = 1772168100000;  // 2026-02-27T04:55:00.000Z

EventDefaults Fixed() {
  EventDefaults d;
  d.source = "test-host";
  d.now_ms = kNow;
  return d;
}

Event Parse(const std::string& text) {
  INFO(text);
  Result<Event> r = ParseEvent(text, Fixed());
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string ParseError(const std::string& text) {
  INFO(text);
  Result<Event> r = ParseEvent(text, Fixed());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == Status::Kind::kInvalidArgument);
  return r.status().message();
}

// A minimal valid CloudEvent with `more` members added (`more` starts with a comma).
std::string Ce(const std::string& more = "") {
  return R"({"specversion":"1.0","id":"c1","source":"/s","type":"a.b")" + more + "}";
}

// Checks what the CloudEvents 1.0 JSON format and its schema ask of an object.
void CheckValidCloudEvent(const Json& ce) {
  INFO(ce.dump());
  REQUIRE(ce.is_object());
  CHECK(ce.at("specversion") == "1.0");
  for (const char* required : {"id", "source", "type"}) {
    REQUIRE(ce.contains(required));
    CHECK(ce.at(required).is_string());
    CHECK_FALSE(ce.at(required).get<std::string>().empty());
  }
  CHECK_FALSE((ce.contains("data") && ce.contains("data_base64")));
  for (const auto& [name, value] : ce.items()) {
    if (name == "data" || name == "data_base64") continue;
    INFO(name);
    CHECK(name.size() >= 1);
    CHECK(name.size() <= 20);
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos);
    const bool int32 = value.is_number_integer() && value.get<std::int64_t>() >= INT32_MIN &&
                       value.get<std::int64_t>() <= INT32_MAX;
    CHECK((value.is_string() || value.is_boolean() || int32));
  }
}

// --- null means unset --------------------------------------------------------------------

TEST_CASE("a CloudEvents attribute whose value is null is unset", "[cloudevents]") {
  const Event e = Parse(Ce(R"(,"time":null,"subject":null,"traceparent":null,)"
                           R"("datacontenttype":null,"idempotencykey":null,"retrycount":null)"));
  CHECK(e.occurred_at() == "2026-02-27T04:55:00.000Z");
  CHECK(e.idempotency_key() == "c1");
  CHECK(e.retry_count() == 0);
  CHECK_FALSE(e.doc.contains("subject"));
  CHECK_FALSE(e.doc.contains("traceparent"));
  // An explicit null payload is evt's empty one.
  CHECK(Parse(Ce(R"(,"data":null)")).doc["payload"] == Json::object());
  CHECK(Parse(Ce(R"(,"data":null,"data_base64":"AAEC")")).doc["payload"] ==
        Json::parse(R"({"data_base64":"AAEC"})"));
}

// --- required attributes -----------------------------------------------------------------

TEST_CASE("a CloudEvent without id, source or type is rejected naming it", "[cloudevents]") {
  CHECK(ParseError(R"({"specversion":"1.0","source":"/s","type":"a"})") == "id: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","type":"a"})") == "source: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":"/s"})") == "type: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":null,"source":"/s","type":"a"})") ==
        "id: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":null,"type":"a"})") ==
        "source: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":"/s","type":null})") ==
        "type: is required");
  CHECK(ParseError(R"({"specversion":"1.0","id":"","source":"/s","type":"a"})") ==
        "id: must be 1-128 characters long (got 0)");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":"","type":"a"})") ==
        "source: must be 1-255 characters long (got 0)");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":"/s","type":""})") ==
        "type: must be 1-255 characters long (got 0)");
  // evt's defaults stay for evt events.
  CHECK(Parse(R"({"event_type":"a"})").source() == "test-host");
}

// --- extension names and values ----------------------------------------------------------

TEST_CASE("extension names the spec forbids are rejected on input", "[cloudevents]") {
  CHECK(ParseError(Ce(R"(,"Tenant":"t")")) ==
        R"("Tenant": not a CloudEvents attribute name (1-20 of a-z and 0-9))");
  CHECK(ParseError(Ce(R"(,"my_field":1)")) ==
        R"("my_field": not a CloudEvents attribute name (1-20 of a-z and 0-9))");
  CHECK(ParseError(Ce(R"(,"abcdefghijklmnopqrstu":1)")) ==
        R"("abcdefghijklmnopqrstu": not a CloudEvents attribute name (1-20 of a-z and 0-9))");
  CHECK(ParseError(Ce(R"(,"":1)")) ==
        R"("": not a CloudEvents attribute name (1-20 of a-z and 0-9))");
  CHECK(ParseError(Ce(",\"a\\u001b[31m\":1")) ==
        R"("a\u001b[31m": not a CloudEvents attribute name (1-20 of a-z and 0-9))");
  // 20 characters, digits included, are fine.
  CHECK(Parse(Ce(R"(,"abcdefghij0123456789":"x")")).doc["abcdefghij0123456789"] == "x");
}

TEST_CASE("extension values are strings, booleans or 32-bit integers", "[cloudevents]") {
  const Event e = Parse(Ce(R"(,"ext1":"v","ext2":true,"ext3":-2147483648,"ext4":2147483647)"));
  CHECK(e.doc["ext2"] == true);
  CHECK(e.doc["ext3"] == -2147483648LL);
  const char* rule = ": must be a string, a boolean or a 32-bit integer (got ";
  CHECK(ParseError(Ce(R"(,"ext":{"a":1})")) == std::string("ext") + rule + "an object)");
  CHECK(ParseError(Ce(R"(,"ext":[1])")) == std::string("ext") + rule + "an array)");
  CHECK(ParseError(Ce(R"(,"ext":1.5)")) == std::string("ext") + rule + "1.5)");
  CHECK(ParseError(Ce(R"(,"ext":2147483648)")) == std::string("ext") + rule + "2147483648)");
  CHECK(ParseError(Ce(R"(,"subject":"")")) == "subject: must be a non-empty string (got \"\")");
  CHECK(ParseError(Ce(R"(,"dataschema":5)")) == "dataschema: must be a non-empty string (got 5)");
}

// --- data and data_base64 ----------------------------------------------------------------

TEST_CASE("data_base64 with a JSON content type is the payload it encodes", "[cloudevents]") {
  // {"k":"v"} in base64.
  const Event e =
      Parse(Ce(R"(,"datacontenttype":"application/json","data_base64":"eyJrIjoidiJ9")"));
  CHECK(e.doc["payload"] == Json::parse(R"({"k":"v"})"));
  CHECK(ParseError(Ce(R"(,"datacontenttype":"application/json","data_base64":"WzFd")")) ==
        "data_base64: must encode a JSON object when datacontenttype is JSON (got an array)");
  CHECK(ParseError(Ce(R"(,"datacontenttype":"text/json","data_base64":"eyJr")"))
            .rfind("data_base64: must encode a JSON object when datacontenttype is JSON: "
                   "invalid JSON",
                   0) == 0);
}

TEST_CASE("data_base64 may not encode a payload too deep for the event", "[cloudevents]") {
  // A JSON text of 128 levels parses, but as the payload it would make the event 129 deep.
  auto base64_of = [](const std::string& text) {
    static constexpr char kDigits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 3) {
      std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(text[i])) << 16;
      if (i + 1 < text.size())
        n |= static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + 1])) << 8;
      if (i + 2 < text.size()) n |= static_cast<unsigned char>(text[i + 2]);
      out += kDigits[(n >> 18) & 63];
      out += kDigits[(n >> 12) & 63];
      out += i + 1 < text.size() ? kDigits[(n >> 6) & 63] : '=';
      out += i + 2 < text.size() ? kDigits[n & 63] : '=';
    }
    return out;
  };
  auto nested = [](int levels) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += R"({"a":)";
    return text + "1" + std::string(levels, '}');
  };
  const std::string json = R"(,"datacontenttype":"application/json","data_base64":")";
  CHECK(Parse(Ce(json + base64_of(nested(127)) + "\"")).doc["payload"].contains("a"));
  CHECK(ParseError(Ce(json + base64_of(nested(128)) + "\"")) ==
        "data: must nest at most 127 levels (an event nests at most 128)");
}

TEST_CASE("binary data_base64 is kept in the payload and written back as binary", "[cloudevents]") {
  const std::string in =
      Ce(R"(,"datacontenttype":"application/octet-stream","data_base64":"AAEC/w==")");
  const Event e = Parse(in);
  CHECK(e.doc["payload"] ==
        Json::parse(R"({"data_base64":"AAEC/w==","datacontenttype":"application/octet-stream"})"));
  const Json out = ToCloudEvents(e);
  CheckValidCloudEvent(out);
  CHECK(out["data_base64"] == "AAEC/w==");
  CHECK(out["datacontenttype"] == "application/octet-stream");
  CHECK_FALSE(out.contains("data"));
  CHECK(Serialize(Parse(Serialize(e, EventFormat::kCloudEvents))) == Serialize(e));
  // Without a content type too.
  const Event untyped = Parse(Ce(R"(,"data_base64":"")"));
  CHECK(untyped.doc["payload"] == Json::parse(R"({"data_base64":""})"));
  CHECK(ToCloudEvents(untyped)["data_base64"] == "");
  CHECK_FALSE(ToCloudEvents(untyped).contains("datacontenttype"));
}

TEST_CASE("data_base64 must be base64 and cannot come with data", "[cloudevents]") {
  CHECK(ParseError(Ce(R"(,"data":{},"data_base64":"AAEC")")) ==
        "data_base64: not allowed together with data");
  for (const char* bad : {"AAE", "AA=C", "A===", "AAEC=", "AA EC", "AA-_"}) {
    CHECK(ParseError(Ce(std::string(R"(,"data_base64":")") + bad + "\"")) ==
          std::string("data_base64: must be base64 (RFC 4648) (got \"") + bad + "\")");
  }
  CHECK(ParseError(Ce(R"(,"data_base64":5)")) == "data_base64: must be a string (got 5)");
}

TEST_CASE("data with a content type that is not JSON is refused", "[cloudevents]") {
  CHECK(ParseError(Ce(R"(,"datacontenttype":"text/plain","data":{})")) ==
        "datacontenttype: must be a JSON type (*/json or */*+json) unless the data is in "
        R"(data_base64 (got "text/plain"))");
  CHECK(Parse(Ce(R"(,"datacontenttype":"text/json; charset=utf-8","data":{"a":1})"))
            .doc["payload"]["a"] == 1);
}

// --- output: always valid ----------------------------------------------------------------

TEST_CASE("evt fields that are no valid attribute are carried in evtfields", "[cloudevents]") {
  const Event e =
      Parse(R"({"event_type":"a","event_id":"e1","my_field":1,"Tenant":"t","traceparent":"00-ab",)"
            R"("type":"x","data":[1],"nested":{"n":1},"big":5000000000,"f":1.5,"n":null,)"
            R"("subject":"","evtfields":"own"})");
  const Json ce = ToCloudEvents(e);
  CheckValidCloudEvent(ce);
  CHECK(ce["traceparent"] == "00-ab");
  CHECK(ce["type"] == "a");
  REQUIRE(ce["evtfields"].is_string());
  CHECK(Json::parse(ce["evtfields"].get<std::string>()) ==
        Json::parse(R"({"my_field":1,"Tenant":"t","type":"x","data":[1],"nested":{"n":1},)"
                    R"("big":5000000000,"f":1.5,"n":null,"subject":"","evtfields":"own"})"));
  // Read back, nothing is lost; the carried fields come after the others.
  const Event back = Parse(Serialize(e, EventFormat::kCloudEvents));
  CHECK(back.doc.size() == e.doc.size());
  for (const auto& [name, value] : e.doc.items()) {
    INFO(name);
    CHECK(back.doc.at(name) == value);
  }
  CHECK(Serialize(back).find(R"("traceparent":"00-ab","my_field":1,)") != std::string::npos);
}

TEST_CASE("a large retry count is written as a string of digits", "[cloudevents]") {
  const Event e = Parse(R"({"event_type":"a","retry_count":3000000000})");
  const Json ce = ToCloudEvents(e);
  CheckValidCloudEvent(ce);
  CHECK(ce["retrycount"] == "3000000000");
  CHECK(Parse(ce.dump()).retry_count() == 3000000000);
  CHECK(ToCloudEvents(Parse(R"({"event_type":"a","retry_count":7})"))["retrycount"] == 7);
}

TEST_CASE("evtfields on input must hold a JSON object of new names", "[cloudevents]") {
  const Event e = Parse(Ce(R"(,"evtfields":"{\"My\":1,\"type\":\"t\"}","ext":"x")"));
  CHECK(e.doc["My"] == 1);
  CHECK(e.doc["type"] == "t");
  CHECK(e.event_type() == "a.b");
  CHECK(ParseError(Ce(R"(,"evtfields":5)")) ==
        "evtfields: must be a string holding a JSON object (got 5)");
  CHECK(ParseError(Ce(R"(,"evtfields":"[1]")")) ==
        "evtfields: must be a string holding a JSON object (got an array)");
  CHECK(ParseError(Ce(R"(,"evtfields":"{")")).rfind("evtfields: invalid JSON: ", 0) == 0);
  CHECK(ParseError(Ce(R"(,"evtfields":"{\"payload\":{}}")")) ==
        R"(evtfields: "payload" is an evt field)");
  CHECK(ParseError(Ce(R"(,"ext":"x","evtfields":"{\"ext\":1}")")) ==
        R"(evtfields: "ext" is also an attribute)");
}

TEST_CASE("CloudEvents output of many events is always valid", "[cloudevents]") {
  for (
      const char* in : {
          R"({"event_type":"a"})",
          R"({"event_type":"a","payload":{"x":1},"z":true,"Z":false})",
          R"({"specversion":"1.0","id":"1","source":"/s","type":"a","data_base64":"AA=="})",
          R"({"event_type":"a","payload":{"data_base64":"bad!"}})",
          R"({"event_type":"a","payload":{"data_base64":"AA==","datacontenttype":"application/json"}})",
      }) {
    INFO(in);
    CheckValidCloudEvent(ToCloudEvents(Parse(in)));
  }
  // A payload that only looks like binary data stays JSON data.
  CHECK(ToCloudEvents(Parse(R"({"event_type":"a","payload":{"data_base64":"bad!"}})"))["data"] ==
        Json::parse(R"({"data_base64":"bad!"})"));
}

}  // namespace
}  // namespace evt
