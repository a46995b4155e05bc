// Shapes and strides: small vectors of int64 with the helpers every op needs (numel, contiguous strides,
// broadcasting, dim wrapping) and a printer for error messages ("[64, 3, 32, 32]").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gan {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
// The same with overflow checks, for shapes that come from outside: a RangeError naming `what` when it overflows.
int64_t shape_numel_checked(const Shape& s, const std::string& what);
Shape contiguous_strides(const Shape& s);

// PyTorch broadcasting: align right, sizes must match or be 1. Throws "<op>: shapes [..] and [..] cannot be
// broadcast" otherwise.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Wraps a possibly negative dim into [0, ndim); throws naming the op and the shape when out of range.
int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim, const Shape& shape);

}  // namespace gan
