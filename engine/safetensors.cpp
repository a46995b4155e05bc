// safetensors reader and writer; the format and the guarantees are described in engine/safetensors.h.
#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/checked.h"
#include "kernels/strided.h"

namespace gan {

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O copies tensor bytes as they are: it needs a little-endian host");

namespace {

using ordered_json = nlohmann::ordered_json;

// The reader refuses headers above this size, as the reference implementation does (100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// {"name": {"shape": [2, 3]}} is three levels: the object, an entry, its shape.
constexpr int kMaxHeaderDepth = 3;

// Every dtype name of the format, with its width in bits (the F4/F6 ones are packed below a byte).
struct DTypeInfo {
  const char* name;
  uint64_t bits;
  bool supported;
  DType dtype;  // meaningful when supported
};
constexpr DTypeInfo kDTypes[] = {
    {"F32", 32, true, DType::Float32},   {"F64", 64, true, DType::Float64}, {"I64", 64, true, DType::Int64},
    {"BF16", 16, true, DType::BFloat16}, {"BOOL", 8, false, {}},            {"U8", 8, false, {}},
    {"I8", 8, false, {}},                {"F8_E5M2", 8, false, {}},         {"F8_E4M3", 8, false, {}},
    {"F8_E8M0", 8, false, {}},           {"I16", 16, false, {}},            {"U16", 16, false, {}},
    {"F16", 16, false, {}},              {"I32", 32, false, {}},            {"U32", 32, false, {}},
    {"U64", 64, false, {}},              {"C64", 64, false, {}},            {"F4", 4, false, {}},
    {"F6_E2M3", 6, false, {}},           {"F6_E3M2", 6, false, {}},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

const char* safetensors_name(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::BFloat16: return "BF16";
  }
  return "?";
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string offsets_str(uint64_t b, uint64_t e) {
  return "[" + std::to_string(b) + ", " + std::to_string(e) + "]";
}

// ---- writing ----

[[noreturn]] void save_io_error(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error("save_safetensors: " + what + " for '" + path + "': " + std::strerror(err));
}

// Writes all n bytes (in chunks, retrying on EINTR and short writes); returns 0 or an errno.
int write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t(1) << 30);
    const ssize_t w = ::write(fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return ENOSPC;  // no progress and no error: treat as a full device
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Removes the temporary file (and closes it) unless the save reached the rename.
struct TempFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(path.c_str());
  }
};

// ---- reading ----

// Reads exactly n bytes at offset; returns 0, an errno, or -1 for a short read (the file shrank).
int pread_all(int fd, void* data, size_t n, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t(1) << 30);
    const ssize_t r = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return -1;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return 0;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

struct Entry {
  std::string name;
  const DTypeInfo* dtype;
  Shape shape;
  uint64_t begin, end;
};

}  // namespace

// ---- NamedTensors ----

const Tensor* NamedTensors::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& NamedTensors::at(const std::string& name) const {
  if (const Tensor* t = find(name)) return *t;
  throw std::out_of_range("NamedTensors: no tensor named '" + name + "'");
}

// ---- save ----

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = "save_safetensors('" + path + "'): ";

  // Check the arguments and gather contiguous CPU tensors.
  std::set<std::string> seen;
  std::vector<Tensor> data;
  data.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw std::invalid_argument(where + "a tensor has an empty name");
    if (name == "__metadata__")
      throw std::invalid_argument(where + "'__metadata__' is reserved and cannot name a tensor");
    if (!seen.insert(name).second) throw std::invalid_argument(where + "duplicate tensor name '" + name + "'");
    if (!t.defined()) throw std::invalid_argument(where + "tensor '" + name + "' is undefined");
    if (!t.device().is_cpu())
      throw std::invalid_argument(where + "tensor '" + name + "' is on " + t.device().str() +
                                  "; copy it to the CPU before saving");
    data.push_back(t.is_contiguous() ? t : t.detach().contiguous());
  }

  // The header: metadata first, then the tensors back to back in the given order.
  std::string header;
  try {
    ordered_json h = ordered_json::object();
    if (!metadata.empty()) {
      ordered_json m = ordered_json::object();
      for (const auto& [k, v] : metadata) m[k] = v;
      h["__metadata__"] = std::move(m);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = data[i];
      const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
      h[tensors[i].first] = ordered_json{{"dtype", safetensors_name(t.dtype())},
                                         {"shape", t.shape()},
                                         {"data_offsets", {offset, offset + nbytes}}};
      offset += nbytes;
    }
    header = h.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or a metadata string that is not UTF-8
    throw std::invalid_argument(where + "cannot encode the header: " + e.what());
  }
  header.append((8 - header.size() % 8) % 8, ' ');  // pad so the data buffer starts 8-byte aligned
  if (header.size() > kMaxHeaderBytes)
    throw std::invalid_argument(where + "the header would be " + std::to_string(header.size()) +
                                " bytes, over the " + std::to_string(kMaxHeaderBytes) + "-byte limit readers accept");

  unsigned char len_bytes[8];
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(n >> (8 * i));

  // Write a temporary file next to the target, make it durable, then rename it into place.
  TempFile tmp;
  tmp.path = path + ".tmp." + std::to_string(::getpid());
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tmp.fd < 0) save_io_error(path, "cannot create temporary file '" + tmp.path + "'", errno);
  if (int err = write_all(tmp.fd, len_bytes, 8)) save_io_error(path, "cannot write '" + tmp.path + "'", err);
  if (int err = write_all(tmp.fd, header.data(), header.size()))
    save_io_error(path, "cannot write '" + tmp.path + "'", err);
  for (const Tensor& t : data) {
    const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
    if (nbytes == 0) continue;
    if (int err = write_all(tmp.fd, t.raw_data(), nbytes))
      save_io_error(path, "cannot write '" + tmp.path + "'", err);
  }
  if (::fsync(tmp.fd) != 0) save_io_error(path, "cannot fsync '" + tmp.path + "'", errno);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) save_io_error(path, "cannot close '" + tmp.path + "'", errno);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    save_io_error(path, "cannot rename '" + tmp.path + "' over it", errno);
  tmp.committed = true;

  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL); nothing more to do there.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) save_io_error(path, "file written but cannot open its directory '" + dir + "' to fsync it", errno);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP)
    save_io_error(path, "file written but cannot fsync its directory '" + dir + "'", err);
}

