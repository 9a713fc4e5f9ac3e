// The JSON reader of events: nlohmann's lexer (through its SAX interface) with a DOM
// builder of our own, for what nlohmann's parse() into ordered_json does not give:
//  - Time linear in the number of keys. ordered_json's map is a vector that its insert
//    searches from the start for a repeated key, so 100,000 keys took 12 s (quadratic).
//    Here an object of more than a few members gets a hash index of its keys.
//  - Objects grow by moving their values. The map's pair<const string, json> has a
//    move that may throw (the const key is copied), so vector growth deep-copies every
//    member already there; parsing into ordered_json was half again as slow as into
//    std::map.
//  - A bound on nesting depth: writing and destroying recurse once per level, and a line
//    of 64 KiB of '[' would otherwise overflow the stack.
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_text.h"
#include "evt/event.h"

namespace evt {
namespace {

using std::string_view_literals::operator""sv;

// Objects up to this many members are searched by scanning: cheaper than hashing.
constexpr std::size_t kScanMembers = 8;

struct SipKey {
  std::uint64_t k0, k1;
};

// The hash key, random per process: with a fixed hash function a producer could choose
// keys that all land in one bucket and make parsing quadratic again.
const SipKey& ProcessSipKey() {
  static const SipKey key = [] {
    SipKey k{};
    if (getrandom(&k, sizeof k, 0) != static_cast<ssize_t>(sizeof k)) {
      const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      k.k0 = static_cast<std::uint64_t>(now) * 0x9E3779B97F4A7C15ULL;
      k.k1 = static_cast<std::uint64_t>(::getpid()) ^ (k.k0 >> 17);
    }
    return k;
  }();
  return key;
}

// SipHash-1-3 (Aumasson and Bernstein): a keyed hash, so the buckets cannot be predicted.
std::uint64_t SipHash13(const SipKey& key, std::string_view s) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key.k0;
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ key.k1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key.k0;
  std::uint64_t v3 = 0x7465646279746573ULL ^ key.k1;
  auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  };
  const char* p = s.data();
  const std::size_t n = s.size();
  const char* const blocks_end = p + (n & ~std::size_t{7});
  for (; p < blocks_end; p += 8) {
    std::uint64_t m = 0;
    for (int i = 7; i >= 0; --i) m = m << 8 | static_cast<unsigned char>(p[i]);  // little-endian
    v3 ^= m;
    round();
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t i = 0; i < (n & 7); ++i) {
    last |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  v3 ^= last;
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// A hash set of an object's keys, holding their positions in the object (open addressing,
// linear probing, at most half full), so that a repeated key is found in constant time.
class KeyIndex {
 public:
  static constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);

  bool empty() const { return slots_.empty(); }

  // Indexes members[0, n). REQUIRES: their keys are distinct; the index is empty.
  void Build(const Json::object_t& members) { Resize(members, 4 * members.size()); }

  // The position of `key` among `members` if it is there; otherwise records that it is
  // about to be appended at members.size() and returns kNotFound.
  std::size_t FindOrAdd(const Json::object_t& members, const std::string& key) {
    if (2 * (members.size() + 1) > slots_.size()) Resize(members, 4 * (members.size() + 1));
    const std::uint64_t h = SipHash13(ProcessSipKey(), key);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.pos_plus_1 == 0) {
        s = Slot{tag, static_cast<std::uint32_t>(members.size() + 1)};
        return kNotFound;
      }
      if (s.tag == tag && members.data()[s.pos_plus_1 - 1].first == key) return s.pos_plus_1 - 1;
    }
  }

 private:
  struct Slot {
    std::uint32_t tag;         // high bits of the key's hash
    std::uint32_t pos_plus_1;  // 0: empty
  };

  // Rebuilds the table with room for at least `min_slots` (a power of two).
  void Resize(const Json::object_t& members, std::size_t min_slots) {
    std::size_t size = 16;
    while (size < min_slots) size *= 2;
    slots_.assign(size, Slot{0, 0});
    mask_ = size - 1;
    for (std::size_t pos = 0; pos < members.size(); ++pos) {
      const std::uint64_t h = SipHash13(ProcessSipKey(), members.data()[pos].first);
      std::size_t i = h & mask_;
      while (slots_[i].pos_plus_1 != 0) i = (i + 1) & mask_;
      slots_[i] = Slot{static_cast<std::uint32_t>(h >> 32), static_cast<std::uint32_t>(pos + 1)};
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

// Builds the document from nlohmann's SAX events.
class DomBuilder {
 public:
  explicit DomBuilder(Json* root) : root_(root) {}

  // The SAX interface: each returns false to stop the parse.
  bool null() { return Value(nullptr); }
  bool boolean(bool v) { return Value(v); }
  bool number_integer(Json::number_integer_t v) { return Value(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Value(v); }
  bool number_float(Json::number_float_t v, const std::string& /*text*/) { return Value(v); }
  bool string(std::string& v) { return Value(v); }  // copied: the lexer reuses v's buffer
  bool binary(Json::binary_t& v) { return Value(std::move(v)); }

  bool start_object(std::size_t /*unknown*/) {
    if (++depth_ > kMaxJsonDepth) return TooDeep();
    stack_.push_back(Frame{Put(Json::value_t::object), KeyIndex()});
    return true;
  }
  bool key(std::string& k) {
    Frame& top = stack_.back();
    auto& obj = top.value->get_ref<Json::object_t&>();
    // A repeated key: the last value wins, in the first place.
    std::size_t found = KeyIndex::kNotFound;
    if (obj.size() < kScanMembers) {
      for (std::size_t i = 0; i < obj.size(); ++i) {
        if (obj.data()[i].first == k) {
          found = i;
          break;
        }
      }
    } else {
      if (top.index.empty()) top.index.Build(obj);
      found = top.index.FindOrAdd(obj, k);
    }
    if (found != KeyIndex::kNotFound) {
      member_ = &obj.data()[found].second;
      return true;
    }
    if (obj.size() == obj.capacity()) Grow(&obj);
    obj.emplace_back(k, nullptr);
    member_ = &obj.back().second;
    return true;
  }
  bool end_object() {
    --depth_;
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*unknown*/) {
    if (++depth_ > kMaxJsonDepth) return TooDeep();
    stack_.push_back(Frame{Put(Json::value_t::array), KeyIndex()});
    return true;
  }
  bool end_array() { return end_object(); }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const Json::exception& e) {
    error_ = e.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;     // the open array or object
    KeyIndex index;  // an object's keys, once it has more than kScanMembers
  };

  // Doubles an object's room by moving its values, where vector's own growth would
  // copy them all.
  static void Grow(Json::object_t* obj) {
    Json::object_t bigger;
    bigger.reserve(obj->empty() ? 4 : 2 * obj->size());
    for (auto& kv : *obj) bigger.emplace_back(kv.first, std::move(kv.second));
    obj->swap(bigger);
  }

  bool TooDeep() {
    too_deep_ = true;
    return false;
  }

  template <typename T>
  bool Value(T&& v) {
    Put(std::forward<T>(v));
    return true;
  }

  // Stores a new value where the parser is (the root, the next array element, or the
  // member whose key came last) and returns it. Pointers on stack_ stay valid: a
  // container only grows again once its open child has been closed.
  template <typename T>
  Json* Put(T&& v) {
    if (stack_.empty()) {
      *root_ = Json(std::forward<T>(v));
      return root_;
    }
    Json* top = stack_.back().value;
    if (top->is_array()) {
      auto& arr = top->get_ref<Json::array_t&>();
      arr.emplace_back(std::forward<T>(v));
      return &arr.back();
    }
    *member_ = Json(std::forward<T>(v));
    return member_;
  }

  Json* root_;
  std::vector<Frame> stack_;
  Json* member_ = nullptr;
  int depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
// becomes "invalid JSON: column 5: syntax error ...", one line, no control characters.
Status InvalidJson(const char* what) {
  std::string_view reason = what;
  if (!reason.empty() && reason.front() == '[') {
    const std::size_t end = reason.find("] ");
    if (end != std::string_view::npos) reason.remove_prefix(end + 2);
  }
  if (reason.substr(0, "parse error at line 1, "sv.size()) == "parse error at line 1, "sv) {
    reason.remove_prefix("parse error at line 1, "sv.size());
  }
  std::string m = "invalid JSON: ";
  AppendEscaped(&m, reason, 200, false);
  return Status::InvalidArgument(std::move(m));
}

}  // namespace

Result<Json> ParseJson(std::string_view text) {
  Json doc;
  try {
    DomBuilder builder(&doc);
    if (!Json::sax_parse(text.data(), text.data() + text.size(), &builder)) {
      if (builder.too_deep()) {
        return Status::InvalidArgument("invalid JSON: nested deeper than " +
                                       std::to_string(kMaxJsonDepth) + " levels");
      }
      return InvalidJson(builder.error().c_str());
    }
  } catch (const Json::exception& e) {
    return InvalidJson(e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("parsing JSON: ") + e.what());
  }
  return doc;
}

}  // namespace evt
