#include "evt/worker_observer.h"

namespace evt {

std::string_view DispositionName(Disposition d) {
  switch (d) {
    case Disposition::kDone:
      return "done";
    case Disposition::kRetry:
      return "retry";
    case Disposition::kFailed:
      return "failed";
    case Disposition::kDuplicate:
      return "duplicate";
    case Disposition::kDeferred:
      return "deferred";
    case Disposition::kAbandoned:
      return "abandoned";
    case Disposition::kJournaled:
      return "journaled";
  }
  return "unknown";
}

}  // namespace evt
