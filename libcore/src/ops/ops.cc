#include "evt/ops.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>

#include "evt/cli.h"
#include "evt/log.h"
#include "ops/health.h"
#include "ops/metrics_file.h"
#include "ops/metrics_registry.h"
#include "ops/ops_server.h"
#include "ops/sd_notify.h"
#include "ops/secret_files.h"
#include "ops/ticker.h"

namespace evt {
namespace {

// The observers and threads of one worker run. Members are destroyed in reverse order:
// the threads stop before the observers they read.
class OperationsImpl : public Operations {
 public:
  OperationsImpl(const OpsOptions& options)
      : options_(options),
        health_(options.clock, options.tick),
        metrics_(&health_, options.clock) {}

  ~OperationsImpl() override {
    if (!started_) return;  // a failed Start: its error says it all
    watchdog_.reset();
    if (notifier_ && !stopping_sent_) notifier_->OnStopping();
    server_.reset();
    file_ticker_.reset();
    if (!options_.metrics_file.empty()) WriteMetricsFile();
  }

  int port() const override { return server_ ? server_->port() : 0; }
  std::string MetricsText() const override { return metrics_.Render(); }

  Status Start(ObserverList* observers);

 private:
  // Notes that STOPPING=1 went out, so that the destructor does not send it twice.
  class StoppingSeen : public WorkerObserver {
   public:
    explicit StoppingSeen(std::atomic<bool>* flag) : flag_(flag) {}
    void OnStopping() override { *flag_ = true; }

   private:
    std::atomic<bool>* flag_;
  };

  Status WriteMetricsFile() {
    Status s = WriteFileAtomically(options_.metrics_file, metrics_.Render());
    if (!s.ok() && !file_error_logged_.exchange(true)) {
      Log(LogLevel::kWarn, "cannot write the metrics file", {{"error", s.message()}});
    }
    return s;
  }
  Status StartNotify();

  const OpsOptions options_;
  HealthTracker health_;
  MetricsRegistry metrics_;
  std::atomic<bool> stopping_sent_{false};
  StoppingSeen stopping_seen_{&stopping_sent_};
  std::atomic<bool> file_error_logged_{false};
  bool started_ = false;
  std::unique_ptr<NotifySocket> notify_socket_;
  std::unique_ptr<SdNotifier> notifier_;
  std::unique_ptr<OpsServer> server_;
  std::unique_ptr<Ticker> file_ticker_;
  std::unique_ptr<Ticker> watchdog_;
};

Status OperationsImpl::StartNotify() {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address == nullptr || *address == '\0') return Status::Ok();
  const Millis watchdog =
      WatchdogInterval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), getpid());
  Result<std::unique_ptr<NotifySocket>> socket = NotifySocket::Open(address);
  // Handlers are not the service: they must not notify systemd in the worker's name.
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  if (!socket.ok()) {
    Log(LogLevel::kWarn, "cannot notify the service manager",
        {{"error", socket.status().message()}});
    return Status::Ok();
  }
  notify_socket_ = std::move(*socket);
  notifier_ =
      std::make_unique<SdNotifier>(notify_socket_.get(), options_.clock, &health_, watchdog);
  if (watchdog > Millis(0)) {
    watchdog_ = std::make_unique<Ticker>([n = notifier_.get()] { return n->WatchdogTick(); });
  }
  return Status::Ok();
}

Status OperationsImpl::Start(ObserverList* observers) {
  if (options_.metrics_interval <= Millis(0)) {
    return Status::Usage("--metrics-interval must be more than 0");
  }
  std::optional<ListenAddress> address;
  if (!options_.listen.empty()) {
    Result<ListenAddress> a = ParseListenAddress(options_.listen);
    if (!a.ok()) return a.status();
    address = *a;
  }
  for (const std::string& path : options_.secret_files) WarnIfReadableByOthers(path);
  if (const char* env_file = std::getenv("EVT_ENV_FILE"); env_file != nullptr) {
    WarnIfReadableByOthers(env_file);
  }
  if (!options_.metrics_file.empty()) {
    if (Status s = WriteFileAtomically(options_.metrics_file, metrics_.Render()); !s.ok()) {
      return s;
    }
  }
  if (address) {
    Result<std::unique_ptr<OpsServer>> server = OpsServer::Start(*address, &health_, &metrics_);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    Log(LogLevel::kInfo, "serving /healthz and /metrics",
        {{"listen", address->host + ":" + std::to_string(server_->port())}});
  }
  if (Status s = StartNotify(); !s.ok()) return s;
  // The health tracker first: the others read what it was just told.
  observers->Add(&health_);
  observers->Add(&metrics_);
  if (notifier_) observers->Add(notifier_.get());
  observers->Add(&stopping_seen_);
  if (!options_.metrics_file.empty()) {
    file_ticker_ = std::make_unique<Ticker>([this, first = true]() mutable {
      if (!first) WriteMetricsFile();  // Start just wrote it
      first = false;
      return options_.metrics_interval;
    });
  }
  started_ = true;
  return Status::Ok();
}

}  // namespace

void AddOpsOptions(CLI::App& app, OpsOptions* options) {
  app.add_option("--listen", options->listen,
                 "Serve GET /healthz and GET /metrics on ADDR:PORT, e.g. 127.0.0.1:9464")
      ->envname("EVT_LISTEN")
      ->type_name("ADDR:PORT");
  app.add_option("--metrics-file", options->metrics_file,
                 "Rewrite the metrics to FILE (Prometheus text) every --metrics-interval")
      ->envname("EVT_METRICS_FILE")
      ->type_name("FILE");
  AddDurationOption(app, "--metrics-interval", &options->metrics_interval,
                    "How often --metrics-file is rewritten (and at exit)", "EVT_METRICS_INTERVAL");
}

Result<std::unique_ptr<Operations>> AttachOperations(const OpsOptions& options,
                                                     ObserverList* observers) {
  auto ops = std::make_unique<OperationsImpl>(options);
  if (Status s = ops->Start(observers); !s.ok()) return s;
  return std::unique_ptr<Operations>(std::move(ops));
}

}  // namespace evt
