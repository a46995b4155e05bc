// IDX reader; see engine/data/idx.h.
#include "engine/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

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

constexpr int64_t kMaxBytes = int64_t{1} << 36;  // 64 GiB: anything larger is a corrupt header

class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (!f_)
      throw std::runtime_error("IDX file '" + path + "': cannot open: " +
                               (errno ? std::strerror(errno) : "out of memory"));
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

 private:
  [[noreturn]] void fail() {
    int err = Z_OK;
    const char* msg = gzerror(f_, &err);
    throw std::runtime_error("IDX file '" + path_ + "': " +
                             (err == Z_ERRNO ? std::string("read error: ") + std::strerror(errno)
                                             : std::string("corrupt gzip data: ") + msg) +
                             "; delete it and reinstall or re-download it");
  }

  std::string path_;
  gzFile f_ = nullptr;
};

}  // namespace

IdxArray read_idx(const std::string& path) {
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
    if (n > kMaxBytes / total)
      throw std::runtime_error(where + "the header's sizes ask for more than " + std::to_string(kMaxBytes) +
                               " bytes: corrupt header");
    total *= n;
    a.dims.push_back(n);
  }
  a.data.resize(static_cast<size_t>(total));
  const int64_t got = f.read(a.data.data(), total);
  if (got < total) {
    std::string shape;
    for (int64_t n : a.dims) {
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(n);
    }
    throw std::runtime_error(where + "truncated: the header announces " + shape + " = " + std::to_string(total) +
                             " bytes of data, the file holds " + std::to_string(got) + f.end_note() +
                             "; delete it and reinstall or re-download it");
  }
  // Reading past the end also makes zlib check the gzip trailer (CRC and length).
  char extra[64];
  const int64_t more = f.read(extra, sizeof extra);
  if (more > 0) throw std::runtime_error(where + "unexpected bytes after the " + std::to_string(total) + " bytes of data");
  return a;
}

}  // namespace gan::data
