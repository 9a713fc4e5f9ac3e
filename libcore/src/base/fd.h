// One owned file descriptor, and the pipe helpers the process spawners share.
#pragma once

namespace evt {

// Owns a file descriptor and closes it when it goes out of scope. Move-only; -1 = none.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor held (if any) and holds `fd` instead.
  void Reset(int fd = -1);
  // Gives up ownership: returns the descriptor and holds none. The caller closes it.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens a pipe with O_CLOEXEC on both ends from birth (another thread may fork at any
// moment, and its child must not keep our pipe ends open: that would hide EOF from us).
// False with errno set when pipe2 fails; the Fds are left as they were.
bool MakePipe(Fd* read_end, Fd* write_end);

// Sets O_NONBLOCK on `fd`. False with errno set on failure.
bool SetNonBlocking(int fd);

}  // namespace evt
