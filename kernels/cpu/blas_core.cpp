#include "kernels/blas_core.h"

#include <cblas.h>

namespace gan::kernels {

std::string blas_core_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "unknown";
}

}  // namespace gan::kernels
