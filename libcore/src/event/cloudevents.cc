// CloudEvents 1.0 in its JSON format: the input side is as strict as the spec (and its
// JSON Schema), and the output is always a valid CloudEvent, also for evt events whose
// unknown fields could not be attributes: those travel in one string extension,
// `evtfields`, and come back as they were.
#include "event/cloudevents.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_text.h"
#include "event/field_rules.h"

namespace evt {
namespace {

// The evt contract's field names that are not CloudEvents names, with the attribute a
// CloudEvent uses instead ("" = none).
struct EvtOnlyName {
  std::string_view evt, ce;
};
constexpr EvtOnlyName kEvtOnlyNames[] = {
    {"schema_version", ""},
    {"event_id", "id"},
    {"event_type", "type"},
    {"occurred_at", "time"},
    {"idempotency_key", "idempotencykey"},
    {"correlation_id", "correlationid"},
    {"retry_count", "retrycount"},
    {"payload", "data"},
};

// Attributes that MakeEvent maps onto contract fields (and checks there).
constexpr std::string_view kMappedNames[] = {
    "id", "source", "type", "time", "data", "idempotencykey", "correlationid", "retrycount"};

// Members that ToCloudEvents writes itself, so an unknown evt field of the same name
// cannot be written next to them.
constexpr std::string_view kWrittenNames[] = {"specversion",   "id",          "type",
                                              "source",        "time",        "datacontenttype",
                                              "data",          "data_base64", "idempotencykey",
                                              "correlationid", "retrycount",  kCarrierAttribute};

template <std::size_t N>
bool OneOf(std::string_view name, const std::string_view (&names)[N]) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

const EvtOnlyName* FindEvtOnly(std::string_view name) {
  for (const EvtOnlyName& n : kEvtOnlyNames) {
    if (n.evt == name) return &n;
  }
  return nullptr;
}

bool IsEvtField(std::string_view name) { return name == "source" || FindEvtOnly(name) != nullptr; }

// Attribute names: lower-case ASCII letters and digits, at most 20 of them.
bool IsAttributeName(std::string_view name) {
  if (name.empty() || name.size() > 20) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// A value of the CloudEvents type system in JSON: String, Boolean or Integer (32 bits;
// Binary, URI and Timestamp are strings too).
bool IsAttributeValue(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
    case Json::value_t::boolean:
      return true;
    case Json::value_t::number_integer: {
      const auto n = v.get<std::int64_t>();
      return n >= std::numeric_limits<std::int32_t>::min() &&
             n <= std::numeric_limits<std::int32_t>::max();
    }
    case Json::value_t::number_unsigned:
      return v.get<std::uint64_t>() <=
             static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
    default:
      return false;
  }
}

bool IsNonEmptyString(const Json& v) {
  return v.is_string() && !v.get_ref<const std::string&>().empty();
}

// subject and dataschema are optional attributes of the spec with a non-empty string
// value (its schema); any other name is an extension.
bool IsValueFor(std::string_view name, const Json& v) {
  if (name == "subject" || name == "dataschema") return IsNonEmptyString(v);
  return IsAttributeValue(v);
}

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes base64 as RFC 4648 section 4 writes it (the standard alphabet, padded to a
// multiple of 4, no spaces). False when `text` is not that.
bool DecodeBase64(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out->clear();
  out->reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const int d = Base64Digit(text[i]);
    if (d < 0) return false;
    bits = bits << 6 | static_cast<std::uint32_t>(d);
    if (++count == 4) {
      out->push_back(static_cast<char>(bits >> 16));
      out->push_back(static_cast<char>(bits >> 8));
      out->push_back(static_cast<char>(bits));
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) out->push_back(static_cast<char>(bits >> 4));
  if (count == 3) {
    out->push_back(static_cast<char>(bits >> 10));
    out->push_back(static_cast<char>(bits >> 2));
  }
  return true;
}

bool IsBase64(std::string_view text) {
  std::string ignored;
  return DecodeBase64(text, &ignored);
}

// A payload that ReadCloudEvent made of binary data: {"data_base64": <base64>} with a
// "datacontenttype" that does not declare JSON, or none.
bool IsBinaryPayload(const Json& payload) {
  if (!payload.is_object() || payload.empty() || payload.size() > 2) return false;
  const auto data = payload.find("data_base64");
  if (data == payload.end() || !data->is_string() ||
      !IsBase64(data->get_ref<const std::string&>())) {
    return false;
  }
  if (payload.size() == 1) return true;
  const auto type = payload.find("datacontenttype");
  return type != payload.end() && type->is_string() &&
         !IsJsonMediaType(type->get_ref<const std::string&>());
}

// The payload for data_base64: the JSON object it encodes when the content type declares
// JSON, else the binary data as it came.
Status Base64Payload(const std::string& text, const std::string* content_type, Json* payload) {
  if (content_type == nullptr || !IsJsonMediaType(*content_type)) {
    Json p(Json::value_t::object);
    auto& members = p.get_ref<Json::object_t&>();
    members.emplace_back("data_base64", text);
    if (content_type != nullptr) members.emplace_back("datacontenttype", *content_type);
    *payload = std::move(p);
    return {};
  }
  std::string bytes;
  DecodeBase64(text, &bytes);  // checked already
  Result<Json> decoded = ParseJson(bytes);
  constexpr const char* kRule = "must encode a JSON object when datacontenttype is JSON";
  if (!decoded.ok())
    return Invalid("data_base64", std::string(kRule) + ": " + decoded.status().message());
  if (!decoded->is_object()) {
    return Invalid("data_base64", std::string(kRule) + " (got " + DescribeJson(*decoded) + ")");
  }
  *payload = std::move(*decoded);
  return {};
}

// The evt fields that evtfields carries; their names must be new.
Status ReadCarried(const Json& v, const Json::object_t& attributes, Json::object_t* carried) {
  constexpr std::string_view kName = kCarrierAttribute;
  if (!v.is_string()) return WrongType(kName, "a string holding a JSON object", v);
  Result<Json> fields = ParseJson(v.get_ref<const std::string&>());
  if (!fields.ok()) return Invalid(kName, fields.status().message());
  if (!fields->is_object()) return WrongType(kName, "a string holding a JSON object", *fields);
  // Names kept as unknown fields next to the carried ones, sorted to find a clash in
  // O(n log n) whatever the names are.
  std::vector<std::string_view> kept;
  for (const auto& kv : attributes) {
    if (!OneOf(kv.first, kMappedNames)) kept.push_back(kv.first);
  }
  std::sort(kept.begin(), kept.end());
  for (auto& kv : fields->get_ref<Json::object_t&>()) {
    if (IsEvtField(kv.first)) return Invalid(kName, Quoted(kv.first) + " is an evt field");
    if (std::binary_search(kept.begin(), kept.end(), std::string_view(kv.first))) {
      return Invalid(kName, Quoted(kv.first) + " is also an attribute");
    }
    carried->emplace_back(kv.first, std::move(kv.second));
  }
  return {};
}

// An evt field name in a CloudEvent, with the attribute to use instead.
Status EvtNameRefused(const EvtOnlyName& evt) {
  std::string rule = "is an evt field, not allowed in a CloudEvents event";
  if (!evt.ce.empty()) rule.append(" (use \"").append(evt.ce).append("\")");
  return Invalid(evt.evt, rule);
}

// An attribute that is not mapped onto a contract field: a valid name and a value of the
// CloudEvents type system.
Status CheckExtension(const std::string& name, const Json& v) {
  if (!IsAttributeName(name)) {
    return Invalid(Quoted(name), "not a CloudEvents attribute name (1-20 of a-z and 0-9)");
  }
  if (!IsValueFor(name, v)) {
    return WrongType(name,
                     name == "subject" || name == "dataschema"
                         ? "a non-empty string"
                         : "a string, a boolean or a 32-bit integer",
                     v);
  }
  return {};
}

// The data's shape once every member is read: the payload that data_base64 (at position
// `data_base64` of `out`, or out->size() when absent) encodes, or a check that the content
// type declares JSON.
Status ReadData(const std::string* content_type, std::size_t data_base64, Json::object_t* out) {
  if (data_base64 < out->size()) {
    Json& slot = out->data()[data_base64].second;
    const std::string text = slot.get<std::string>();
    return Base64Payload(text, content_type, &slot);
  }
  if (content_type != nullptr && !IsJsonMediaType(*content_type)) {
    return Invalid("datacontenttype",
                   "must be a JSON type (*/json or */*+json) unless the data is in data_base64 "
                   "(got " +
                       Quoted(*content_type) + ")");
  }
  return {};
}

}  // namespace

bool IsJsonMediaType(std::string_view t) {
  t = t.substr(0, t.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  const std::size_t slash = t.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string subtype(t.substr(slash + 1));
  for (char& c : subtype) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return subtype == "json" ||
         (subtype.size() > 5 && subtype.compare(subtype.size() - 5, 5, "+json") == 0);
}

Status ReadCloudEvent(Json::object_t* in, Json::object_t* carried) {
  Json::object_t out;
  out.reserve(in->size());
  const std::string* content_type = nullptr;
  const Json* carrier = nullptr;
  std::size_t data_base64 = in->size();  // position in `out` of the data it becomes
  bool has_data = false, has_id = false, has_source = false, has_type = false;
  for (auto& kv : *in) {
    const std::string& name = kv.first;
    Json& v = kv.second;
    if (name == "specversion") {
      // Checked here and written back by ToCloudEvents: not an evt field.
      if (!v.is_string() || v.get_ref<const std::string&>() != "1.0") {
        return Invalid(name, "must be \"1.0\" (got " + DescribeJson(v) + ")");
      }
      continue;
    }
    if (v.is_null()) continue;  // the JSON format's "unset"
    if (const EvtOnlyName* evt = FindEvtOnly(name)) return EvtNameRefused(*evt);
    if (name == "datacontenttype") {
      if (!v.is_string()) return WrongType(name, "a string", v);
      content_type = &v.get_ref<const std::string&>();
      continue;  // always application/json on output, or the binary data's own type
    }
    if (name == kCarrierAttribute) {
      carrier = &v;
      continue;
    }
    if (name == "data_base64") {
      if (!v.is_string()) return WrongType(name, "a string", v);
      if (!IsBase64(v.get_ref<const std::string&>())) {
        return Invalid(name, "must be base64 (RFC 4648) (got " + DescribeJson(v) + ")");
      }
      data_base64 = out.size();
      out.emplace_back("data", std::move(v));  // replaced below, once the type is known
      continue;
    }
    if (OneOf(name, kMappedNames)) {
      has_id = has_id || name == "id";
      has_source = has_source || name == "source";
      has_type = has_type || name == "type";
      has_data = has_data || name == "data";
    } else if (Status s = CheckExtension(name, v); !s.ok()) {
      return s;
    }
    out.emplace_back(name, std::move(v));
  }
  if (!has_id) return Invalid("id", "is required");
  if (!has_source) return Invalid("source", "is required");
  if (!has_type) return Invalid("type", "is required");
  if (data_base64 < out.size() && has_data) {
    return Invalid("data_base64", "not allowed together with data");
  }
  Status s = ReadData(content_type, data_base64, &out);
  if (s.ok() && carrier != nullptr) s = ReadCarried(*carrier, out, carried);
  if (s.ok()) in->swap(out);
  return s;
}

Json ToCloudEvents(const Event& event) {
  const Json& doc = event.doc;
  Json ce(Json::value_t::object);
  if (!doc.is_object()) return ce;
  auto& obj = ce.get_ref<Json::object_t&>();
  obj.reserve(doc.size() + 3);
  obj.emplace_back("specversion", "1.0");
  auto copy = [&](const char* field, const char* attribute) {
    const auto it = doc.find(field);
    if (it != doc.end()) obj.emplace_back(attribute, *it);
  };
  copy("event_id", "id");
  copy("event_type", "type");
  copy("source", "source");
  copy("occurred_at", "time");
  const auto payload = doc.find("payload");
  if (payload != doc.end() && IsBinaryPayload(*payload)) {
    const auto type = payload->find("datacontenttype");
    if (type != payload->end()) obj.emplace_back("datacontenttype", *type);
    obj.emplace_back("data_base64", payload->at("data_base64"));
  } else {
    obj.emplace_back("datacontenttype", "application/json");
    copy("payload", "data");
  }
  copy("idempotency_key", "idempotencykey");
  copy("correlation_id", "correlationid");
  const auto retries = doc.find("retry_count");
  if (retries != doc.end()) {
    // An Integer attribute holds 32 bits; a larger count goes as a string of digits,
    // which MakeEvent reads back.
    if (IsAttributeValue(*retries)) {
      obj.emplace_back("retrycount", *retries);
    } else {
      obj.emplace_back("retrycount", retries->dump());
    }
  }
  Json carried(Json::value_t::object);
  auto& carried_members = carried.get_ref<Json::object_t&>();
  for (const auto& kv : doc.get_ref<const Json::object_t&>()) {
    if (IsEvtField(kv.first)) continue;
    if (IsAttributeName(kv.first) && !OneOf(kv.first, kWrittenNames) &&
        IsValueFor(kv.first, kv.second)) {
      obj.emplace_back(kv.first, kv.second);
    } else {
      carried_members.emplace_back(kv.first, kv.second);
    }
  }
  if (!carried_members.empty()) obj.emplace_back(kCarrierAttribute, WriteCompact(carried));
  return ce;
}

}  // namespace evt
