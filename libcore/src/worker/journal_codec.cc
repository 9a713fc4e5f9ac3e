// The journal's line format: checksums, the JSON of a record, and reading a file back.
#include "worker/journal_codec.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "base/json_text.h"

namespace evt {
namespace {

std::uint32_t Crc32(std::string_view s) {
  static const std::array<std::uint32_t, 256> kTable = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string Hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

bool ValidUtf8(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    std::uint32_t cp = 0;
    std::size_t n = DecodeUtf8(p, end, &cp);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// Strings go in as JSON strings when they are valid UTF-8, else as base64 under
// "<name>_b64", so that every byte of an event (and of a handler's error text) survives.
void PutBytes(Json* j, const char* name, const std::string& value) {
  if (ValidUtf8(value)) {
    (*j)[name] = value;
    return;
  }
  std::string out(4 * ((value.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(value.data()),
                          static_cast<int>(value.size()));
  out.resize(static_cast<std::size_t>(std::max(0, n)));
  (*j)[std::string(name) + "_b64"] = out;
}

std::string GetBytes(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it != j.end() && it->is_string()) return it->get<std::string>();
  it = j.find(std::string(name) + "_b64");
  if (it == j.end() || !it->is_string()) return {};
  const std::string in = it->get<std::string>();
  std::string out(3 * (in.size() / 4) + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t k = in.size(); k > 0 && in[k - 1] == '=' && len > 0; --k) --len;
  out.resize(len);
  return out;
}

template <typename T>
T Get(const Json& j, const char* name, T fallback) {
  auto it = j.find(name);
  if (it == j.end()) return fallback;
  try {
    return it->get<T>();
  } catch (const Json::exception&) {
    return fallback;
  }
}

Category CategoryFromName(const std::string& name) {
  for (Category c :
       {Category::kNone, Category::kData, Category::kAuth, Category::kNetwork,
        Category::kDependency, Category::kTimeout, Category::kCrash, Category::kInternal}) {
    if (CategoryName(c) == name) return c;
  }
  return Category::kInternal;
}

bool OutcomeFromName(const std::string& name, JournalOutcome* out) {
  for (JournalOutcome o : {JournalOutcome::kDone, JournalOutcome::kRetry, JournalOutcome::kDead,
                           JournalOutcome::kDuplicate}) {
    if (JournalOutcomeName(o) == name) {
      *out = o;
      return true;
    }
  }
  return false;
}

Json ToJson(const JournalRecord& r, const std::string& scope) {
  Json j = Json::object();
  j["op"] = "outcome";
  j["seq"] = r.seq;
  PutBytes(&j, "scope", scope);
  j["outcome"] = std::string(JournalOutcomeName(r.outcome));
  PutBytes(&j, "delivery_id", r.end.delivery_id);
  PutBytes(&j, "event_id", r.end.event_id);
  PutBytes(&j, "event_type", r.end.event_type);
  PutBytes(&j, "idempotency_key", r.end.idempotency_key);
  PutBytes(&j, "lease_owner", r.end.lease_owner);
  j["attempt"] = r.end.attempt;
  j["ran"] = r.end.ran;
  j["duration_ms"] = r.end.duration.count();
  j["category"] = std::string(CategoryName(r.end.category));
  PutBytes(&j, "error", r.end.error);
  j["occurred_at"] = r.end.occurred_at;
  if (r.outcome == JournalOutcome::kRetry) {
    PutBytes(&j, "next_raw", r.next_raw);
    j["due"] = r.due;
  }
  if (r.outcome == JournalOutcome::kDead) {
    j["reason"] = std::string(DeadReasonName(r.reason));
    PutBytes(&j, "raw", r.raw);
  }
  return j;
}

bool FromJson(const Json& j, JournalRecord* r) {
  if (!OutcomeFromName(Get<std::string>(j, "outcome", ""), &r->outcome)) return false;
  r->seq = Get<std::uint64_t>(j, "seq", 0);
  r->end.delivery_id = GetBytes(j, "delivery_id");
  r->end.event_id = GetBytes(j, "event_id");
  r->end.event_type = GetBytes(j, "event_type");
  r->end.idempotency_key = GetBytes(j, "idempotency_key");
  r->end.lease_owner = GetBytes(j, "lease_owner");
  r->end.attempt = Get<int>(j, "attempt", 0);
  r->end.ran = Get<bool>(j, "ran", false);
  r->end.duration = Millis(Get<std::int64_t>(j, "duration_ms", 0));
  r->end.category = CategoryFromName(Get<std::string>(j, "category", ""));
  r->end.error = GetBytes(j, "error");
  r->end.occurred_at = Get<std::int64_t>(j, "occurred_at", -1);
  r->next_raw = GetBytes(j, "next_raw");
  r->due = Get<std::int64_t>(j, "due", 0);
  r->reason = DeadReasonFromName(Get<std::string>(j, "reason", ""));
  r->raw = GetBytes(j, "raw");
  return r->seq != 0 && !r->end.delivery_id.empty();
}

}  // namespace

std::string_view JournalOutcomeName(JournalOutcome o) {
  switch (o) {
    case JournalOutcome::kDone:
      return "done";
    case JournalOutcome::kRetry:
      return "retry";
    case JournalOutcome::kDead:
      return "dead";
    case JournalOutcome::kDuplicate:
      return "duplicate";
  }
  return "done";
}

std::string JournalLine(const std::string& json) { return Hex32(Crc32(json)) + " " + json + "\n"; }

std::string JournalOutcomeJson(const JournalRecord& record, const std::string& scope) {
  return WriteCompact(ToJson(record, scope));
}

std::string JournalRetireJson(std::uint64_t seq) {
  Json j = Json::object();
  j["op"] = "retire";
  j["seq"] = seq;
  return WriteCompact(j);
}

JournalContents ParseJournal(std::string_view text, const std::string& scope) {
  JournalContents c;
  auto& live = c.live;
  auto& max_seq = c.max_seq;
  const std::size_t whole = text.size();
  std::size_t begin = 0;
  while (begin < whole) {
    std::size_t nl = text.find('\n', begin);
    std::string_view line(text.data() + begin, nl - begin);
    begin = nl + 1;
    if (line.size() < 10 || line[8] != ' ') continue;
    std::string_view body = line.substr(9);
    if (Hex32(Crc32(body)) != line.substr(0, 8)) continue;  // damaged: ignored
    Json doc = Json::parse(body.begin(), body.end(), nullptr, false);
    if (!doc.is_object()) continue;
    const std::string op = Get<std::string>(doc, "op", "");
    const std::uint64_t seq = Get<std::uint64_t>(doc, "seq", 0);
    max_seq = std::max(max_seq, seq);
    if (op == "retire") {
      live.erase(seq);
    } else if (op == "outcome" && GetBytes(doc, "scope") == scope) {
      JournalRecord r;
      if (FromJson(doc, &r)) live[seq] = std::move(r);
    }
  }
  return c;
}

}  // namespace evt
