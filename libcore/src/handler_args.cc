#include "evt/handler_args.h"

#include <cstddef>
#include <string_view>

namespace evt {

namespace {

// One part of an argument template: literal text or a field path.
struct Piece {
  bool is_field = false;
  std::string text;  // the literal, or the path ("payload.server")
};

std::string Where(std::size_t index) { return "argument " + std::to_string(index); }

// Splits `arg` into pieces, turning "{{" and "}}" into literal braces. The message of an
// error names the rule; the caller adds which argument it is.
Status ParseTemplate(std::string_view arg, std::vector<Piece>* pieces) {
  std::string literal;
  std::size_t i = 0;
  while (i < arg.size()) {
    const char c = arg[i];
    if (c == '}') {
      if (i + 1 < arg.size() && arg[i + 1] == '}') {
        literal.push_back('}');
        i += 2;
        continue;
      }
      return Status::InvalidArgument("a lone '}' (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < arg.size() && arg[i + 1] == '{') {
      literal.push_back('{');
      i += 2;
      continue;
    }
    const std::size_t close = arg.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || arg[close] != '}') {
      return Status::InvalidArgument("an unclosed '{' (write '{{' for a literal brace)");
    }
    std::string_view path = arg.substr(i + 1, close - i - 1);
    if (path.empty()) return Status::InvalidArgument("an empty placeholder '{}'");
    if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string_view::npos) {
      return Status::InvalidArgument("{" + std::string(path) +
                                     "}: an empty part in the field name");
    }
    if (!literal.empty()) pieces->push_back({false, std::move(literal)});
    literal.clear();
    pieces->push_back({true, std::string(path)});
    i = close + 1;
  }
  if (!literal.empty()) pieces->push_back({false, std::move(literal)});
  return Status::Ok();
}

// A decimal array index, or npos.
std::size_t ParseIndex(std::string_view part) {
  if (part.empty() || part.size() > 9) return std::string_view::npos;
  std::size_t n = 0;
  for (char c : part) {
    if (c < '0' || c > '9') return std::string_view::npos;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

// The value at a dotted path, or null when any part is missing.
const Json* Lookup(const Json& doc, std::string_view path) {
  const Json* node = &doc;
  while (true) {
    const std::size_t dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    if (node->is_object()) {
      auto it = node->find(std::string(part));
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      const std::size_t index = ParseIndex(part);
      if (index == std::string_view::npos || index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
    if (dot == std::string_view::npos) return node;
    path.remove_prefix(dot + 1);
  }
}

}  // namespace

Result<std::vector<std::string>> ExpandArguments(const std::vector<std::string>& argv,
                                                 const Event& event) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (i == 0 || arg.find_first_of("{}") == std::string::npos) {
      out.push_back(arg);
      continue;
    }
    std::vector<Piece> pieces;
    if (Status s = ParseTemplate(arg, &pieces); !s.ok()) {
      return Status::InvalidArgument(Where(i) + ": " + s.message());
    }
    std::string value;
    for (const Piece& p : pieces) {
      if (!p.is_field) {
        value += p.text;
        continue;
      }
      const Json* field = Lookup(event.doc, p.text);
      if (field == nullptr) {
        return Status::InvalidArgument(Where(i) + ": {" + p.text + "}: no field " + p.text +
                                       " in the event");
      }
      if (field->is_string()) {
        const std::string& text = field->get_ref<const std::string&>();
        if (text.find('\0') != std::string::npos) {
          return Status::InvalidArgument(Where(i) + ": {" + p.text + "}: field " + p.text +
                                         " holds a NUL character, which no argument can carry");
        }
        value += text;
      } else {
        value += field->dump(-1, ' ', false, Json::error_handler_t::replace);
      }
    }
    out.push_back(std::move(value));
  }
  return out;
}

Status CheckArgumentTemplates(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    std::vector<Piece> pieces;
    if (Status s = ParseTemplate(argv[i], &pieces); !s.ok()) {
      return Status::Usage(Where(i) + " \"" + argv[i] + "\": " + s.message());
    }
  }
  return Status::Ok();
}

bool HasArgumentTemplates(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (argv[i].find_first_of("{}") != std::string::npos) return true;
  }
  return false;
}

}  // namespace evt
