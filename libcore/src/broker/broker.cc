#include "evt/broker.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace evt {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes (a user name or password may hold any delimiter, escaped). A '%'
// that does not start two hex digits stands for itself, so "100%" needs no escaping.
std::string PercentDecode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

bool IsScheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// A URL cut where its credentials begin and end. The userinfo ends at the LAST '@': a
// password may hold every delimiter ('@', '/', ':', '?', '#', '[', ']'), raw or escaped,
// while no host, port, database or socket path of ours holds an '@'. Cutting at the first
// '@', or ending the authority at the first '/', puts part of a password in the host or
// the path, and from there in messages. An '@' after the host makes this hide too much,
// never too little.
struct UrlParts {
  std::string_view prefix;    // "scheme://", or empty when the URL has none
  std::string_view user;      // raw; the userinfo up to its first ':'
  bool has_password = false;  // the userinfo has a ':'
  std::string_view password;  // raw (still %-escaped); the userinfo after that ':'
  std::string_view rest;      // after the userinfo's '@', or after the prefix
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts p;
  // Only a real scheme counts: "://" may also stand inside a password.
  std::size_t scheme = url.find("://");
  if (scheme != std::string_view::npos && IsScheme(url.substr(0, scheme))) {
    p.prefix = url.substr(0, scheme + 3);
  }
  std::string_view after = url.substr(p.prefix.size());
  if (p.prefix == "sqlite://") {  // a file path: no credentials, and '@' is a file name's
    p.rest = after;
    return p;
  }
  std::size_t at = after.rfind('@');
  if (at == std::string_view::npos) {
    p.rest = after;
    return p;
  }
  std::string_view userinfo = after.substr(0, at);
  p.rest = after.substr(at + 1);
  std::size_t colon = userinfo.find(':');
  p.user = userinfo.substr(0, colon);
  if (colon != std::string_view::npos) {
    p.has_password = true;
    p.password = userinfo.substr(colon + 1);
  }
  return p;
}

bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 6) return false;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

Status Bad(const BrokerConfig& c, const std::string& why) {
  return Status::Usage("--broker " + c.redacted + ": " + why);
}

bool NameChars(std::string_view s, std::string_view extra) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// sqlite:///absolute/path[?sync=full|normal]: `rest` is what follows "sqlite://". The
// path is taken as it stands (no %-decoding, no user part): a file name may hold any byte.
Result<BrokerConfig> ParseSqliteUrl(std::string_view rest, BrokerConfig c) {
  c.kind = BrokerConfig::Kind::kSqlite;
  const std::size_t q = rest.find('?');
  c.path = std::string(rest.substr(0, q));
  if (c.path.empty() || c.path[0] != '/') {
    return Bad(c, "expected sqlite:///absolute/path/evt.db[?sync=full]");
  }
  if (c.path.back() == '/') return Bad(c, "the path names a folder, not a database file");
  if (q != std::string_view::npos) {
    const std::string_view query = rest.substr(q + 1);
    if (query == "sync=full") {
      c.sync_full = true;
    } else if (query != "sync=normal") {
      return Bad(c, "the only query parameter is sync=full or sync=normal");
    }
  }
  return c;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  UrlParts p = SplitUrl(url);
  if (!p.has_password) return std::string(url);
  return std::string(p.prefix) + std::string(p.user) + ":***@" + std::string(p.rest);
}

std::string StripUrlPassword(std::string_view url) {
  UrlParts p = SplitUrl(url);
  if (!p.has_password) return std::string(url);
  std::string out(p.prefix);
  if (!p.user.empty()) out += std::string(p.user) + "@";
  return out + std::string(p.rest);
}

