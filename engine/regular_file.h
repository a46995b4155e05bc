// Opening files named by users without trusting them: a FIFO, a device or a directory given where a file is
// expected is refused before anything blocks on it (opening a FIFO for reading waits for a writer forever), and a
// file is read whole only up to a stated size.
#pragma once

#include <cstdint>
#include <string>

namespace gan {

// Opens `path` for reading and checks it is a regular file (symbolic links followed). The open itself cannot
// block: it uses O_NONBLOCK, cleared again once the file is known to be regular. Returns the descriptor (the
// caller closes it). Throws std::runtime_error "<what> '<path>': <problem>", e.g. "is a FIFO, not a regular file".
int open_regular_file(const std::string& path, const std::string& what);

// Refuses an existing path that is not a regular file (without opening it); a missing path is fine. For files
// about to be written or appended to.
void check_regular_or_missing(const std::string& path, const std::string& what);

// The whole file, at most max_bytes (larger is an error naming the size and the limit).
std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes);

}  // namespace gan
