// Shared plumbing for the op implementations: layouts for the kernels, dtype/device checks that name the op.
#pragma once

#include <string>

#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/strided.h"

namespace gan::detail {

// The kernel's view of t, broadcast (stride 0) to `shape` when given.
kernels::Layout layout_of(const Tensor& t);
kernels::Layout layout_of(const Tensor& t, const Shape& broadcast_to);

void check_defined(const char* op, const Tensor& t, const char* what = "input");
void check_floating(const char* op, const Tensor& t);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_cpu(const char* op, const Tensor& t);

// t's values on the host: t itself when it is on the CPU, else a copy (for checks that read indices or labels).
Tensor to_host(const Tensor& t);

std::string describe(const Tensor& t);  // "float32[2, 3] on cpu"

}  // namespace gan::detail
