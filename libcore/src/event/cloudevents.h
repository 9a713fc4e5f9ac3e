// PRIVATE: the CloudEvents 1.0 JSON format (evt(7), CLOUDEVENTS), read by MakeEvent and
// written by ToCloudEvents (event.h).
#pragma once

#include <string_view>

#include "evt/event.h"
#include "evt/status.h"

namespace evt {

// The extension that carries, as a string holding a JSON object, the evt fields that
// cannot be CloudEvents attributes (names such as `my_field` or `Tenant`, values such as
// objects, or names that ToCloudEvents writes itself, such as `type`).
inline constexpr std::string_view kCarrierAttribute = "evtfields";

// Checks a CloudEvents object (`in`, one with `specversion`) against the format's rules
// that the evt mapping in MakeEvent does not check itself, and puts it in the shape that
// mapping reads:
//  - a member whose value is null is unset: removed;
//  - specversion is "1.0"; id, source and type are there; an evt field name is refused;
//    any other name is 1-20 of [a-z0-9] and its value a string, a boolean or a 32-bit
//    integer (subject and dataschema non-empty strings);
//  - data_base64 (base64, never with data) becomes `data`: the JSON object it encodes
//    when datacontenttype is JSON, else {"data_base64": ...[, "datacontenttype": ...]};
//  - datacontenttype declares JSON unless the data came as data_base64; it is removed;
//  - evtfields is removed and the members of the object it holds are appended to
//    *carried (they must not be evt field names nor names of other members).
// Returns InvalidArgument naming the attribute and the rule on the first violation.
Status ReadCloudEvent(Json::object_t* in, Json::object_t* carried);

// True for a media type that declares JSON: */json or */*+json, parameters ignored, any
// case.
bool IsJsonMediaType(std::string_view type);

}  // namespace evt
