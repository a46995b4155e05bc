// Checkpoint files in the safetensors format (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, a little-endian uint64
//   [N bytes]  a UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//              plus an optional "__metadata__" object of string -> string; may end in padding spaces
//   [rest]     the data buffer: each tensor's bytes, little-endian, row-major, at [begin, end) of this buffer
//
// These are the standard files, so the `safetensors` Python package (safetensors.numpy / safetensors.torch
// load_file) should read what save_safetensors writes, and save_safetensors files written by it with F32/F64/I64
// tensors should load here. (Written to the format's description; not tested against that package here.)
//
// The writer pads the header with spaces to a multiple of 8 bytes, as the reference implementation does, so the
// data buffer starts 8-byte aligned; tensors follow one another in the order given, with no gaps. It writes to
// `path + ".tmp.<pid>"`, fsyncs it, renames it over `path` and fsyncs the directory, so a crash leaves either the
// old file or the new one, never a torn one.
//
// The reader trusts nothing: every field of the header is checked (types, known dtype, integral non-negative
// dims, offsets inside the data buffer, size = numel x dtype size, no two tensors overlapping, metadata string ->
// string) before any tensor is built, and each problem throws std::runtime_error naming the file and the problem.
// Gaps between tensors and bytes after the last one are accepted (the reference rejects them). F32, F64, I64 and
// BF16 load as CPU tensors; other valid dtypes (F16, I32, U8, BOOL, ...) throw "unsupported dtype".
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace gan {

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the order of the file's header
  std::map<std::string, std::string> metadata;           // the "__metadata__" object (empty if none)

  // The tensor of that name, or nullptr.
  const Tensor* find(const std::string& name) const;
  // The tensor of that name; throws std::out_of_range naming it if absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  size_t size() const { return tensors.size(); }
};

// Writes the tensors (CPU, dtype F32/F64/I64, any strides: non-contiguous ones are made contiguous) and the
// metadata atomically to `path`. Names must be unique, non-empty and not "__metadata__". Throws
// std::invalid_argument for bad arguments and std::runtime_error (naming the path and strerror) for I/O failures,
// after removing the temporary file.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a safetensors file; tensors come back as fresh contiguous CPU tensors in header order.
NamedTensors load_safetensors(const std::string& path);

}  // namespace gan
