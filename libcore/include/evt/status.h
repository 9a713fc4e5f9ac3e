// Status and Result<T>: how every fallible libcore call reports failure.
//
// A Status is either OK or a Kind plus a one-line message meant for a person
// ("line 3: event_type: must match ^[a-z0-9][a-z0-9_.-]*$"). Exceptions never
// cross a public libcore header: callers read `if (!s.ok()) return s;`.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace evt {

class Status {
 public:
  enum class Kind {
    kOk,
    kInvalidArgument,  // the caller's input broke a rule (usage or data)
    kUsage,            // the command line itself is wrong
    kNotFound,         // a named input does not exist
    kUnavailable,      // a peer (broker, endpoint) cannot be reached
    kTimeout,          // a deadline passed
    kIOError,          // reading or writing a file or pipe failed
    kConfig,           // configuration is wrong (bad option value from a file/env)
    kTryAgain,         // temporary refusal, e.g. backpressure
    kInternal,         // a bug or an impossible state
  };

  Status() = default;  // OK
  Status(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Kind::kInvalidArgument, std::move(m)}; }
  static Status Usage(std::string m) { return {Kind::kUsage, std::move(m)}; }
  static Status NotFound(std::string m) { return {Kind::kNotFound, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Kind::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Kind::kTimeout, std::move(m)}; }
  static Status IOError(std::string m) { return {Kind::kIOError, std::move(m)}; }
  static Status Config(std::string m) { return {Kind::kConfig, std::move(m)}; }
  static Status TryAgain(std::string m) { return {Kind::kTryAgain, std::move(m)}; }
  static Status Internal(std::string m) { return {Kind::kInternal, std::move(m)}; }

  bool ok() const { return kind_ == Kind::kOk; }
  Kind kind() const { return kind_; }
  // The one-line message; empty when ok().
  const std::string& message() const { return message_; }

 private:
  Kind kind_ = Kind::kOk;
  std::string message_;
};

// Holds either a T or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  // REQUIRES: !status.ok()
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace evt
