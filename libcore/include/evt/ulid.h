// ULIDs (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits,
// 26 characters of Crockford base32, lexicographically sortable by time.
#pragma once

#include <cstdint>
#include <string>

namespace evt {

// Generates ULIDs. Within one generator, ids made in the same millisecond are
// strictly increasing (the random part is incremented), as the spec's
// monotonic mode says. Not thread-safe: one generator per thread, or lock.
class UlidGenerator {
 public:
  // Seeds from the kernel's random source (getrandom).
  UlidGenerator();
  // Deterministic, for tests.
  explicit UlidGenerator(std::uint64_t seed);

  // A new ULID for the time `unix_ms` (clamped to 0 .. 2^48-1). An id for a different
  // millisecond than the previous one gets fresh random bits, even if the clock went back.
  std::string Next(std::int64_t unix_ms);

  // The same as Next(), written as 26 characters to out[0..25] (no terminator), so that
  // callers can build "prefix + ULID" without a second allocation.
  void NextInto(std::int64_t unix_ms, char* out);

 private:
  std::uint64_t state_;           // xorshift state for the random part
  std::int64_t last_ms_ = -1;     // time of the previous id
  std::uint8_t last_rand_[10]{};  // random part of the previous id
};

// True when `s` is 26 Crockford base32 characters whose first is 0-7.
bool IsUlid(const std::string& s);

// A new event id: "evt_" + ULID for now, from a process-wide, locked generator.
// Thread-safe.
std::string NewEventId();

// The same for the time `unix_ms` (e.g. a fixed "now" chosen by the caller).
std::string NewEventId(std::int64_t unix_ms);

// The event id "evt_" + the ULID whose time is `unix_ms` (clamped as Next() does) and
// whose 80 bits that are random elsewhere hold `sequence`. Deterministic: the same
// arguments give the same id, as an id derived from a stream entry id must be (see
// ForStreamEntry in event.h). Ids sort by time, then by sequence. Thread-safe.
std::string EventIdAt(std::int64_t unix_ms, std::uint64_t sequence);

}  // namespace evt
