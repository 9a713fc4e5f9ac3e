#include "evt/dead_reason.h"

namespace evt {

std::string_view DeadReasonName(DeadReason r) {
  switch (r) {
    case DeadReason::kPermanent:
      return "permanent";
    case DeadReason::kRetriesExhausted:
      return "retries_exhausted";
    case DeadReason::kPoison:
      return "poison";
    case DeadReason::kInvalid:
      return "invalid";
    case DeadReason::kInterrupted:
      return "interrupted";
  }
  return "permanent";
}

DeadReason DeadReasonFromName(std::string_view name) {
  for (DeadReason r : {DeadReason::kPermanent, DeadReason::kRetriesExhausted, DeadReason::kPoison,
                       DeadReason::kInvalid, DeadReason::kInterrupted}) {
    if (DeadReasonName(r) == name) return r;
  }
  return DeadReason::kPermanent;
}

}  // namespace evt
