#include "evt/handler_http.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "evt/log.h"
#include "handler/curl_client.h"
#include "handler/handler_text.h"

namespace evt {

namespace {

// How much of a reply body goes into the one-line error (the whole kept body is in
// HandlerResult::output).
constexpr std::size_t kMaxErrorBody = 500;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A header value must not end the header early (CR, LF) or carry other control bytes.
bool IsSafeHeaderValue(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// Headers evt-work owns: a second copy would make the request ambiguous.
bool IsReservedHeader(const std::string& lower_name) {
  return lower_name == "content-type" || lower_name == "content-length" ||
         lower_name == "transfer-encoding" || lower_name == "expect" ||
         lower_name == "idempotency-key" || lower_name.rfind("x-evt-", 0) == 0;
}

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &len) == nullptr) {
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 15]);
  }
  return hex;
}

void WarnIfOthersMayRead(const std::string& path, const char* what) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  Log(LogLevel::kWarn, std::string(what) + " is readable by others; chmod o-r it",
      {{"file", path}, {"mode", std::string(mode)}});
}

// The outcome of an HTTP status code. 2xx is done.
void ClassifyStatus(long code, HandlerResult* r) {
  if (code >= 200 && code <= 299) {
    r->outcome = Outcome::kDone;
    r->category = Category::kNone;
  } else if (code == 408 || code == 425 || code == 429 || (code >= 500 && code <= 599)) {
    r->outcome = Outcome::kTransient;
    r->category = Category::kDependency;
  } else if (code == 401 || code == 403) {
    r->outcome = Outcome::kPermanent;
    r->category = Category::kAuth;
  } else {
    // Other 4xx: the request itself is wrong. 1xx/3xx: the endpoint is not one that
    // accepts events (redirects are not followed: a POST must not silently turn into a
    // GET somewhere else). Retrying changes neither.
    r->outcome = Outcome::kPermanent;
    r->category = Category::kData;
  }
}

HandlerResult Failure(Outcome outcome, Category category, std::string error) {
  HandlerResult result;
  result.outcome = outcome;
  result.category = category;
  result.error = std::move(error);
  return result;
}

// The request of one attempt: the event as the body, its identity in headers, the HMAC
// of the body with a secret. A failure result when the event cannot be sent.
std::optional<HandlerResult> BuildPost(const HttpHandlerOptions& o, const AttemptContext& ctx,
                                       HttpPost* post) {
  const Event& e = *ctx.event;
  post->url = o.url;
  post->timeout = o.timeout;
  post->max_body = o.max_output_bytes;
  post->cancel = ctx.cancel;
  post->body = e.doc.dump(-1, ' ', false, Json::error_handler_t::replace);
  const std::pair<const char*, std::string> from_event[] = {
      {"Idempotency-Key", Field(e, "idempotency_key")},
      {"X-Evt-Event-Id", Field(e, "event_id")},
      {"X-Evt-Event-Type", Field(e, "event_type")},
  };
  post->headers.reserve(6 + o.headers.size());
  post->headers.push_back("Content-Type: application/json");
  for (const auto& [name, value] : from_event) {
    // event_id and event_type cannot hold control characters (the contract's patterns),
    // but an idempotency key is any text.
    if (!IsSafeHeaderValue(value)) {
      return Failure(Outcome::kPermanent, Category::kData,
                     std::string("cannot send the event over HTTP: the ") + name +
                         " value holds a control character");
    }
    post->headers.push_back(std::string(name) + ": " + value);
  }
  post->headers.push_back("X-Evt-Attempt: " + std::to_string(ctx.attempt));
  if (!o.hmac_secret.empty()) {
    const std::string mac = HmacSha256Hex(o.hmac_secret, post->body);
    if (mac.empty()) return Failure(Outcome::kTransient, Category::kInternal, "HMAC-SHA256 failed");
    post->headers.push_back("X-Evt-Signature: sha256=" + mac);
  }
  post->headers.insert(post->headers.end(), o.headers.begin(), o.headers.end());
  return std::nullopt;
}

