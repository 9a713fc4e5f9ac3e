// Why an event became a dead letter: the one list every transport and record shares
// (dead-letter files, the queue's dead-letter store, metrics, the outcome journal).
#pragma once

#include <string>
#include <string_view>

namespace evt {

enum class DeadReason { kPermanent, kRetriesExhausted, kPoison, kInvalid, kInterrupted };

// "permanent", "retries_exhausted", "poison", "invalid", "interrupted".
std::string_view DeadReasonName(DeadReason r);

// The reason DeadReasonName(r) names; kPermanent for a name it does not know.
DeadReason DeadReasonFromName(std::string_view name);

}  // namespace evt
