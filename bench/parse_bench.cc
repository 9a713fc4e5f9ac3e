// Event parsing speed by shape, what evt-emit --stdin does per line (ParseEvent, then
// Serialize), in MB/s of input, each against a 1 MB string payload in the same run:
//   wide    a payload object of 100,000 keys
//   deep    payloads nested to the depth limit (128), many of them side by side
//   string  one string of 1 MB
// A parser that is linear in the input keeps every ratio near 1 (wide and deep make more
// nodes per byte, so somewhat below 1 is expected; a quadratic one was 0.001).
//   parse_bench [ROUNDS]   (default 5; the best round counts)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "evt/event.h"

namespace {

std::string Wide(int keys) {
  std::string p = "{";
  for (int i = 0; i < keys; ++i) {
    if (i > 0) p += ',';
    p += "\"key" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return R"({"event_type":"bench.wide","payload":)" + p + "}}";
}

// The event, its payload and the list take three levels; each subtree fills the other 125.
std::string Deep(std::size_t target_bytes) {
  std::string one;
  for (int i = 0; i < 124; ++i) one += R"({"a":)";
  one += "[1]";
  for (int i = 0; i < 124; ++i) one += '}';
  std::string list;
  while (list.size() < target_bytes) list += (list.empty() ? "" : ",") + one;
  return R"({"event_type":"bench.deep","payload":{"t":[)" + list + "]}}";
}

std::string LongString(std::size_t bytes) {
  return R"({"event_type":"bench.string","payload":{"s":")" + std::string(bytes, 'x') + "\"}}";
}

// Best MB/s over `rounds` parses and writes of `line`; exits on a parse error.
double MegabytesPerSecond(const std::string& line, int rounds) {
  evt::EventDefaults defaults;
  defaults.source = "bench";
  defaults.max_event_bytes = 64 << 20;
  double best = 1e9;
  for (int r = 0; r < rounds; ++r) {
    const auto t = std::chrono::steady_clock::now();
    evt::Result<evt::Event> e = evt::ParseEvent(line, defaults);
    if (!e.ok()) {
      std::fprintf(stderr, "parse_bench: %s\n", e.status().message().c_str());
      std::exit(70);
    }
    const std::string out = evt::Serialize(*e);
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t;
    if (out.empty()) std::exit(70);
    best = std::min(best, d.count());
  }
  return static_cast<double>(line.size()) / 1e6 / best;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const std::string wide = Wide(100'000);
  const std::string deep = Deep(1 << 20);
  const std::string str = LongString(1 << 20);
  const double s = MegabytesPerSecond(str, rounds);
  const double w = MegabytesPerSecond(wide, rounds);
  const double d = MegabytesPerSecond(deep, rounds);
  std::printf("string 1 MB:       %8.1f MB/s (%.2f MB)\n", s, str.size() / 1e6);
  std::printf("wide 100,000 keys: %8.1f MB/s (%.2f MB): %.3f of string\n", w, wide.size() / 1e6,
              w / s);
  std::printf("deep 128 levels:   %8.1f MB/s (%.2f MB): %.3f of string\n", d, deep.size() / 1e6,
              d / s);
  return 0;
}
