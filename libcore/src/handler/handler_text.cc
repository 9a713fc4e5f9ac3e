#include "handler/handler_text.h"

namespace evt {

std::string Field(const Event& event, const char* key) {
  auto it = event.doc.find(key);
  if (it == event.doc.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string FormatShortDuration(Millis d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

}  // namespace evt
