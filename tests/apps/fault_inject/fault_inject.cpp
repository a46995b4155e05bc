// A fault-injection library for the crash-safety tests (test_crash_safety.cpp), loaded into a real `gan` with
// LD_PRELOAD. It wraps write(), writev() and rename() and, on the Nth call that touches a file whose path contains
// a given text, kills the process with SIGKILL (half-way through the write, leaving a torn file as a power cut
// would) or makes that call and every later matching one fail with ENOSPC (a full disk). Production code knows
// nothing of it.
//
//   GAN_FAULT_CALL    write (also writev) or rename
//   GAN_FAULT_MATCH   text the file's path must contain (the rename's source), e.g. ".safetensors.tmp."
//   GAN_FAULT_AFTER   matching calls let through before the fault (default 0)
//   GAN_FAULT_ACTION  kill or enospc
#include <dlfcn.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using write_fn = ssize_t (*)(int, const void*, size_t);
using writev_fn = ssize_t (*)(int, const struct iovec*, int);
using rename_fn = int (*)(const char*, const char*);

std::atomic<long> g_matched{0};

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool wants(const char* call) { return std::strcmp(env("GAN_FAULT_CALL"), call) == 0; }

bool path_matches(const char* path) {
  const char* match = env("GAN_FAULT_MATCH");
  return *match && path && std::strstr(path, match) != nullptr;
}

bool fd_matches(int fd) {
  char link[64], path[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  return path_matches(path);
}

// True when this matching call is the one (or, for enospc, one of those) to fail.
bool fault_now() { return g_matched.fetch_add(1) >= std::atol(env("GAN_FAULT_AFTER")); }

bool action_is(const char* action) { return std::strcmp(env("GAN_FAULT_ACTION"), action) == 0; }

}  // namespace

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  static const auto real = reinterpret_cast<write_fn>(dlsym(RTLD_NEXT, "write"));
  if (wants("write") && fd_matches(fd) && fault_now()) {
    if (action_is("enospc")) {
      errno = ENOSPC;
      return -1;
    }
    real(fd, buf, n / 2);
    ::kill(::getpid(), SIGKILL);
  }
  return real(fd, buf, n);
}

extern "C" ssize_t writev(int fd, const struct iovec* iov, int count) {
  static const auto real = reinterpret_cast<writev_fn>(dlsym(RTLD_NEXT, "writev"));
  if (wants("write") && fd_matches(fd) && fault_now()) {
    if (action_is("enospc")) {
      errno = ENOSPC;
      return -1;
    }
    if (count > 0) {
      static const auto real_write = reinterpret_cast<write_fn>(dlsym(RTLD_NEXT, "write"));
      real_write(fd, iov[0].iov_base, iov[0].iov_len / 2);
    }
    ::kill(::getpid(), SIGKILL);
  }
  return real(fd, iov, count);
}

extern "C" int rename(const char* from, const char* to) {
  static const auto real = reinterpret_cast<rename_fn>(dlsym(RTLD_NEXT, "rename"));
  if (wants("rename") && path_matches(from) && fault_now()) {
    if (action_is("enospc")) {
      errno = ENOSPC;
      return -1;
    }
    ::kill(::getpid(), SIGKILL);
  }
  return real(from, to);
}
