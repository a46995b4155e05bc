// What the SIMT emulator (GAN_CUDA=EMU) offers beyond the CUDA runtime API it emulates: hooks for the caching
// allocator and settings. Plain C++; only the EMU build has it.
#pragma once

#include <cstddef>

namespace gan::emu {

// The caching allocator (kernels/cuda/allocator.cpp) hands [ptr, ptr + bytes) of a cudaMalloc'd block to a caller,
// or takes the block back into its cache. The emulator then treats only those bytes as live: AddressSanitizer
// reports an access past `bytes` (the rest of the size class) or to a cached block, and a kernel argument or copy
// that points into a cached block is an error.
void block_handed_out(const void* ptr, size_t bytes);
void block_returned(const void* ptr);

// OS threads that run blocks (GAN_EMU_THREADS, default: the machine's hardware threads).
int worker_threads();

}  // namespace gan::emu
