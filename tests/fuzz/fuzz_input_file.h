// The fuzz input as a file that the code under test opens by name, the way it opens users' files: one in-memory
// file (memfd) per process, rewritten for every input and named by its /proc/self/fd path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace gan::fuzz {

inline const std::string& input_file(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("gan-fuzz-input", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)))
    std::abort();
  return path;
}

}  // namespace gan::fuzz
