// Runs a piece of code in a forked child and reports how it ended and how much memory it took: for inputs that
// must be refused without a crash, a hang or a large allocation.
//
// Peak memory is the growth of the child's resident high-water mark (VmHWM, reset through /proc/self/clear_refs
// before the code runs). Outside AddressSanitizer builds the child's address space is also capped at 1 GiB above
// its size at the start, so code that would allocate gigabytes fails fast there instead of taxing the machine.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#define GAN_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GAN_TEST_UNDER_ASAN 1
#endif
#endif

namespace gan::testing_child {

struct ChildOutcome {
  bool finished = false;     // exited on its own (no signal, no timeout)
  bool timed_out = false;
  bool threw = false;        // the code threw; `error` holds what()
  std::string error;
  int64_t peak_growth = -1;  // bytes
};

// "VmHWM" or "VmRSS" or "VmSize" of this process, in bytes.
inline int64_t proc_status_bytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size())) * 1024;
  return -1;
}

inline ChildOutcome run_in_child(const std::function<void()>& code, int timeout_s = 20) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(static_cast<unsigned>(timeout_s));
#ifndef GAN_TEST_UNDER_ASAN
    const rlim_t cap = static_cast<rlim_t>(proc_status_bytes("VmSize")) + (rlim_t{1} << 30);
    const struct rlimit limit = {cap, cap};
    ::setrlimit(RLIMIT_AS, &limit);
#endif
    { std::ofstream("/proc/self/clear_refs") << "5"; }  // reset VmHWM to the current RSS
    const int64_t before = proc_status_bytes("VmRSS");
    std::string message;
    char kind = 'o';
    try {
      code();
    } catch (const std::exception& e) {
      kind = 't';
      message = e.what();
    } catch (...) {
      kind = 't';
      message = "(not a std::exception)";
    }
    const std::string report = std::string(1, kind) + std::to_string(proc_status_bytes("VmHWM") - before) + "\n" +
                               message;
    if (::write(fds[1], report.data(), report.size()) < 0) ::_exit(5);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ChildOutcome out;
  out.timed_out = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
  out.finished = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !report.empty();
  if (out.finished) {
    out.threw = report[0] == 't';
    const size_t nl = report.find('\n');
    out.peak_growth = std::stoll(report.substr(1, nl - 1));
    out.error = report.substr(nl + 1);
  }
  return out;
}

}  // namespace gan::testing_child
