#include "evt/handler.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace evt {

Cancellation::Cancellation() {
  // If eventfd fails (fd exhaustion) fd_ stays -1: cancelled() still works, but code
  // that waits on fd() only notices at its next deadline.
  fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Cancellation::~Cancellation() {
  if (fd_ >= 0) close(fd_);
}

void Cancellation::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  if (fd_ < 0) return;
  // Nobody reads the counter, so the fd stays readable for every later poll(2).
  // EAGAIN (counter full) cannot matter: it is already readable then.
  const std::uint64_t one = 1;
  ssize_t n = write(fd_, &one, sizeof one);
  (void)n;
}

}  // namespace evt
