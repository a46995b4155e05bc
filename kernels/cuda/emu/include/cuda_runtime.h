// The SIMT emulator's stand-in for CUDA's cuda_runtime.h (GAN_CUDA=EMU puts this folder first on the include
// path): the runtime API and the device-side language, so the kernels/cuda sources build with the host compiler.
#pragma once

#include "kernels/cuda/emu/device_api.h"
#include "kernels/cuda/emu/runtime_api.h"
