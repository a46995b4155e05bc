// IDX reader; see engine/data/idx.h.
#include "engine/data/idx.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "engine/checked.h"
#include "engine/regular_file.h"

namespace gan::data {

namespace {

// Element types the IDX format defines (for naming the unsupported ones in errors).
const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return nullptr;
  }
}

class GzFile {
 public:
  // The file is opened as a regular file first (a FIFO would block zlib's open forever), then handed to zlib.
  explicit GzFile(const std::string& path) : path_(path) {
    const int fd = open_regular_file(path, "IDX file");
    struct stat st {};
    ::fstat(fd, &st);
    file_size_ = static_cast<int64_t>(st.st_size);
    unsigned char head[2] = {0, 0};
    gzipped_ = ::pread(fd, head, 2, 0) == 2 && head[0] == 0x1f && head[1] == 0x8b;
    f_ = gzdopen(fd, "rb");
    if (!f_) {
      ::close(fd);
      throw std::runtime_error("IDX file '" + path + "': cannot open: out of memory");
    }
    gzbuffer(f_, 1 << 17);
  }
  ~GzFile() { gzclose(f_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many (fewer only at the end of the data). Throws on a zlib error.
  int64_t read(void* out, int64_t n) {
    int64_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, int64_t{1} << 30));
      const int got = gzread(f_, static_cast<char*>(out) + done, chunk);
      if (got < 0) fail();
      if (got == 0) {
        int err = Z_OK;
        gzerror(f_, &err);
        if (err != Z_OK && err != Z_BUF_ERROR) fail();
        break;
      }
      done += got;
    }
    return done;
  }

  // A gzip stream cut short reads as a short read with Z_BUF_ERROR ("unexpected end of file").
  std::string end_note() {
    int err = Z_OK;
    const char* msg = gzerror(f_, &err);
    return err == Z_BUF_ERROR ? std::string(" (gzip: ") + msg + ")" : std::string();
  }

  [[noreturn]] void fail() {
    int err = Z_OK;
    const char* msg = gzerror(f_, &err);
    throw std::runtime_error("IDX file '" + path_ + "': " +
                             (err == Z_ERRNO ? std::string("read error: ") + std::strerror(errno)
                                             : std::string("corrupt gzip data: ") + msg) +
                             "; delete it and reinstall or re-download it");
  }

  // The file's size, and whether it is gzip'd (else zlib passes its bytes through): a plain file's header must
  // not announce more than the file holds.
  int64_t file_size() const { return file_size_; }
  bool gzipped() const { return gzipped_; }

 private:
  std::string path_;
  gzFile f_ = nullptr;
  int64_t file_size_ = 0;
  bool gzipped_ = false;
};

}  // namespace

IdxArray read_idx(const std::string& path, int64_t max_bytes) {
  GzFile f(path);
  const std::string where = "IDX file '" + path + "': ";
  unsigned char magic[4];
  const int64_t got_magic = f.read(magic, 4);
  if (got_magic < 4)
    throw std::runtime_error(where + "truncated: " + std::to_string(got_magic) + " bytes, shorter than the 4-byte magic" +
                             f.end_note());
  if (magic[0] != 0 || magic[1] != 0)
    throw std::runtime_error(where + "wrong magic " + std::to_string(magic[0]) + " " + std::to_string(magic[1]) + " " +
                             std::to_string(magic[2]) + " " + std::to_string(magic[3]) +
                             ": not an IDX file (they start with two zero bytes)");
  const char* type = idx_type_name(magic[2]);
  if (!type) throw std::runtime_error(where + "wrong magic: unknown element type code " + std::to_string(magic[2]));
  if (magic[2] != 0x08)
    throw std::runtime_error(where + "element type '" + type + "' is not supported (only unsigned byte, 0x08)");
  const int ndims = magic[3];
  if (ndims < 1) throw std::runtime_error(where + "wrong magic: 0 dimensions");

  IdxArray a;
  int64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    unsigned char b[4];
    if (f.read(b, 4) < 4)
      throw std::runtime_error(where + "truncated header: " + std::to_string(ndims) + " dimensions announced, " +
                               std::to_string(d) + " present" + f.end_note());
    const int64_t n = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    if (n == 0) throw std::runtime_error(where + "dimension " + std::to_string(d) + " has size 0");
    try {
      total = checked_mul(total, n, "the header's sizes", max_bytes);
    } catch (const RangeError&) {
      throw std::runtime_error(where + "the header's sizes ask for more than " + std::to_string(max_bytes) +
                               " bytes, the limit for this file: corrupt header");
    }
    a.dims.push_back(n);
  }
  const auto shape_text = [&] {
    std::string shape;
    for (int64_t n : a.dims) {
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(n);
    }
    return shape;
  };
  const int64_t header = 4 + 4 * int64_t{ndims};
  if (!f.gzipped() && total > f.file_size() - header)
    throw std::runtime_error(where + "truncated: the header announces " + shape_text() + " = " +
                             std::to_string(total) + " bytes of data, the file holds " +
                             std::to_string(std::max<int64_t>(0, f.file_size() - header)) +
                             "; delete it and reinstall or re-download it");
  // Read in growing chunks rather than allocating what the header announces: a small gzip stream cannot make
  // this allocate much more than it really inflates to.
  int64_t got = 0;
  while (got < total) {
    const int64_t chunk = std::min(total - got, std::max<int64_t>(int64_t{1} << 20, got));
    a.data.resize(static_cast<size_t>(got + chunk));
    const int64_t n = f.read(a.data.data() + got, chunk);
    got += n;
    if (n < chunk) break;
  }
  if (got < total)
    throw std::runtime_error(where + "truncated: the header announces " + shape_text() + " = " + std::to_string(total) +
                             " bytes of data, the file holds " + std::to_string(got) + f.end_note() +
                             "; delete it and reinstall or re-download it");
  // Reading past the end also makes zlib check the gzip trailer (CRC and length).
  char extra[64];
  const int64_t more = f.read(extra, sizeof extra);
  if (more > 0) throw std::runtime_error(where + "unexpected bytes after the " + std::to_string(total) + " bytes of data");
  return a;
}

}  // namespace gan::data
