// cuBLAS through a table of its functions, loaded on first use, rather than linked.
//
// Why: libcublas.so pulls in libcublasLt.so (540 MB for CUDA 13); the dynamic loader maps and relocates both at
// the start of every process linked with them, about 0.8 CPU-seconds and, with a cold page cache, seconds of wall
// time. `gan --help`, every CPU-only run and every test process paid it (in CI's 1,500 test processes, most of the
// test stage), although only a float or double GEMM on a CUDA device uses cuBLAS. Now the first such GEMM loads it
// (dlopen), and a machine without cuBLAS fails there, with a message, instead of at start.
//
// In the emulator build (GAN_CUDA=EMU) the table holds the emulated functions (kernels/cuda/emu/cublas.cpp).
#pragma once

#include <cublas_v2.h>

namespace gan::kernels::cuda {

struct CublasApi {
  decltype(&cublasCreate) create;
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemm_64) sgemm_64;
  decltype(&cublasDgemm_64) dgemm_64;
  decltype(&cublasGemmEx_64) gemm_ex_64;  // float GEMMs in the BF16 math mode (CUBLAS_COMPUTE_32F_FAST_16BF)
  decltype(&cublasGetStatusString) status_string;
};

// The table; loads cuBLAS at the first call (thread-safe). Throws std::runtime_error naming the library, why it
// could not be loaded and what to do (install the toolkit's cuBLAS, or add its directory to LD_LIBRARY_PATH).
const CublasApi& cublas();

}  // namespace gan::kernels::cuda