Result<BrokerConfig> ParseBrokerUrl(std::string_view url) {
  BrokerConfig c;
  c.redacted = RedactUrl(url);
  if (url.empty() || url == "-") return c;
  if (url.rfind("unix://", 0) == 0) {
    c.kind = BrokerConfig::Kind::kRedisUnix;
    std::string_view rest = url.substr(7);
    std::size_t q = rest.find('?');
    c.path = std::string(rest.substr(0, q));
    if (c.path.empty() || c.path[0] != '/') {
      return Bad(c, "expected unix:///absolute/path/redis.sock[?db=N]");
    }
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !ParseInt(query.substr(3), 0, 100000, &c.db)) {
        return Bad(c, "the only query parameter is db=N");
      }
    }
    return c;
  }
  if (url.rfind("sqlite://", 0) == 0) return ParseSqliteUrl(url.substr(9), c);
  if (url.rfind("redis://", 0) != 0) {
    return Bad(c,
               "expected -, redis://[user[:password]@]host[:port][/db], unix:///path?db=N or "
               "sqlite:///path/evt.db");
  }
  c.kind = BrokerConfig::Kind::kRedisTcp;
  UrlParts parts = SplitUrl(url);
  c.user = PercentDecode(parts.user);
  if (parts.has_password) c.password = PercentDecode(parts.password);
  std::size_t slash = parts.rest.find('/');
  std::string_view authority = parts.rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = parts.rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 100000, &c.db))
      return Bad(c, "the database must be a number");
  }
  std::string_view host = authority;
  if (!host.empty() && host[0] == '[') {  // [::1]:6379
    std::size_t close = host.find(']');
    if (close == std::string_view::npos) return Bad(c, "unclosed [ in the host");
    c.host = std::string(host.substr(1, close - 1));
    std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':' || !ParseInt(after.substr(1), 1, 65535, &c.port)) {
        return Bad(c, "the port must be 1-65535");
      }
    }
  } else {
    std::size_t colon = host.rfind(':');
    c.host = std::string(host.substr(0, colon));
    if (colon != std::string_view::npos && !ParseInt(host.substr(colon + 1), 1, 65535, &c.port)) {
      return Bad(c, "the port must be 1-65535");
    }
  }
  if (c.host.empty()) return Bad(c, "no host");
  return c;
}

Status ResolveRedisPassword(BrokerConfig* c, const std::string& password_file,
                            const char* env_password) {
  if (!c->password.empty()) return Status::Ok();
  if (!password_file.empty()) {
    std::ifstream in(password_file);
    if (!in) {
      return Status::Config("--redis-password-file " + password_file + ": " + std::strerror(errno));
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) return Status::Config("--redis-password-file " + password_file + ": empty");
    c->password = line;
    return Status::Ok();
  }
  if (env_password != nullptr && *env_password != '\0') c->password = env_password;
  return Status::Ok();
}

Status ValidateQueueName(std::string_view queue) {
  if (!NameChars(queue, "_.-")) {
    return Status::Usage("--queue \"" + std::string(queue.substr(0, 80)) +
                         "\": must be 1-64 of [A-Za-z0-9_.-]");
  }
  return Status::Ok();
}

Status ValidateNamespace(std::string_view ns) {
  if (!NameChars(ns, "_.:-")) {
    return Status::Usage("--namespace \"" + std::string(ns.substr(0, 80)) +
                         "\": must be 1-64 of [A-Za-z0-9_.:-]");
  }
  return Status::Ok();
}

void ScrubCredentialEnvironment() {
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    char* entry = *e;
    char* eq = std::strchr(entry, '=');
    if (eq == nullptr) continue;
    std::string_view name(entry, static_cast<std::size_t>(eq - entry));
    char* value = eq + 1;
    const std::size_t length = std::strlen(value);
    if (name == "EVT_REDIS_PASSWORD") {
      std::memset(value, 0, length);
    } else if (name == "EVT_BROKER") {
      const std::string stripped = StripUrlPassword(value);
      if (stripped.size() < length) {  // it had a password; the stripped URL is shorter
        std::memcpy(value, stripped.data(), stripped.size());
        std::memset(value + stripped.size(), 0, length - stripped.size());
      }
    }
  }
}

}  // namespace evt