// ---- load ----

NamedTensors load_safetensors(const std::string& path) {
  auto fail = [&](const std::string& problem) -> std::runtime_error {
    return std::runtime_error("load_safetensors('" + path + "'): " + problem);
  };

  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. Cleared once the file is
  // known to be a regular one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw fail(std::string("cannot open the file: ") + std::strerror(errno));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(std::string("cannot stat the file: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw fail("is a directory, not a file");
  if (S_ISFIFO(st.st_mode)) throw fail("is a FIFO (named pipe), not a regular file");
  if (!S_ISREG(st.st_mode)) throw fail("is not a regular file");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  auto read_at = [&](void* dst, size_t n, uint64_t offset, const std::string& what) {
    const int err = pread_all(fd, dst, n, offset);
    if (err == -1) throw fail("unexpected end of file while reading " + what + " (did the file change?)");
    if (err != 0) throw fail("cannot read " + what + ": " + std::strerror(err));
  };

  // The header length.
  if (file_size < 8)
    throw fail("truncated: the file is " + std::to_string(file_size) +
               " bytes, shorter than the 8-byte header length that starts a safetensors file");
  unsigned char len_bytes[8];
  read_at(len_bytes, 8, 0, "the header length");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
  if (header_len > kMaxHeaderBytes)
    throw fail("header length " + std::to_string(header_len) + " is absurd (the limit is " +
               std::to_string(kMaxHeaderBytes) + " bytes); this is not a safetensors file or it is corrupt");
  if (header_len > file_size - 8)
    throw fail("header length " + std::to_string(header_len) + " is larger than the rest of the file (" +
               std::to_string(file_size - 8) + " bytes): truncated or corrupt");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;

  // The header JSON. Duplicate keys (which a JSON library would silently merge) are rejected too.
  std::string header(static_cast<size_t>(header_len), '\0');
  read_at(header.data(), header.size(), 8, "the header");
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate_key;
  // Nesting is noted too: a header is three levels deep, and a deeper one would make the messages below (which
  // dump values) recurse as deep as a hostile file likes.
  int deepest = 0;
  const ordered_json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                       ordered_json& parsed) {
    using E = nlohmann::json::parse_event_t;
    deepest = std::max(deepest, depth);
    if (event == E::object_start) {
      open_objects.emplace_back();
    } else if (event == E::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == E::key && !open_objects.empty() && parsed.is_string()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(k).second && duplicate_key.empty()) duplicate_key = k;
    }
    return true;
  };
  ordered_json j;
  try {
    j = ordered_json::parse(header, on_event);
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (deepest > kMaxHeaderDepth)
    throw fail("header nests " + std::to_string(deepest) + " levels deep; a safetensors header has " +
               std::to_string(kMaxHeaderDepth) + " at most");
  if (!j.is_object()) throw fail(std::string("header is a JSON ") + j.type_name() + ", not an object");
  if (!duplicate_key.empty()) throw fail("header repeats the key '" + duplicate_key + "'");

  // Validate every entry before building anything.
  NamedTensors out;
  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const ordered_json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        throw fail(std::string("__metadata__ is a JSON ") + v.type_name() + ", not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw fail("__metadata__ value for key '" + m.key() + "' is a " + m.value().type_name() +
                     ", not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string tname = "tensor " + quoted(name);
    if (!v.is_object()) throw fail(tname + ": entry is a JSON " + v.type_name() + ", not an object");
    auto field = [&](const char* key) -> const ordered_json& {
      auto f = v.find(key);
      if (f == v.end()) throw fail(tname + " is missing the field \"" + key + "\"");
      return *f;
    };

    Entry e;
    e.name = name;

    const ordered_json& jd = field("dtype");
    if (!jd.is_string()) throw fail(tname + ": \"dtype\" is a " + jd.type_name() + ", not a string");
    const std::string& dname = jd.get_ref<const std::string&>();
    e.dtype = find_dtype(dname);
    if (!e.dtype) throw fail(tname + " has unknown dtype '" + dname + "'");

    const ordered_json& js = field("shape");
    if (!js.is_array()) throw fail(tname + ": \"shape\" is a " + js.type_name() + ", not an array");
    for (const ordered_json& d : js) {
      if (d.is_number_float()) throw fail(tname + ": shape has a non-integer dimension " + d.dump());
      if (!d.is_number_integer())
        throw fail(tname + ": shape has a dimension that is a " + d.type_name() + ", not an integer");
      if (!d.is_number_unsigned()) throw fail(tname + ": shape has a negative dimension " + d.dump());
      const uint64_t u = d.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw fail(tname + ": shape dimension " + d.dump() + " is too large");
      e.shape.push_back(static_cast<int64_t>(u));
    }
    if (e.shape.size() > static_cast<size_t>(kernels::kMaxDims))
      throw fail(tname + " has " + std::to_string(e.shape.size()) + " dimensions; the engine supports at most " +
                 std::to_string(kernels::kMaxDims));

    const ordered_json& jo = field("data_offsets");
    if (!jo.is_array() || jo.size() != 2)
      throw fail(tname + ": \"data_offsets\" must be an array [begin, end], not " + jo.dump());
    for (const ordered_json& o : jo)
      if (!o.is_number_unsigned())
        throw fail(tname + ": \"data_offsets\" " + jo.dump() + " must hold two non-negative integers");
    e.begin = jo[0].get<uint64_t>();
    e.end = jo[1].get<uint64_t>();
    if (e.begin > e.end)
      throw fail(tname + ": data_offsets " + offsets_str(e.begin, e.end) + " have begin > end");
    if (e.end > data_size)
      throw fail(tname + ": data_offsets " + offsets_str(e.begin, e.end) +
                 " are out of bounds: the data buffer holds " + std::to_string(data_size) + " bytes");

    // numel x dtype size must be exactly the byte range (with overflow checks: the shape is untrusted).
    int64_t bits = 0;
    bool overflow = false;
    try {
      const int64_t numel = std::find(e.shape.begin(), e.shape.end(), int64_t{0}) != e.shape.end()
                                ? 0
                                : shape_numel_checked(e.shape, tname);
      bits = checked_mul(numel, static_cast<int64_t>(e.dtype->bits), tname);
    } catch (const RangeError&) {
      overflow = true;
    }
    const uint64_t span = e.end - e.begin;
    if (overflow || bits % 8 != 0 || static_cast<uint64_t>(bits / 8) != span)
      throw fail(tname + ": size mismatch: shape " + shape_str(e.shape) + " of " + dname + " needs " +
                 (overflow ? std::string("more than 2^63") : bits % 8 ? std::to_string(bits) + " bits, not whole"
                                                                        : std::to_string(bits / 8)) +
                 " bytes but data_offsets " + offsets_str(e.begin, e.end) + " hold " + std::to_string(span));
    entries.push_back(std::move(e));
  }

  // No two tensors may share bytes (empty ones occupy none). Gaps are allowed.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry* a = by_offset[i - 1];
    const Entry* b = by_offset[i];
    if (b->begin < a->end)
      throw fail("tensors " + quoted(a->name) + " " + offsets_str(a->begin, a->end) + " and " + quoted(b->name) +
                 " " + offsets_str(b->begin, b->end) + " overlap");
  }

  for (const Entry& e : entries)
    if (!e.dtype->supported)
      throw fail(std::string("unsupported dtype ") + e.dtype->name + " for tensor " + quoted(e.name) +
                 " (the engine loads F32, F64 and I64)");

  // Build the tensors, reading each one straight into its storage.
  out.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype->dtype);
    const size_t nbytes = static_cast<size_t>(e.end - e.begin);
    if (nbytes > 0) read_at(t.raw_data(), nbytes, data_start + e.begin, "tensor " + quoted(e.name));
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace gan
