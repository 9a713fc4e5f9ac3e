#include "evt/ulid.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evt/rfc3339.h"

namespace evt {
namespace {

constexpr std::int64_t kMs = 1772168100000;  // 2026-02-27T04:55:00Z

// The 48-bit time of a ULID, decoded from its first 10 characters.
std::int64_t UlidTime(const std::string& ulid) {
  static const std::string kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::int64_t t = 0;
  for (int i = 0; i < 10; ++i) t = t * 32 + static_cast<std::int64_t>(kAlphabet.find(ulid[i]));
  return t;
}

TEST_CASE("a ULID is 26 Crockford base32 characters", "[ulid]") {
  UlidGenerator gen;
  const std::string id = gen.Next(kMs);
  CHECK(id.size() == 26);
  CHECK(IsUlid(id));
  CHECK(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos);
}

TEST_CASE("a ULID starts with its millisecond time", "[ulid]") {
  UlidGenerator gen(42);
  CHECK(UlidTime(gen.Next(kMs)) == kMs);
  CHECK(gen.Next(0).substr(0, 10) == "0000000000");
  CHECK(UlidTime(gen.Next(1)) == 1);
  // Out of range times are clamped to what 48 bits hold.
  CHECK(gen.Next(-5).substr(0, 10) == "0000000000");
  CHECK(gen.Next(INT64_MAX).substr(0, 10) == "7ZZZZZZZZZ");
}

TEST_CASE("ids made in the same millisecond are strictly increasing", "[ulid]") {
  UlidGenerator gen;
  std::string prev = gen.Next(kMs);
  for (int i = 0; i < 10000; ++i) {
    std::string next = gen.Next(kMs);
    REQUIRE(next > prev);
    REQUIRE(next.substr(0, 10) == prev.substr(0, 10));
    prev = next;
  }
}

TEST_CASE("the random part is incremented by one within a millisecond", "[ulid]") {
  UlidGenerator gen(7);
  const std::string a = gen.Next(kMs);
  const std::string b = gen.Next(kMs);
  // Equal but for a carry in the last few characters; the last character goes up by one
  // unless it was Z.
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (a.back() != 'Z') {
    CHECK(b.substr(0, 25) == a.substr(0, 25));
    CHECK(alphabet.find(b.back()) == alphabet.find(a.back()) + 1);
  } else {
    CHECK(b.back() == '0');
  }
}

TEST_CASE("ids of later milliseconds sort after earlier ones", "[ulid]") {
  UlidGenerator gen;
  std::vector<std::string> ids;
  for (std::int64_t ms = kMs; ms < kMs + 50; ++ms) {
    ids.push_back(gen.Next(ms));
    ids.push_back(gen.Next(ms));
  }
  for (std::size_t i = 1; i < ids.size(); ++i) CHECK(ids[i - 1] < ids[i]);
  // Across generators too: time decides.
  UlidGenerator other;
  CHECK(other.Next(kMs + 1000) > ids.back());
}

TEST_CASE("a seeded generator is deterministic and different seeds differ", "[ulid]") {
  UlidGenerator a(1), b(1), c(2);
  const std::string first = a.Next(kMs);
  CHECK(first == b.Next(kMs));
  CHECK(first != c.Next(kMs));
  UlidGenerator zero(0);
  CHECK(IsUlid(zero.Next(kMs)));
}

TEST_CASE("a new millisecond gets fresh random bits, even if the clock went back", "[ulid]") {
  UlidGenerator gen(3);
  const std::string a = gen.Next(kMs);
  const std::string b = gen.Next(kMs - 1);
  CHECK(UlidTime(b) == kMs - 1);
  CHECK(b.substr(10) != a.substr(10));
}

TEST_CASE("NextInto writes the same 26 characters without a terminator", "[ulid]") {
  UlidGenerator a(9), b(9);
  char buf[28];
  buf[26] = '!';
  a.NextInto(kMs, buf);
  CHECK(std::string(buf, 26) == b.Next(kMs));
  CHECK(buf[26] == '!');
}

TEST_CASE("IsUlid accepts only canonical ULIDs", "[ulid]") {
  CHECK(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  CHECK(IsUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
  CHECK_FALSE(IsUlid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));  // would overflow 128 bits
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FA"));   // 25 characters
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAVV"));
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));  // I, L, O, U are not in the alphabet
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAL"));
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAO"));
  CHECK_FALSE(IsUlid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
  CHECK_FALSE(IsUlid("01arz3ndektsv4rrffq69g5fav"));
  CHECK_FALSE(IsUlid(std::string("01ARZ3NDEKTSV4RRFFQ69G5FA\0", 26)));
  CHECK_FALSE(IsUlid(""));
}

TEST_CASE("an event id is evt_ followed by a ULID of now", "[ulid]") {
  const std::int64_t before = NowUnixMillis();
  const std::string id = NewEventId();
  const std::int64_t after = NowUnixMillis();
  REQUIRE(id.size() == 30);
  CHECK(id.substr(0, 4) == "evt_");
  CHECK(IsUlid(id.substr(4)));
  CHECK(UlidTime(id.substr(4)) >= before);
  CHECK(UlidTime(id.substr(4)) <= after);
}

TEST_CASE("an event id for a given time carries that time", "[ulid]") {
  const std::string id = NewEventId(kMs);
  CHECK(id.substr(0, 4) == "evt_");
  CHECK(UlidTime(id.substr(4)) == kMs);
  CHECK(NewEventId(kMs) > id);
}

TEST_CASE("an event id made from a time and a sequence is always the same", "[ulid]") {
  const std::string id = EventIdAt(kMs, 0);
  REQUIRE(id.size() == 30);
  CHECK(id.substr(0, 4) == "evt_");
  CHECK(IsUlid(id.substr(4)));
  CHECK(UlidTime(id.substr(4)) == kMs);
  CHECK(EventIdAt(kMs, 0) == id);
  // The 80 bits after the time hold the sequence.
  CHECK(id.substr(14) == "0000000000000000");
  CHECK(EventIdAt(kMs, 1).substr(14) == "0000000000000001");
  CHECK(EventIdAt(kMs, 32).substr(14) == "0000000000000010");
  CHECK(EventIdAt(kMs, UINT64_MAX).substr(14) == "000FZZZZZZZZZZZZ");
  // Ordered as the stream is: by time, then by sequence.
  CHECK(EventIdAt(kMs, 0) < EventIdAt(kMs, 1));
  CHECK(EventIdAt(kMs, 99) < EventIdAt(kMs + 1, 0));
  CHECK(EventIdAt(kMs, 7) != EventIdAt(kMs + 1, 7));
}

TEST_CASE("event ids made from several threads are all distinct", "[ulid]") {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 2000; ++i) ids.push_back(NewEventId(kMs));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : per_thread) {
    for (std::size_t i = 1; i < ids.size(); ++i) CHECK(ids[i - 1] < ids[i]);
    all.insert(ids.begin(), ids.end());
  }
  CHECK(all.size() == 8000);
}

}  // namespace
}  // namespace evt
