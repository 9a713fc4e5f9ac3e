#include "handler/child_io.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "handler/subprocess.h"  // kMaxStderrLine

namespace evt {

void LineSplitter::Feed(std::string_view data) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view part = data.substr(0, nl);
    line_.append(part.data(), std::min(part.size(), kMaxStderrLine - line_.size()));
    if (nl == std::string_view::npos) return;
    sink_(line_);
    line_.clear();
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::Finish() {
  if (!line_.empty()) sink_(line_);
  line_.clear();
}

void Capture::ReadAvailable(char* buf, std::size_t max) {
  // A bounded number of reads per wakeup so one chatty pipe cannot starve the others.
  for (int i = 0; i < 16 && fd.valid(); ++i) {
    ssize_t n = read(fd.get(), buf, kCaptureChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) fd.Reset();
      return;
    }
    if (n == 0) {
      fd.Reset();
      return;
    }
    std::size_t room = max - std::min(max, kept->size());
    kept->append(buf, std::min(room, static_cast<std::size_t>(n)));
    *total += static_cast<std::uint64_t>(n);
    if (ends_in_newline != nullptr) *ends_in_newline = buf[n - 1] == '\n';
    if (lines != nullptr) lines->Feed(std::string_view(buf, static_cast<std::size_t>(n)));
    if (static_cast<std::size_t>(n) < kCaptureChunk) return;  // most likely drained
  }
}

SigpipeBlock::SigpipeBlock() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeBlock::~SigpipeBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void SigpipeBlock::ConsumePending() {
  if (was_pending_) return;
  const timespec zero{0, 0};
  while (sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
  }
}
}  // namespace evt
