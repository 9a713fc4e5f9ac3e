// PRIVATE: the one wrapper around libcurl. Easy handles and header lists are owned by
// unique_ptr deleters, every option is set through a checked call, and the CURLcode of a
// transfer is turned into a Status right after curl_easy_perform.
// One CurlClient per thread at a time: it is not thread-safe (libcurl's rule for an easy
// handle); several clients may run at once on different threads.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evt/duration.h"
#include "evt/handler.h"
#include "evt/status.h"

namespace evt {

struct CurlEasyDeleter {
  void operator()(CURL* easy) const {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// One POST.
struct HttpPost {
  std::string url;                       // http:// or https://
  std::vector<std::string> headers;      // "Name: value" lines, checked by the caller
  std::string body;                      // sent as is
  Millis timeout{0};                     // the whole exchange, connect included; 0 = none
  std::size_t max_body = 64 * 1024;      // bytes of the response body kept
  const Cancellation* cancel = nullptr;  // may be null; aborts the transfer when cancelled
};

// What came back, or how far it got.
struct HttpReply {
  long code = 0;                 // HTTP status; 0 when no response arrived
  std::string body;              // the first max_body bytes of the response body
  std::uint64_t body_total = 0;  // bytes of body received, kept or not
  Millis retry_after{0};         // the Retry-After header (seconds or HTTP date); 0 = none
  long new_connections = 0;      // connections this exchange opened (0: one was reused)
  bool cancelled = false;        // aborted through HttpPost::cancel
  Millis duration{0};            // wall time of the exchange
};

class CurlClient {
 public:
  // A client with its own easy handle, hence its own connection cache: a connection it
  // opened stays open (keep-alive) for its next Post to the same host.
  // Internal error when libcurl cannot be initialised.
  static Result<std::unique_ptr<CurlClient>> Create();

  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Sends one POST and reads the reply (any status code is OK here: it is the caller's
  // to classify). Errors, with libcurl's reason in the message:
  //   Timeout      `request.timeout` passed;
  //   Unavailable  no HTTP response: name resolution, connect, TLS, the connection lost or
  //                closed without a reply, or the transfer cancelled (reply->cancelled);
  //   Internal     libcurl refused an option or ran out of memory.
  // `reply` is always filled as far as the exchange got. The URL never appears in a
  // message (it may hold a token).
  Status Post(const HttpPost& request, HttpReply* reply);

 private:
  explicit CurlClient(CurlEasyPtr easy);

  CurlEasyPtr easy_;
  char error_[CURL_ERROR_SIZE] = {};
};

// Checks that `url` parses and uses http or https. Config error naming what is wrong (the
// URL is not repeated, since it may carry a credential).
Status CheckHttpUrl(const std::string& url);

}  // namespace evt
