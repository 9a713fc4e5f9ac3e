#include "evt/ulid.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

#include "evt/rfc3339.h"

namespace evt {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::int64_t kMaxUlidMillis = (std::int64_t{1} << 48) - 1;

// splitmix64: turns any seed (including 0) into a well-mixed, non-zero xorshift state.
std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x == 0 ? 0x9E3779B97F4A7C15ULL : x;
}

// xorshift64*: the ids only need to be unlikely to collide across processes, not to be
// unguessable, and a kernel call per id would cost more than the rest of the event.
std::uint64_t XorShift64Star(std::uint64_t* state) {
  std::uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

std::uint64_t KernelSeed() {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) == static_cast<ssize_t>(sizeof seed)) return seed;
  // No getrandom (very old kernel, seccomp): time and pid still keep processes apart.
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return static_cast<std::uint64_t>(now) ^ (static_cast<std::uint64_t>(getpid()) << 32);
}

// Writes the low 5*n bits of v as n Crockford characters, most significant first.
void Encode(std::uint64_t v, int n, char* out) {
  for (int i = n - 1; i >= 0; --i) {
    out[i] = kCrockford[v & 31];
    v >>= 5;
  }
}

}  // namespace

UlidGenerator::UlidGenerator() : state_(SplitMix64(KernelSeed())) {}

UlidGenerator::UlidGenerator(std::uint64_t seed) : state_(SplitMix64(seed)) {}

void UlidGenerator::NextInto(std::int64_t unix_ms, char* out) {
  if (unix_ms < 0) unix_ms = 0;
  if (unix_ms > kMaxUlidMillis) unix_ms = kMaxUlidMillis;
  bool fresh = unix_ms != last_ms_;
  if (!fresh) {
    // Monotonic mode: the 80-bit random part, read as a big-endian number, plus one.
    int i = 9;
    while (i >= 0 && ++last_rand_[i] == 0) --i;
    if (i < 0) {
      // All 80 bits overflowed (2^80 ids in one millisecond, or a very unlucky start):
      // the spec would fail; moving on to the next millisecond keeps the order instead.
      if (unix_ms < kMaxUlidMillis) ++unix_ms;
      fresh = true;
    }
  }
  if (fresh) {
    const std::uint64_t a = XorShift64Star(&state_);
    const std::uint64_t b = XorShift64Star(&state_);
    std::memcpy(last_rand_, &a, 8);
    std::memcpy(last_rand_ + 8, &b, 2);
  }
  last_ms_ = unix_ms;

  std::uint64_t hi = 0, lo = 0;  // 40 bits each
  for (int i = 0; i < 5; ++i) hi = hi << 8 | last_rand_[i];
  for (int i = 5; i < 10; ++i) lo = lo << 8 | last_rand_[i];
  Encode(static_cast<std::uint64_t>(unix_ms), 10, out);
  Encode(hi, 8, out + 10);
  Encode(lo, 8, out + 18);
}

std::string UlidGenerator::Next(std::int64_t unix_ms) {
  std::string id(26, '0');
  NextInto(unix_ms, id.data());
  return id;
}

bool IsUlid(const std::string& s) {
  if (s.size() != 26 || s[0] < '0' || s[0] > '7') return false;
  for (char c : s) {
    if (c == '\0' || std::strchr(kCrockford, c) == nullptr) return false;
  }
  return true;
}

std::string NewEventId() { return NewEventId(NowUnixMillis()); }

std::string NewEventId(std::int64_t unix_ms) {
  static std::mutex mu;
  static UlidGenerator generator;
  std::string id(30, '0');  // one allocation, filled in place
  std::memcpy(id.data(), "evt_", 4);
  std::lock_guard<std::mutex> lock(mu);
  generator.NextInto(unix_ms, id.data() + 4);
  return id;
}

std::string EventIdAt(std::int64_t unix_ms, std::uint64_t sequence) {
  unix_ms = std::min(std::max<std::int64_t>(unix_ms, 0), kMaxUlidMillis);
  std::string id(30, '0');
  std::memcpy(id.data(), "evt_", 4);
  Encode(static_cast<std::uint64_t>(unix_ms), 10, id.data() + 4);
  Encode(sequence >> 40, 8, id.data() + 14);  // the top 16 of the 80 bits stay 0
  Encode(sequence & ((std::uint64_t{1} << 40) - 1), 8, id.data() + 22);
  return id;
}

}  // namespace evt
