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

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// A field path: parts of [A-Za-z0-9_-], joined by single dots ("payload.server").
bool IsFieldPath(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '.') {
      if (path[i + 1] == '.') return false;
    } else if (!IsPathChar(path[i])) {
      return false;
    }
  }
  return true;
}

// Splits `arg` into pieces. `{path}` is a placeholder only when `path` is a field path
// and the brace does not follow a `$`: so `sh -c 'echo ${HOME}'`, `awk '{print $1}'`,
// `jq '{a: .b}'` and `find -exec {} +` keep their braces as they are. "{{" and "}}" are
// always a literal brace, for the rare text that looks like a placeholder.
Status ParseTemplate(std::string_view arg, std::vector<Piece>* pieces) {
  std::string literal;
  std::size_t i = 0;
  while (i < arg.size()) {
    const char c = arg[i];
    if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
      literal.push_back(c);
      i += 2;
      continue;
    }
    if (c == '{' && (i == 0 || arg[i - 1] != '$')) {
      const std::size_t close = arg.find('}', i + 1);
      if (close != std::string_view::npos) {
        std::string_view path = arg.substr(i + 1, close - i - 1);
        if (IsFieldPath(path)) {
          if (!literal.empty()) pieces->push_back({false, std::move(literal)});
          literal.clear();
          pieces->push_back({true, std::string(path)});
          i = close + 1;
          continue;
        }
      }
    }
    literal.push_back(c);
    ++i;
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
