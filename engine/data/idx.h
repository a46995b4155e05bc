// IDX files, the format of (Fashion-)MNIST: a 4-byte magic {0, 0, type, ndims}, ndims big-endian uint32 sizes,
// then the elements row-major. gzip'd files (.gz) are read through zlib; plain ones pass through unchanged.
//
// Only the unsigned-byte type (0x08) is read, which is what image and label files use. The reader trusts nothing:
// a non-regular file (a FIFO), a wrong magic, an unsupported type, zero or absurd sizes, a truncated payload,
// trailing bytes and gzip errors (corrupt data, CRC mismatch) all throw std::runtime_error naming the file and the
// problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gan::data {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// Files larger than this (in elements) are refused: 4 GiB, about 80 times Fashion-MNIST's training images.
constexpr int64_t kMaxIdxBytes = int64_t{1} << 32;

// Reads the file, refusing a header that announces more than max_bytes elements. The payload is read in growing
// chunks, never allocated up front from the header's word, so a short or hostile file costs about what it holds.
IdxArray read_idx(const std::string& path, int64_t max_bytes = kMaxIdxBytes);

}  // namespace gan::data
