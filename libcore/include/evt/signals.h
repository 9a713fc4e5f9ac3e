// Signal handling for the tools: handlers only set a flag and wake the main loop.
#pragma once

namespace evt {

// Installs SIGTERM and SIGINT handlers that record the signal and write one byte to a
// wake pipe (see WakeFd()), and ignores SIGPIPE so that a closed output pipe is an
// EPIPE error rather than death. Call once, early in main(), before threads start.
void InstallStopSignals();

// True once SIGTERM or SIGINT has arrived. Async-signal-safe.
bool StopRequested();
// The signal that asked to stop (SIGTERM or SIGINT), 0 if none.
int StopSignal();

// The read end of the wake pipe: readable after a stop signal or WakeUp(). Non-blocking;
// DrainWake() empties it. -1 before InstallStopSignals().
int WakeFd();
// Wakes the main loop from any thread. Async-signal-safe.
void WakeUp();
void DrainWake();

}  // namespace evt
