// Loads cuBLAS on first use (kernels/cuda/cublas_api.h says why it is not linked).
#include "kernels/cuda/cublas_api.h"

#include <stdexcept>
#include <string>

#if !defined(GAN_CUDA_EMU)
#include <dlfcn.h>
#endif

namespace gan::kernels::cuda {

#if defined(GAN_CUDA_EMU)

const CublasApi& cublas() {
  static const CublasApi api{&cublasCreate,   &cublasSetStream, &cublasSetMathMode,     &cublasSgemm_64,
                             &cublasDgemm_64, &cublasGemmEx_64, &cublasGetStatusString};
  return api;
}

#else

namespace {

// The exported names: cublas_v2.h maps the API's names to versioned symbols by macros (cublasCreate ->
// cublasCreate_v2, cublasSgemm_64 -> cublasSgemm_v2_64); expanding the macro here gives the symbol.
#define GAN_CUBLAS_SYMBOL_NAME(name) GAN_CUBLAS_STRINGIZE(name)
#define GAN_CUBLAS_STRINGIZE(name) #name

// The library of the cuBLAS major version compiled against: first as the dynamic loader finds it (LD_LIBRARY_PATH,
// ld.so.cache, the program's run path), then in the toolkit this was built with (GAN_CUDA_LIBRARY_DIR), where the
// linked library used to be found through the run path.
void* open_library(std::string& tried) {
  const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  if (void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  tried = name + " (" + dlerror() + ")";
#if defined(GAN_CUDA_LIBRARY_DIR)
  const std::string path = std::string(GAN_CUDA_LIBRARY_DIR) + "/" + name;
  if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  tried += ", " + path + " (" + dlerror() + ")";
#endif
  return nullptr;
}

template <typename F>
void bind(void* lib, F& fn, const char* symbol) {
  fn = reinterpret_cast<F>(dlsym(lib, symbol));
  if (fn == nullptr)
    throw std::runtime_error(std::string("cuBLAS: the loaded libcublas has no ") + symbol +
                             "; it must be cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) + ".x, as built against");
}

CublasApi load() {
  std::string tried;
  void* lib = open_library(tried);
  if (lib == nullptr)
    throw std::runtime_error("cuBLAS is needed for a matrix product on the GPU and could not be loaded: tried " +
                             tried + ". Install the CUDA toolkit's cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) +
                             ".x or add the directory holding libcublas.so." + std::to_string(CUBLAS_VER_MAJOR) +
                             " to LD_LIBRARY_PATH");
  CublasApi api{};  // the library stays loaded for the life of the process (handles are never destroyed)
  bind(lib, api.create, GAN_CUBLAS_SYMBOL_NAME(cublasCreate));
  bind(lib, api.set_stream, GAN_CUBLAS_SYMBOL_NAME(cublasSetStream));
  bind(lib, api.set_math_mode, GAN_CUBLAS_SYMBOL_NAME(cublasSetMathMode));
  bind(lib, api.sgemm_64, GAN_CUBLAS_SYMBOL_NAME(cublasSgemm_64));
  bind(lib, api.dgemm_64, GAN_CUBLAS_SYMBOL_NAME(cublasDgemm_64));
  bind(lib, api.gemm_ex_64, GAN_CUBLAS_SYMBOL_NAME(cublasGemmEx_64));
  bind(lib, api.status_string, GAN_CUBLAS_SYMBOL_NAME(cublasGetStatusString));
  return api;
}

}  // namespace

const CublasApi& cublas() {
  static const CublasApi api = load();  // a failed load throws and is retried at the next call
  return api;
}

#endif

}  // namespace gan::kernels::cuda