// The outcome of an exchange that ended with `s` and `reply`.
HandlerResult ClassifyReply(const HttpHandlerOptions& o, const Status& s, HttpReply reply) {
  const bool body_cut = reply.body_total > reply.body.size();
  HandlerResult result;
  if (reply.cancelled) {
    result = Failure(Outcome::kTransient, Category::kTimeout, "interrupted by shutdown");
    result.interrupted = true;
  } else if (s.kind() == Status::Kind::kTimeout) {
    result = Failure(Outcome::kTransient, Category::kTimeout,
                     "timed out after " + FormatShortDuration(o.timeout) + ": " + s.message());
  } else if (s.kind() == Status::Kind::kUnavailable) {
    result = Failure(Outcome::kTransient, Category::kNetwork, OneLine(s.message(), 1000));
  } else if (!s.ok()) {
    result = Failure(Outcome::kTransient, Category::kInternal, OneLine(s.message(), 1000));
  }
  result.duration = reply.duration;
  result.output = std::move(reply.body);
  if (reply.cancelled || !s.ok()) return result;
  ClassifyStatus(reply.code, &result);
  if (result.outcome == Outcome::kDone) return result;
  result.error = "HTTP " + std::to_string(reply.code);
  std::string body = OneLine(result.output, kMaxErrorBody);
  if (body_cut && result.output.size() <= kMaxErrorBody) body += "...";
  if (!body.empty()) result.error += ": " + body;
  if (result.outcome == Outcome::kTransient) result.retry_after = reply.retry_after;
  return result;
}

}  // namespace

struct HttpHandler::Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<CurlClient>> idle;  // LIFO: the last returned is reused first

  // An idle client, or a new one.
  Result<std::unique_ptr<CurlClient>> Take() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        std::unique_ptr<CurlClient> client = std::move(idle.back());
        idle.pop_back();
        return client;
      }
    }
    return CurlClient::Create();
  }

  void Give(std::unique_ptr<CurlClient> client) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(std::move(client));
  }
};

Result<std::unique_ptr<HttpHandler>> HttpHandler::Create(HttpHandlerOptions options) {
  if (Status s = CheckHttpUrl(options.url); !s.ok()) return s;
  std::vector<std::string> checked;
  for (const std::string& h : options.headers) {
    if (Status s = AddHttpHeader(h, &checked); !s.ok()) return Status::Config(s.message());
  }
  options.headers = std::move(checked);
  return std::unique_ptr<HttpHandler>(new HttpHandler(std::move(options)));
}

HttpHandler::HttpHandler(HttpHandlerOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>()) {}

HttpHandler::~HttpHandler() = default;

HandlerResult HttpHandler::Run(const AttemptContext& ctx) {
  if (ctx.cancel != nullptr && ctx.cancel->cancelled()) {
    HandlerResult result =
        Failure(Outcome::kTransient, Category::kTimeout, "interrupted by shutdown");
    result.interrupted = true;
    return result;
  }
  if (ctx.event == nullptr) return Failure(Outcome::kTransient, Category::kInternal, "no event");
  HttpPost post;
  if (std::optional<HandlerResult> failed = BuildPost(options_, ctx, &post)) return *failed;
  Result<std::unique_ptr<CurlClient>> client = pool_->Take();
  if (!client.ok()) {
    return Failure(Outcome::kTransient, Category::kInternal, client.status().message());
  }
  HttpReply reply;
  const Status s = (*client)->Post(post, &reply);
  pool_->Give(std::move(*client));
  return ClassifyReply(options_, s, std::move(reply));
}

Status AddHttpHeader(std::string_view line, std::vector<std::string>* headers) {
  const std::size_t colon = line.find(':');
  const std::string_view name = Trim(line.substr(0, colon));
  if (colon == std::string_view::npos || name.empty()) {
    return Status::Usage("--header: expected 'Name: value', got no name and colon");
  }
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return Status::Usage("--header: \"" + OneLine(name, 100) + "\" is not a valid header name");
  }
  const std::string_view value = Trim(line.substr(colon + 1));
  if (value.empty()) return Status::Usage("--header " + std::string(name) + ": empty value");
  if (!IsSafeHeaderValue(value)) {
    return Status::Usage("--header " + std::string(name) + ": the value holds a control character");
  }
  if (IsReservedHeader(Lower(name))) {
    return Status::Usage("--header " + std::string(name) + ": evt-work sets this header itself");
  }
  headers->push_back(std::string(name) + ": " + std::string(value));
  return Status::Ok();
}

Status ReadHttpHeaderFile(const std::string& path, std::vector<std::string>* headers) {
  std::ifstream in(path);
  if (!in) return Status::Config("--header-file " + path + ": " + std::strerror(errno));
  WarnIfOthersMayRead(path, "--header-file");
  std::string line;
  int number = 0;
  std::vector<std::string> read;
  while (std::getline(in, line)) {
    ++number;
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (Status s = AddHttpHeader(trimmed, &read); !s.ok()) {
      return Status::Config(path + ":" + std::to_string(number) + ": " + s.message());
    }
  }
  if (in.bad()) return Status::Config("--header-file " + path + ": read error");
  headers->insert(headers->end(), read.begin(), read.end());
  return Status::Ok();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Config("--hmac-secret-file " + path + ": " + std::strerror(errno));
  WarnIfOthersMayRead(path, "--hmac-secret-file");
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return Status::Config("--hmac-secret-file " + path + ": empty");
  return secret;
}

}  // namespace evt
