// The emulated device's memory (internal to the emulator).
//
// Every device allocation is its own run of pages in one reserved address range: a guard page, then the buffer,
// then the rest of its last page. New buffers are filled with 0xFF bytes (NaN in float and double), so a kernel
// that reads an element nothing wrote produces NaN. Under AddressSanitizer the guard page and the bytes past the
// buffer are poisoned, so an out-of-bounds access by a kernel or a copy is a hard error with its stack.
//
// Device memory is inaccessible (PROT_NONE) except while an Access object lives: the emulator holds one for a
// launch, a copy, a memset or a cuBLAS call, and the SIGSEGV handler installed here opens each buffer the first
// time that work touches it (the window's end closes them again). So host code that dereferences a device
// pointer faults, and the handler says so; a kernel that reads the guard page before a buffer, or past its last
// page, faults and is named too (GAN_EMU_HOST_ACCESS_CHECK=0 leaves all device memory accessible).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gan::emu::memory {

// A device buffer of `bytes` on `device`, or nullptr when the emulated device is full.
void* allocate(int device, size_t bytes);

// Frees a buffer from allocate(); false when `ptr` is not the start of one.
bool release(const void* ptr);

// Bytes of the emulated device (the host's RAM) and bytes allocated.
size_t total_bytes();
size_t used_bytes();

// Whether ptr lies in the device range at all (allocated or not).
bool in_device_range(const void* ptr);

struct Span {
  uintptr_t begin = 0;  // the allocation's first byte
  size_t bytes = 0;     // bytes handed out (the caching allocator's request, else the cudaMalloc size)
  int device = -1;
  bool cached = false;  // held as free by the caching allocator
};

// The allocation whose buffer contains ptr, or ptr is one past its end. False when none.
bool find(const void* ptr, Span& span);

// The device owning `ptr` when it is device memory, else -1.
int device_of(const void* ptr);

// Throws std::runtime_error, naming `what`, unless [ptr, ptr + bytes) lies in one live (not cached) allocation.
void check_device_range(const std::string& what, const void* ptr, size_t bytes);

// Device memory is readable and writable while one of these exists (in any thread).
class Access {
 public:
  Access();
  ~Access();
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;
};

// Page-locked host memory (cudaHostAlloc) and registered host ranges (cudaHostRegister).
void* pinned_allocate(size_t bytes);
bool pinned_free(void* ptr);
void pinned_register(void* ptr, size_t bytes);
bool pinned_unregister(void* ptr);
bool is_pinned(const void* ptr);

}  // namespace gan::emu::memory
