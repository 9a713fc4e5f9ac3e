// The AttemptEnd of a handler run, as the worker builds it, for store tests.
#pragma once

#include <string>

#include "evt/queue.h"

namespace evt::testing {

// Attempt 1 of event `id` (type t.x, idempotency key `key`) on delivery `d`, leased by
// consumer "c1" and run for `duration`; occurred_at unknown (-1) unless set after.
inline AttemptEnd RanEnd(const Delivery& d, const std::string& id, const std::string& key,
                         Millis duration = Millis(3)) {
  AttemptEnd end;
  end.delivery_id = d.id;
  end.event_id = id;
  end.event_type = "t.x";
  end.idempotency_key = key;
  end.lease_owner = "c1 " + d.id;
  end.attempt = 1;
  end.ran = true;
  end.duration = duration;
  return end;
}

// A FinishAll call of `kind` for `end`, with no other argument.
inline FinishCall Call(FinishCall::Kind kind, const AttemptEnd& end) {
  FinishCall c;
  c.kind = kind;
  c.end = end;
  return c;
}

}  // namespace evt::testing
