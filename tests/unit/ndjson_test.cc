#include "evt/ndjson.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "temp_fd.h"

using evt::testing::FdWith;
using evt::testing::ReadFd;

namespace {

struct Got {
  std::uint64_t number;
  std::string text;
  bool too_long;
  std::size_t length;
};

std::vector<Got> ReadAll(const std::string& content, std::size_t max) {
  int fd = FdWith(content);
  evt::LineReader reader(fd, max);
  std::vector<Got> out;
  evt::Line line;
  while (true) {
    auto st = reader.Next(&line);
    if (st == evt::LineReader::State::kWouldBlock) continue;
    if (st != evt::LineReader::State::kLine) {
      REQUIRE(st == evt::LineReader::State::kEof);
      break;
    }
    out.push_back({line.number, std::string(line.text), line.too_long, line.length});
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("lines are split on newlines with their numbers", "[ndjson]") {
  auto got = ReadAll("{\"a\":1}\n{\"b\":2}\n", 100);
  REQUIRE(got.size() == 2);
  CHECK(got[0].number == 1);
  CHECK(got[0].text == "{\"a\":1}");
  CHECK(got[1].number == 2);
  CHECK(got[1].text == "{\"b\":2}");
}

TEST_CASE("blank lines are skipped but counted, CRLF is accepted", "[ndjson]") {
  auto got = ReadAll("\n  \n{\"a\":1}\r\n\t\n{\"b\":2}\n", 100);
  REQUIRE(got.size() == 2);
  CHECK(got[0].number == 3);
  CHECK(got[0].text == "{\"a\":1}");
  CHECK(got[1].number == 5);
}

TEST_CASE("a last line without a newline is still a line", "[ndjson]") {
  auto got = ReadAll("{\"a\":1}\n{\"b\":2}", 100);
  REQUIRE(got.size() == 2);
  CHECK(got[1].text == "{\"b\":2}");
}

TEST_CASE("an over-long line is reported once, skipped, and the next lines go on", "[ndjson]") {
  std::string big(10'000, 'x');
  auto got = ReadAll("{\"a\":1}\n" + big + "\n{\"b\":2}\n", 100);
  REQUIRE(got.size() == 3);
  CHECK_FALSE(got[0].too_long);
  CHECK(got[1].too_long);
  CHECK(got[1].number == 2);
  CHECK(got[1].length == 10'000);
  CHECK(got[1].text.empty());
  CHECK(got[2].text == "{\"b\":2}");
  CHECK(got[2].number == 3);
}

TEST_CASE("a line far longer than the read buffer is never held whole", "[ndjson]") {
  // 5 MB in one line with a 1 KiB bound: the reader discards it chunk by chunk.
  std::string huge(5'000'000, 'y');
  auto got = ReadAll(huge + "\n{\"ok\":true}", 1024);
  REQUIRE(got.size() == 2);
  CHECK(got[0].too_long);
  CHECK(got[0].length == 5'000'000);
  CHECK(got[1].text == "{\"ok\":true}");
}

TEST_CASE("an over-long last line without a newline is reported", "[ndjson]") {
  auto got = ReadAll("{\"a\":1}\n" + std::string(500, 'z'), 100);
  REQUIRE(got.size() == 2);
  CHECK(got[1].too_long);
  CHECK(got[1].length == 500);
}

TEST_CASE("a line of exactly the bound is accepted", "[ndjson]") {
  std::string exact(100, 'q');
  auto got = ReadAll(exact + "\n", 100);
  REQUIRE(got.size() == 1);
  CHECK_FALSE(got[0].too_long);
  CHECK(got[0].text == exact);
}

TEST_CASE("the line writer writes whole lines and reports a closed pipe", "[ndjson]") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  {
    evt::LineWriter w(p[1]);
    REQUIRE(w.WriteLine("one").ok());
    REQUIRE(w.WriteLine("two").ok());
    REQUIRE(w.Flush().ok());
  }
  char buf[16] = {};
  REQUIRE(::read(p[0], buf, sizeof buf) == 8);
  CHECK(std::string(buf, 8) == "one\ntwo\n");
  ::close(p[0]);
  evt::LineWriter w(p[1]);
  REQUIRE(w.WriteLine("lost").ok());
  evt::Status s = w.Flush();
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK_THAT(s.message(), Catch::Contains("Broken pipe"));
  ::close(p[1]);
}
