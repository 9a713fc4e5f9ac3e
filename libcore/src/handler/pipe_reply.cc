#include "handler/pipe_reply.h"

#include <algorithm>

#include "evt/event.h"
#include "handler/handler_text.h"

namespace evt {

Result<PipeReply> ParsePipeReply(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Json doc = Json::parse(line.begin(), line.end(), nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument("not JSON");
  if (!doc.is_object()) return Status::InvalidArgument("not a JSON object");
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_string()) {
    return Status::InvalidArgument("no \"status\" string");
  }
  const std::string& name = status->get_ref<const std::string&>();
  PipeReply r;
  if (name == "ok") return r;
  if (name == "retry") {
    r.outcome = Outcome::kTransient;
    r.category = Category::kDependency;
  } else if (name == "fail") {
    r.outcome = Outcome::kPermanent;
    r.category = Category::kData;
  } else {
    return Status::InvalidArgument("\"status\" must be ok, retry or fail");
  }
  if (auto e = doc.find("error"); e != doc.end()) {
    if (!e->is_string()) return Status::InvalidArgument("\"error\" must be a string");
    r.error = OneLine(e->get_ref<const std::string&>(), 1000);
  }
  if (auto c = doc.find("category"); c != doc.end()) {
    if (!c->is_string()) return Status::InvalidArgument("\"category\" must be a string");
    r.category = ParseCategory(c->get_ref<const std::string&>());
  }
  if (auto ra = doc.find("retry_after_ms"); ra != doc.end()) {
    if (!ra->is_number_integer() || ra->get<long long>() < 0) {
      return Status::InvalidArgument("\"retry_after_ms\" must be an integer >= 0");
    }
    r.retry_after = std::min(Millis(ra->get<long long>()), kMaxRetryAfter);
  }
  if (r.error.empty()) r.error = "the handler replied " + name;
  return r;
}

}  // namespace evt
