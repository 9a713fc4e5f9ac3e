#include "base/json_text.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace evt {
namespace {

constexpr auto kErrorHandler = Json::error_handler_t::replace;
constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD
constexpr char kHexDigits[] = "0123456789abcdef";

// A compact JSON writer, the same output as nlohmann's dump(-1, ' ', false, replace) for
// valid UTF-8. nlohmann's escaping decodes UTF-8 one byte at a time through a state
// machine and took a quarter of ParseEvent+Serialize; this one copies runs of plain bytes.
// One template, two sinks: the size bound is checked by counting exactly the bytes that
// Serialize writes, without building the string.
struct CountSink {
  std::size_t n = 0;
  void Put(char /*c*/) { ++n; }
  void Put(const char* /*p*/, std::size_t len) { n += len; }
};

struct StringSink {
  std::string* s;
  void Put(char c) { s->push_back(c); }
  void Put(const char* p, std::size_t len) { s->append(p, len); }
};

template <typename Sink>
void WriteString(Sink& out, const std::string& s) {
  out.Put('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;  // start of the bytes not written yet
  while (p < end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++p;
      continue;
    }
    if (c >= 0x80) {
      std::uint32_t cp;
      const std::size_t len = DecodeUtf8(p, end, &cp);
      if (len != 0) {
        p += len;
        continue;
      }
    }
    out.Put(run, static_cast<std::size_t>(p - run));
    switch (c) {
      case '"':
        out.Put("\\\"", 2);
        break;
      case '\\':
        out.Put("\\\\", 2);
        break;
      case '\b':
        out.Put("\\b", 2);
        break;
      case '\f':
        out.Put("\\f", 2);
        break;
      case '\n':
        out.Put("\\n", 2);
        break;
      case '\r':
        out.Put("\\r", 2);
        break;
      case '\t':
        out.Put("\\t", 2);
        break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 15]};
          out.Put(esc, 6);
        } else {
          out.Put(kReplacementChar, 3);  // a byte that is not valid UTF-8
        }
    }
    run = ++p;
  }
  out.Put(run, static_cast<std::size_t>(p - run));
  out.Put('"');
}

template <typename Sink>
void WriteJson(Sink& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      out.Put("null", 4);
      return;
    case Json::value_t::boolean:
      if (v.get<bool>()) {
        out.Put("true", 4);
      } else {
        out.Put("false", 5);
      }
      return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      char buf[24];
      const auto r = v.is_number_unsigned()
                         ? std::to_chars(buf, buf + sizeof buf, v.get<std::uint64_t>())
                         : std::to_chars(buf, buf + sizeof buf, v.get<std::int64_t>());
      out.Put(buf, static_cast<std::size_t>(r.ptr - buf));
      return;
    }
    case Json::value_t::string:
      WriteString(out, v.get_ref<const std::string&>());
      return;
    case Json::value_t::array: {
      out.Put('[');
      bool first = true;
      for (const Json& e : v) {
        if (!first) out.Put(',');
        first = false;
        WriteJson(out, e);
      }
      out.Put(']');
      return;
    }
    case Json::value_t::object: {
      out.Put('{');
      bool first = true;
      for (const auto& kv : v.get_ref<const Json::object_t&>()) {
        if (!first) out.Put(',');
        first = false;
        WriteString(out, kv.first);
        out.Put(':');
        WriteJson(out, kv.second);
      }
      out.Put('}');
      return;
    }
    default: {
      // Floats (nlohmann's shortest round-trip form, "1.0" stays "1.0") and the rest:
      // rare in events, so nlohmann writes them.
      const std::string text = v.dump(-1, ' ', false, kErrorHandler);
      out.Put(text.data(), text.size());
      return;
    }
  }
}

// An upper bound on the written size that looks at no string's bytes: a byte of a
// string is written as at most 6 ("\u001f"), a number as at most 25 characters, and
// each member or element adds at most 2 separators.
std::size_t SizeBound(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
      return 6 * v.get_ref<const std::string&>().size() + 2;
    case Json::value_t::array: {
      std::size_t n = 2;
      for (const Json& e : v) n += 1 + SizeBound(e);
      return n;
    }
    case Json::value_t::object: {
      std::size_t n = 2;
      for (const auto& kv : v.get_ref<const Json::object_t&>()) {
        n += 6 * kv.first.size() + 4 + SizeBound(kv.second);
      }
      return n;
    }
    case Json::value_t::binary:
      return v.dump(-1, ' ', false, kErrorHandler).size();
    default:
      return 25;  // null, boolean, number
  }
}

// Whether the written document is larger than `max` bytes, and its exact size if so.
// Counting every byte costs as much as writing; most events are far below the bound,
// which the cheap estimate proves without it.
}  // namespace

// The length of the valid UTF-8 sequence at p (its code point in *cp), or 0 when the
// bytes there are not one (overlong forms, surrogates and values past U+10FFFF included).
std::size_t DecodeUtf8(const char* p, const char* end, std::uint32_t* cp) {
  const auto c = static_cast<unsigned char>(*p);
  std::size_t len = 0;
  std::uint32_t v = 0;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(p[k]);
    if ((cc & 0xC0) != 0x80) return 0;
    v = v << 6 | (cc & 0x3F);
  }
  const bool overlong =
      (len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000);
  if (overlong || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

// Appends `s` JSON-escaped (without the quotes; `"` and `\` only when `quoting`), cut
// after `max_chars` characters with "...". C0 and C1 control characters and DEL are
// escaped and invalid UTF-8 becomes U+FFFD, so a message quoting user data can neither
// break a line nor drive a terminal.
void AppendEscaped(std::string* out, std::string_view s, std::size_t max_chars, bool quoting) {
  const char* p = s.data();
  const char* const end = p + s.size();
  for (std::size_t chars = 0; p < end; ++chars) {
    if (chars == max_chars) {
      out->append("...");
      return;
    }
    std::uint32_t cp = 0;
    const std::size_t len = DecodeUtf8(p, end, &cp);
    if (len == 0) {
      out->append(kReplacementChar);
      ++p;
      continue;
    }
    switch (cp) {
      case '"':
        out->append(quoting ? "\\\"" : "\"");
        break;
      case '\\':
        out->append(quoting ? "\\\\" : "\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xA0)) {  // C0, DEL, C1 (U+009B is CSI)
          const char esc[6] = {'\\', 'u', '0', '0', kHexDigits[cp >> 4], kHexDigits[cp & 15]};
          out->append(esc, 6);
        } else {
          out->append(p, len);
        }
    }
    p += len;
  }
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  AppendEscaped(&out, s, 60, true);
  out.push_back('"');
  return out;
}

std::string DescribeJson(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
      return Quoted(v.get_ref<const std::string&>());
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::binary:
      return "binary data";
    case Json::value_t::discarded:
      return "nothing";
    default:
      return v.dump(-1, ' ', false, kErrorHandler);  // null, boolean, number
  }
}

bool JsonDeeperThan(const Json& v, int levels) {
  if (!v.is_structured()) return false;
  if (levels <= 0) return true;
  for (const Json& child : v) {
    if (JsonDeeperThan(child, levels - 1)) return true;
  }
  return false;
}

bool LargerThan(const Json& doc, std::size_t max, std::size_t* size) {
  if (SizeBound(doc) <= max) return false;
  CountSink sink;
  WriteJson(sink, doc);
  *size = sink.n;
  return sink.n > max;
}

std::string WriteCompact(const Json& doc) {
  std::string out;
  out.reserve(512);
  StringSink sink{&out};
  WriteJson(sink, doc);
  return out;
}

}  // namespace evt
