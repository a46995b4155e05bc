// Which CPU kernels OpenBLAS runs, and a fix for CPUs it does not know.
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from CPUID when it loads. A CPU newer than the
// library (for example Intel family 6 model 207, Emerald Rapids) is unknown to it and gets the generic "Prescott"
// SSE3 kernels: on such a 2-core machine a DCGAN-32 training step took 1094 ms with them and 376 ms with the
// AVX-512 ("SkylakeX") ones. OPENBLAS_CORETYPE overrides the choice, but only before the library loads, which
// happens before main(); so every program linking gan-engine re-runs itself once with it set, before main()
// (kernels/thread_policy.h, which does the same for OpenMP's wait policy).
#pragma once

#include <string>

namespace gan::kernels {

// OpenBLAS's name for the kernels it loaded ("SkylakeX", "Haswell", "Prescott", ...).
std::string blas_core_name();

// The core OpenBLAS should have chosen for this CPU when it fell back to a generic one ("SkylakeX" with AVX-512,
// "Haswell" with AVX2 + FMA), or "" when its choice stands: it recognized the CPU, the CPU has neither feature
// set, or OPENBLAS_CORETYPE is already set (by the user, or for the re-run). Defined in the startup object
// (kernels/startup/), which is what calls it.
std::string blas_core_override();

}  // namespace gan::kernels
