// Non-blocking, regular-file-only opening and size-capped reading; see engine/regular_file.h.
#include "engine/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gan {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

[[noreturn]] void fail(const std::string& what, const std::string& path, const std::string& problem) {
  throw std::runtime_error(what + " '" + path + "': " + problem);
}

std::string not_regular(mode_t mode) {
  const std::string kind = kind_of(mode);
  return kind == "not a regular file" ? kind : "is " + kind + ", not a regular file";
}

}  // namespace

int open_regular_file(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(what, path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(what, path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(what, path, not_regular(st.st_mode));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

void check_regular_or_missing(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // missing (or unreachable: the open that follows says why)
  if (!S_ISREG(st.st_mode)) fail(what, path, not_regular(st.st_mode));
}

std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  const int fd = open_regular_file(path, what);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    fail(what, path, "is " + std::to_string(st.st_size) + " bytes, more than the " + std::to_string(max_bytes) +
                         " this program reads from such a file");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  // Reads what the file holds now: it may have shrunk (the rest is cut) or grown (up to max_bytes).
  for (;;) {
    if (done == out.size()) {
      if (out.size() >= max_bytes) break;
      out.resize(std::min<uint64_t>(max_bytes, out.size() + 4096));
    }
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail(what, path, std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace gan
