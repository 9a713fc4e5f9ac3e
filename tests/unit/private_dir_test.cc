#include "base/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

mode_t Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("private folders are created 0700 with their parents, existing ones are kept",
          "[private_dir]") {
  char tmpl[] = "/tmp/evt_private_dir_XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string base = tmpl;
  ::umask(022);
  REQUIRE(::chmod(base.c_str(), 0755) == 0);

  REQUIRE(evt::MakePrivateDirs(base + "/a/b", "--test x").ok());
  CHECK(Mode(base) == 0755);  // it existed: left alone
  CHECK(Mode(base + "/a") == 0700);
  CHECK(Mode(base + "/a/b") == 0700);
  REQUIRE(evt::MakePrivateDirs(base + "/a/b", "--test x").ok());  // again: nothing to do

  std::ofstream(base + "/file") << "x";
  evt::Status s = evt::MakePrivateDirs(base + "/file", "--test x");
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK(s.message() == "--test x: " + base + "/file is not a folder");
  s = evt::MakePrivateDirs(base + "/file/sub", "--test y");
  CHECK(s.message() == "--test y: " + base + "/file is not a folder");
  CHECK(evt::MakePrivateDirs("/proc/evt-no-such/x", "--test z").message() ==
        "--test z: cannot create folder /proc/evt-no-such: No such file or directory");
  CHECK(std::system(("rm -rf '" + base + "'").c_str()) == 0);
}
