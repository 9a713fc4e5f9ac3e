// The one Catch2 main of the unit tests. The tools ignore SIGPIPE (signals.h); so do the
// tests, which start handler processes that may close their stdin early.
#define CATCH_CONFIG_RUNNER
#include <signal.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  ::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
