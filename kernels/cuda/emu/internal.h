// Declarations shared by the emulator's source files (not part of its interface).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "kernels/cuda/emu/runtime_api.h"

namespace gan::emu::detail {

// runtime.cpp: the calling host thread's device, and the check every launch, copy and memset makes of its stream
// (throws std::runtime_error naming `call`: a stream of another device, a destroyed stream, or the legacy default
// stream while the device has non-blocking streams, which do not wait for it).
int current_device_index();
void check_work_stream(const char* call, cudaStream_t stream);

// runtime.cpp: queues work on `stream` (after check_work_stream): runs work(stream) now, or records it as a node of
// the CUDA graph the stream is capturing (runtime_api.h says what a capture refuses; a refusal returns its error,
// having set the last error). `what` names the work in errors. work runs again at each replay, with the replay's
// stream, so it must check what it touches when it runs, not when it was recorded.
cudaError_t submit(const char* what, cudaStream_t stream, std::function<void(cudaStream_t)> work);

// scheduler.cpp, for the SIGSEGV handler: "kernel K, block (..), thread (..)" when the faulting OS thread is running
// a CUDA thread, and whether `addr` is the guard page of a fiber stack. Both write a NUL-terminated text to buf and
// allocate nothing.
bool describe_running_thread(char* buf, size_t size);
bool is_fiber_stack_guard(const void* addr);

// "file:line (function)" with the file's path shortened to the repository's.
std::string site(const char* file, unsigned line, const char* function);

}  // namespace gan::emu::detail
