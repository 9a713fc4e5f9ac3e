#include "handler/curl_client.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "handler/handler_text.h"

namespace evt {
namespace {

// curl_global_init is not thread-safe and must run before the first easy handle.
Status GlobalInit() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return Status::Internal(std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  }
  return Status::Ok();
}

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};

// Where the body of a reply goes: the first `max` bytes are kept.
struct BodySink {
  std::string* kept;
  std::uint64_t* total;
  std::size_t max;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  const size_t room = sink->max - std::min(sink->max, sink->kept->size());
  sink->kept->append(data, std::min(room, n));
  *sink->total += n;
  return n;  // always all of it: the rest is read and dropped, never an error
}

// libcurl calls this often while data moves and about once a second while it waits, so a
// cancelled attempt ends within about a second.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const Cancellation*>(user);
  return cancel != nullptr && cancel->cancelled() ? 1 : 0;
}

bool IsNetworkError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PROXY:
      return true;
    default:
      return false;
  }
}

// Sets one option; the first failure is kept in *status and later calls do nothing.
template <typename T>
void SetOpt(CURL* easy, CURLoption option, T value, Status* status) {
  if (!status->ok()) return;
  const CURLcode code = curl_easy_setopt(easy, option, value);
  if (code != CURLE_OK) {
    *status =
        Status::Internal(std::string("libcurl refused an option: ") + curl_easy_strerror(code));
  }
}

// The request's header lines as a libcurl list, with "Expect:" added. Null when out of
// memory.
CurlSlistPtr BuildHeaders(const std::vector<std::string>& lines) {
  CurlSlistPtr headers;
  auto append = [&headers](const char* line) {
    curl_slist* grown = curl_slist_append(headers.get(), line);
    if (grown == nullptr) return false;  // the old list is still ours
    headers.release();                   // it is the head of `grown` now
    headers.reset(grown);
    return true;
  };
  for (const std::string& h : lines) {
    if (!append(h.c_str())) return nullptr;
  }
  // No "Expect: 100-continue" round trip for larger bodies: not every server answers it.
  if (!append("Expect:")) return nullptr;
  return headers;
}

// Sets up `easy` for one POST of `request`. `headers`, `sink` and `error` must outlive the
// transfer (ClearRequest drops them from the handle).
Status SetRequest(CURL* easy, const HttpPost& request, curl_slist* headers, BodySink* sink,
                  char* error) {
  Status s;
  SetOpt(easy, CURLOPT_URL, request.url.c_str(), &s);
  SetOpt(easy, CURLOPT_PROTOCOLS_STR, "http,https", &s);
  SetOpt(easy, CURLOPT_FOLLOWLOCATION, 0L, &s);
  SetOpt(easy, CURLOPT_NOSIGNAL, 1L, &s);  // threads: no SIGALRM for DNS timeouts
  SetOpt(easy, CURLOPT_TCP_KEEPALIVE, 1L, &s);
  SetOpt(easy, CURLOPT_USERAGENT, "evt-work", &s);
  SetOpt(easy, CURLOPT_ERRORBUFFER, error, &s);
  SetOpt(easy, CURLOPT_POST, 1L, &s);
  SetOpt(easy, CURLOPT_POSTFIELDS, request.body.data(), &s);
  SetOpt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()), &s);
  SetOpt(easy, CURLOPT_HTTPHEADER, headers, &s);
  SetOpt(easy, CURLOPT_WRITEFUNCTION, OnBody, &s);
  SetOpt(easy, CURLOPT_WRITEDATA, static_cast<void*>(sink), &s);
  SetOpt(easy, CURLOPT_NOPROGRESS, 0L, &s);
  SetOpt(easy, CURLOPT_XFERINFOFUNCTION, OnProgress, &s);
  SetOpt(easy, CURLOPT_XFERINFODATA, static_cast<void*>(const_cast<Cancellation*>(request.cancel)),
         &s);
  SetOpt(easy, CURLOPT_TIMEOUT_MS,
         static_cast<long>(std::max<Millis::rep>(0, request.timeout.count())), &s);
  return s;
}

// The header list, body and sink die with the call: no pointer to them may stay behind
// in the handle for the next one.
void ClearRequest(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, static_cast<void*>(nullptr));
}

// The outcome of a transfer that ended with `code`, and the reply's status and Retry-After.
Status ReadReply(CURL* easy, CURLcode code, const char* error, HttpReply* reply) {
  long connects = 0;
  if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) {
    reply->new_connections = connects;
  }
  const std::string reason =
      std::string(curl_easy_strerror(code)) + (error[0] != '\0' ? std::string(": ") + error : "");
  if (code == CURLE_ABORTED_BY_CALLBACK) {
    reply->cancelled = true;
    return Status::Unavailable("cancelled");
  }
  if (code == CURLE_OPERATION_TIMEDOUT) return Status::Timeout(reason);
  if (code != CURLE_OK) {
    return IsNetworkError(code) ? Status::Unavailable(reason) : Status::Internal(reason);
  }
  long status = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status == 0) {
    return Status::Unavailable("no HTTP status in the reply");
  }
  reply->code = status;
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    reply->retry_after =
        std::min(Millis(static_cast<Millis::rep>(retry_after) * 1000), kMaxRetryAfter);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<CurlClient>> CurlClient::Create() {
  if (Status s = GlobalInit(); !s.ok()) return s;
  CurlEasyPtr easy(curl_easy_init());
  if (!easy) return Status::Internal("cannot create a libcurl handle");
  return std::unique_ptr<CurlClient>(new CurlClient(std::move(easy)));
}

CurlClient::CurlClient(CurlEasyPtr easy) : easy_(std::move(easy)) {}

Status CurlClient::Post(const HttpPost& request, HttpReply* reply) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  *reply = HttpReply{};
  CurlSlistPtr headers = BuildHeaders(request.headers);
  if (!headers) return Status::Internal("out of memory building HTTP headers");
  BodySink sink{&reply->body, &reply->body_total, request.max_body};
  CURL* easy = easy_.get();
  error_[0] = '\0';
  if (Status s = SetRequest(easy, request, headers.get(), &sink, error_); !s.ok()) return s;
  const CURLcode code = curl_easy_perform(easy);
  reply->duration = std::chrono::duration_cast<Millis>(Clock::now() - start);
  ClearRequest(easy);
  return ReadReply(easy, code, error_, reply);
}

Status CheckHttpUrl(const std::string& url) {
  if (Status s = GlobalInit(); !s.ok()) return s;
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u) return Status::Internal("out of memory parsing the --http URL");
  const CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    return Status::Config(std::string("--http: not a valid URL: ") + curl_url_strerror(rc));
  }
  char* raw = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) {
    return Status::Config("--http: the URL has no scheme (use http:// or https://)");
  }
  std::unique_ptr<char, CurlStringDeleter> scheme(raw);
  const std::string name = scheme.get();
  if (name != "http" && name != "https") {
    return Status::Config("--http: scheme " + name + " is not supported (use http:// or https://)");
  }
  return Status::Ok();
}

}  // namespace evt
