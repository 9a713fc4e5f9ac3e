#include "evt/ndjson.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
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
  std::string head;
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
    out.push_back(
        {line.number, std::string(line.text), line.too_long, line.length, std::string(line.head)});
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

TEST_CASE("an over-long line keeps its first 64 KiB as its head", "[ndjson]") {
  std::string big;
  for (int i = 0; big.size() < 200'000; ++i) big += std::to_string(i) + ",";
  // Bounds below and above one read chunk: the head is gathered across chunks.
  for (std::size_t max : {std::size_t{256}, std::size_t{1000}, std::size_t{100'000}}) {
    INFO("max " << max);
    auto got = ReadAll("{\"a\":1}\n" + big + "\n{\"b\":2}\n", max);
    REQUIRE(got.size() == 3);
    CHECK(got[1].too_long);
    CHECK(got[1].length == big.size());
    CHECK(got[1].head == big.substr(0, evt::kTooLongHeadBytes));
    CHECK(got[0].head.empty());
    CHECK(got[2].text == "{\"b\":2}");
  }
  // A short over-long line is kept whole, also as the last line without a newline.
  auto got = ReadAll(std::string(150, 'x') + "\n" + std::string(120, 'z'), 100);
  REQUIRE(got.size() == 2);
  CHECK(got[0].head == std::string(150, 'x'));
  CHECK(got[1].head == std::string(120, 'z'));
}

TEST_CASE("finding the end of a long line takes linear time", "[ndjson]") {
  // Searching the whole buffer again after each 64 KiB read made one 32 MiB line cost
  // 8 GiB of memchr. It must cost about what the same bytes in short lines cost.
  const std::size_t size = 32u << 20;
  std::string one_line(size, 'x');
  one_line.back() = '\n';
  std::string short_lines = one_line;
  for (std::size_t i = 1023; i < size; i += 1024) short_lines[i] = '\n';
  auto seconds = [](const std::string& content) {
    const auto t = std::chrono::steady_clock::now();
    auto got = ReadAll(content, size);
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t;
    CHECK_FALSE(got.empty());
    return d.count();
  };
  const double t_short = seconds(short_lines);
  const double t_one = seconds(one_line);
  INFO("one line: " << t_one << " s, short lines: " << t_short << " s");
  CHECK(t_one < 4 * t_short + 0.05);
}

TEST_CASE("a reader of a regular file gives back the lines it has not handed out", "[ndjson]") {
  std::string content;
  for (int i = 1; i <= 2000; ++i) content += "{\"n\":" + std::to_string(i) + "}\n";
  int fd = FdWith(content);
  evt::Line line;
  {
    evt::LineReader reader(fd, 1000);
    for (int i = 1; i <= 3; ++i) REQUIRE(reader.Next(&line) == evt::LineReader::State::kLine);
    CHECK(line.text == "{\"n\":3}");
    CHECK(reader.HasBufferedLine());  // one read took much more than three lines
    REQUIRE(reader.GiveBack());
    CHECK_FALSE(reader.HasBufferedLine());
    CHECK(reader.Next(&line) == evt::LineReader::State::kEof);
  }
  // The next reader of the same open file starts on the next line.
  const std::size_t taken = std::string("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n").size();
  CHECK(::lseek(fd, 0, SEEK_CUR) == static_cast<off_t>(taken));
  evt::LineReader next(fd, 1000);
  REQUIRE(next.Next(&line) == evt::LineReader::State::kLine);
  CHECK(line.text == "{\"n\":4}");
  ::close(fd);
}

TEST_CASE("a reader stopped inside an over-long line gives back from its start", "[ndjson]") {
  const std::string first = "{\"a\":1}\n";
  int fd = FdWith(first + std::string(300'000, 'x') + "\n{\"b\":2}\n");
  evt::LineReader reader(fd, 1000);
  evt::Line line;
  REQUIRE(reader.Next(&line) == evt::LineReader::State::kLine);
  CHECK(reader.Next(&line) == evt::LineReader::State::kWouldBlock);  // skipping the long one
  REQUIRE(reader.GiveBack());
  CHECK(::lseek(fd, 0, SEEK_CUR) == static_cast<off_t>(first.size()));
  ::close(fd);
}

TEST_CASE("a reader of a pipe cannot give back and keeps what it holds", "[ndjson]") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const std::string text = "{\"a\":1}\n{\"b\":2}\n{\"c\"";
  REQUIRE(::write(p[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  evt::LineReader reader(p[0], 1000);
  evt::Line line;
  REQUIRE(reader.Next(&line) == evt::LineReader::State::kLine);
  CHECK_FALSE(reader.GiveBack());
  REQUIRE(reader.Next(&line) == evt::LineReader::State::kLine);
  CHECK(line.text == "{\"b\":2}");
  CHECK(reader.Unconsumed() == "{\"c\"");
  ::close(p[0]);
  ::close(p[1]);
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
