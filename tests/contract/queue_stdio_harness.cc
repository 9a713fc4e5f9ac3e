// The stdio implementation of the queue contract: events are lines written into a pipe
// the queue reads (publish = write one line), results go to a file and dead letters to
// a dlq file in a fresh temp folder per harness. It is one worker's in-memory run: no
// claim, no consumer groups, nothing durable, no per-delivery start counting, no status
// records, metrics or worker records (those views stay nullopt).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "evt/dead_letter.h"
#include "evt/stdio_queue.h"
#include "queue_impls.h"
#include "temp_dir.h"

namespace evt::contract {
namespace {

class StdioHarness : public QueueHarness {
 public:
  StdioHarness() {
    if (::pipe2(in_, O_CLOEXEC) != 0) throw std::runtime_error("stdio harness: pipe failed");
    out_fd_ = ::open((dir_ / "results.ndjson").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (out_fd_ < 0) throw std::runtime_error("stdio harness: cannot open the results file");
    if (Status s = dlq_.Open(dir_ / "dlq.ndjson"); !s.ok()) {
      throw std::runtime_error("stdio harness: " + s.message());
    }
    StdioQueueOptions o;
    o.consumer = "c1";
    queue_ = OpenStdioQueue(in_[0], out_fd_, dlq_, o);
  }
  ~StdioHarness() override {
    queue_.reset();
    for (int fd : {in_[0], in_[1], out_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Queue& queue() override { return *queue_; }

  // One run reads one input: there is no other consumer, and no restart.
  std::unique_ptr<Queue> OpenConsumer(const std::string& /*consumer*/) override { return nullptr; }

  Status Publish(const std::string& raw) override {
    const std::string line = raw + "\n";
    if (::write(in_[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return Status::IOError("stdio harness: cannot write a line into the pipe");
    }
    return Status::Ok();
  }

  UnixMillis Now() override { return NowUnixMillis(); }
  void Wait(Millis d) override { std::this_thread::sleep_for(d); }

  // The dead letters are the lines of the dlq file.
  std::optional<std::int64_t> DeadLetters() override {
    const std::string text = testing::ReadFile(dir_ / "dlq.ndjson");
    return static_cast<std::int64_t>(std::count(text.begin(), text.end(), '\n'));
  }

 private:
  testing::TempDir dir_;  // first member: outlives the files
  int in_[2] = {-1, -1};
  int out_fd_ = -1;
  DeadLetterSink dlq_;
  std::unique_ptr<Queue> queue_;
};

[[maybe_unused]] const bool registered =
    RegisterQueueImpl({"stdio",
                       {/*has_claim=*/false, /*has_consumer_groups=*/false,
                        /*durable=*/false, /*counts_starts=*/false,
                        /*leases_expire=*/false, /*schedules=*/false,
                        /*claims_own=*/false},
                       [] { return std::make_unique<StdioHarness>(); }});

}  // namespace
}  // namespace evt::contract
