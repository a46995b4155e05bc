// The emulated device's memory: see memory.h.
#include "kernels/cuda/emu/memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/emu/emulator.h"
#include "kernels/cuda/emu/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GAN_EMU_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define GAN_EMU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define GAN_EMU_POISON(p, n) ((void)(p), (void)(n))
#define GAN_EMU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace gan::emu::memory {

namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kKeepResidentBytes = size_t{16} << 20;

struct Allocation {
  size_t first_page;  // the guard page; the buffer starts on the next page
  size_t pages;       // guard included
  size_t cuda_bytes;  // what cudaMalloc was asked for
  size_t live_bytes;  // what the current owner may touch (the caching allocator's request)
  int device;
  bool cached = false;
};

// The reserved range. Plain atomics so the signal handler can read them.
std::atomic<uintptr_t> g_base{0};
std::atomic<size_t> g_range_bytes{0};

struct State {
  std::mutex mu;
  std::map<uintptr_t, Allocation> live;  // by buffer address
  std::map<size_t, size_t> free_runs;    // first page -> page count
  size_t top = 0;                        // pages handed out from the bottom of the range so far
  size_t high_water = 0;                 // the highest top ever: what Access opens and closes
  size_t used = 0;                       // bytes of live buffers (cudaMalloc sizes)
  size_t total = 0;

  // Access windows: a recursive mutex serializes launches and copies; depth counts nested windows. Buffers stay
  // inaccessible until something touches them inside a window: the SIGSEGV handler then opens that one buffer
  // and lists it here, and the window's end closes what it opened. (Opening the whole range for every launch
  // costs a page-table walk over all device memory, which made the emulator spend most of its time in mprotect.)
  std::recursive_mutex access_mu;
  std::atomic<int> access_depth{0};
  std::vector<std::pair<size_t, size_t>> opened;  // first page, page count
  bool check_host_access = true;

  std::map<uintptr_t, size_t> pinned;    // page-locked host ranges
};

State& state();

struct sigaction g_previous_segv;

bool open_on_fault(uintptr_t addr);

// Opens a buffer touched inside an access window (see State); otherwise reports the fault: async-signal-safe
// enough for a crash report (snprintf into a stack buffer, write(2)), then hands it on.
void segv_handler(int sig, siginfo_t* info, void* uctx) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const uintptr_t base = g_base.load(std::memory_order_relaxed);
  if (base != 0 && addr >= base && addr < base + g_range_bytes.load(std::memory_order_relaxed) &&
      open_on_fault(addr))
    return;  // the access is retried, now allowed
  char where[512];
  const bool in_kernel = detail::describe_running_thread(where, sizeof where);
  char msg[1024];
  int n = 0;
  if (detail::is_fiber_stack_guard(info->si_addr)) {
    n = std::snprintf(msg, sizeof msg,
                      "gan emulator: stack overflow of a CUDA thread (%s): its fiber stack is too small; set "
                      "GAN_EMU_STACK_KIB higher\n",
                      in_kernel ? where : "no kernel running");
  } else if (base != 0 && addr >= base && addr < base + g_range_bytes.load(std::memory_order_relaxed)) {
    if (in_kernel)
      n = std::snprintf(msg, sizeof msg,
                        "gan emulator: %s accessed device address %p, which belongs to no allocation "
                        "(out of bounds)\n",
                        where, info->si_addr);
    else
      n = std::snprintf(msg, sizeof msg,
                        "gan emulator: host code dereferenced device memory at %p. Device pointers are valid only in "
                        "kernels and CUDA copies (a GPU faults here too): copy the data to the host first "
                        "(kernels::cuda::memcpy_d2h, Tensor::to(Device::cpu())).\n",
                        info->si_addr);
  } else if (in_kernel) {
    n = std::snprintf(msg, sizeof msg, "gan emulator: segmentation fault at %p in %s\n", info->si_addr, where);
  }
  if (n > 0) {
    ssize_t ignored = write(STDERR_FILENO, msg, static_cast<size_t>(std::min<int>(n, sizeof msg - 1)));
    (void)ignored;
  }
  // Hand the fault on (AddressSanitizer's handler, or the default action).
  if (g_previous_segv.sa_flags & SA_SIGINFO) {
    if (g_previous_segv.sa_sigaction != nullptr) return g_previous_segv.sa_sigaction(sig, info, uctx);
  } else if (g_previous_segv.sa_handler != SIG_DFL && g_previous_segv.sa_handler != SIG_IGN &&
             g_previous_segv.sa_handler != nullptr) {
    return g_previous_segv.sa_handler(sig);
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

void install_segv_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous_segv);
}

size_t host_ram_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  return pages > 0 ? static_cast<size_t>(pages) * kPage : size_t{16} << 30;
}

State& state() {
  static State* s = [] {
    auto* st = new State();  // never destroyed: buffers may be freed during static teardown
    st->total = host_ram_bytes();
    const char* check = std::getenv("GAN_EMU_HOST_ACCESS_CHECK");
    st->check_host_access = !(check != nullptr && std::string(check) == "0");
    // Room for the whole RAM plus a guard page per buffer, reserved but not committed.
    size_t range = std::max<size_t>(st->total * 4, size_t{64} << 30);
    void* p = mmap(nullptr, range, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      range = st->total + (size_t{1} << 30);
      p = mmap(nullptr, range, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "gan emulator: cannot reserve %zu bytes of address space for device memory\n", range);
      std::abort();
    }
    g_range_bytes.store(range);
    g_base.store(reinterpret_cast<uintptr_t>(p));
    install_segv_handler();
    return st;
  }();
  return *s;
}

char* page_ptr(size_t page) { return reinterpret_cast<char*>(g_base.load()) + page * kPage; }

// Makes pages [first, first + count) accessible or not (always accessible under GAN_EMU_HOST_ACCESS_CHECK=0).
void protect(State& s, size_t first, size_t count, bool accessible) {
  if (count == 0) return;
  const int prot = accessible || !s.check_host_access ? PROT_READ | PROT_WRITE : PROT_NONE;
  if (mprotect(page_ptr(first), count * kPage, prot) != 0) {
    std::perror("gan emulator: mprotect of device memory");
    std::abort();
  }
}

// A run of `pages` pages: first fit among freed runs, else from the top. SIZE_MAX when the range is full.
size_t take_pages(State& s, size_t pages) {
  for (auto it = s.free_runs.begin(); it != s.free_runs.end(); ++it) {
    if (it->second < pages) continue;
    const size_t first = it->first, count = it->second;
    s.free_runs.erase(it);
    if (count > pages) s.free_runs.emplace(first + pages, count - pages);
    return first;
  }
  if ((s.top + pages) * kPage > g_range_bytes.load()) return SIZE_MAX;
  const size_t first = s.top;
  s.top += pages;
  if (s.top > s.high_water) {
    if (!s.check_host_access) protect(s, s.high_water, s.top - s.high_water, true);  // reserved as PROT_NONE
    s.high_water = s.top;
  }
  return first;
}

void give_pages(State& s, size_t first, size_t pages) {
  auto next = s.free_runs.lower_bound(first);
  if (next != s.free_runs.end() && next->first == first + pages) {  // merge with the run after
    pages += next->second;
    next = s.free_runs.erase(next);
  }
  if (next != s.free_runs.begin()) {  // and the run before
    auto prev = std::prev(next);
    if (prev->first + prev->second == first) {
      first = prev->first;
      pages += prev->second;
      s.free_runs.erase(prev);
    }
  }
  if (first + pages == s.top) {
    s.top = first;  // the top run goes back to the untouched part of the range
  } else {
    s.free_runs.emplace(first, pages);
  }
}

// The allocation containing ptr (or ptr one past its end); caller holds s.mu.
const Allocation* lookup(State& s, uintptr_t p, uintptr_t& begin) {
  auto it = s.live.upper_bound(p);
  if (it == s.live.begin()) return nullptr;
  --it;
  if (p > it->first + it->second.cuda_bytes) return nullptr;
  begin = it->first;
  return &it->second;
}

}  // namespace

void* allocate(int device, size_t bytes) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (bytes > s.total || s.used + bytes > s.total) return nullptr;
  const size_t pages = 1 + (bytes + kPage - 1) / kPage;
  const size_t first = take_pages(s, pages);
  if (first == SIZE_MAX) return nullptr;
  char* buffer = page_ptr(first + 1);
  s.live[reinterpret_cast<uintptr_t>(buffer)] = Allocation{first, pages, bytes, bytes, device};
  s.used += bytes;
  // Poison with 0xFF (NaN) so that a read of an element nothing wrote is visible.
  protect(s, first + 1, pages - 1, true);
  GAN_EMU_UNPOISON(buffer, bytes);
  std::memset(buffer, 0xFF, bytes);
  protect(s, first + 1, pages - 1, false);
  GAN_EMU_POISON(page_ptr(first), kPage);  // the guard page before the buffer
  GAN_EMU_POISON(buffer + bytes, (pages - 1) * kPage - bytes);
  return buffer;
}

bool release(const void* ptr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const auto it = s.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.live.end()) return false;
  const Allocation a = it->second;
  s.live.erase(it);
  s.used -= a.cuda_bytes;
  GAN_EMU_POISON(page_ptr(a.first_page), a.pages * kPage);  // a kernel using it after the free is reported
  // Large buffers go back to the OS; small ones keep their pages, which spares the next buffer carved from them a
  // page fault per page (expensive in a virtual machine), the most frequent cost of small tests.
  if (a.pages * kPage >= kKeepResidentBytes) madvise(page_ptr(a.first_page), a.pages * kPage, MADV_DONTNEED);
  if (s.access_depth.load() > 0) protect(s, a.first_page, a.pages, false);  // may have been opened
  give_pages(s, a.first_page, a.pages);
  return true;
}

size_t total_bytes() { return state().total; }

size_t used_bytes() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.used;
}

bool in_device_range(const void* ptr) {
  (void)state();
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr), base = g_base.load();
  return p >= base && p < base + g_range_bytes.load();
}

bool find(const void* ptr, Span& span) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  uintptr_t begin = 0;
  const Allocation* a = lookup(s, reinterpret_cast<uintptr_t>(ptr), begin);
  if (a == nullptr) return false;
  span = Span{begin, a->live_bytes, a->device, a->cached};
  return true;
}

int device_of(const void* ptr) {
  Span span;
  return find(ptr, span) ? span.device : -1;
}

void check_device_range(const std::string& what, const void* ptr, size_t bytes) {
  Span span;
  const auto hex = [](uintptr_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#zx", static_cast<size_t>(v));
    return std::string(buf);
  };
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  if (!find(ptr, span))
    throw std::runtime_error("gan emulator: " + what + ": " + hex(p) +
                             (in_device_range(ptr) ? " is not in an allocated device buffer (freed?)"
                                                   : " is not device memory"));
  if (span.cached)
    throw std::runtime_error("gan emulator: " + what + ": " + hex(p) + " points into a block the caching allocator " +
                             "holds as free (used after device_free)");
  if (p + bytes > span.begin + span.bytes) {
    const std::string past = std::to_string(p + bytes - span.begin - span.bytes) + " bytes past the end of a device " +
                             "buffer of " + std::to_string(span.bytes) + " bytes";
    throw std::runtime_error("gan emulator: " + what + ": " +
                             (bytes == 0 ? "points " + past
                                         : std::to_string(bytes) + " bytes at offset " +
                                               std::to_string(p - span.begin) + " run " + past));
  }
}

Access::Access() {
  State& s = state();
  s.access_mu.lock();
  s.access_depth.fetch_add(1);
}

Access::~Access() {
  State& s = state();
  if (s.access_depth.fetch_sub(1) == 1 && s.check_host_access) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& [first, pages] : s.opened) protect(s, first, pages, false);
    s.opened.clear();
  }
  s.access_mu.unlock();
}

namespace {

// From the SIGSEGV handler: inside an access window, opens the buffer whose pages hold addr (the guard page
// excluded) and returns true; false when no window is open or addr is in no buffer. The lock is safe here: no
// code touches device memory while holding it.
bool open_on_fault(uintptr_t addr) {
  State& s = state();
  if (!s.check_host_access || s.access_depth.load() == 0) return false;
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.live.upper_bound(addr);
  if (it == s.live.begin()) return false;
  --it;
  const Allocation& a = it->second;
  const uintptr_t data = it->first, end = reinterpret_cast<uintptr_t>(page_ptr(a.first_page + a.pages));
  if (addr < data || addr >= end) return false;  // the guard page, or beyond the buffer's last page
  protect(s, a.first_page + 1, a.pages - 1, true);
  s.opened.emplace_back(a.first_page + 1, a.pages - 1);
  return true;
}

}  // namespace

void* pinned_allocate(size_t bytes) {
  void* p = std::aligned_alloc(kPage, (bytes + kPage - 1) / kPage * kPage);
  if (p == nullptr) return nullptr;
  pinned_register(p, bytes);
  return p;
}

bool pinned_free(void* ptr) {
  if (!pinned_unregister(ptr)) return false;
  std::free(ptr);
  return true;
}

void pinned_register(void* ptr, size_t bytes) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.pinned[reinterpret_cast<uintptr_t>(ptr)] = bytes;
}

bool pinned_unregister(void* ptr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.pinned.erase(reinterpret_cast<uintptr_t>(ptr)) == 1;
}

bool is_pinned(const void* ptr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  auto it = s.pinned.upper_bound(p);
  if (it == s.pinned.begin()) return false;
  --it;
  return p < it->first + it->second;
}

}  // namespace gan::emu::memory

namespace gan::emu {

void block_handed_out(const void* ptr, size_t bytes) {
  memory::State& s = memory::state();
  std::lock_guard<std::mutex> lock(s.mu);
  const auto it = s.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.live.end()) return;
  memory::Allocation& a = it->second;
  a.live_bytes = std::min(bytes, a.cuda_bytes);
  a.cached = false;
  GAN_EMU_UNPOISON(ptr, a.live_bytes);
  GAN_EMU_POISON(static_cast<const char*>(ptr) + a.live_bytes, (a.pages - 1) * memory::kPage - a.live_bytes);
}

void block_returned(const void* ptr) {
  memory::State& s = memory::state();
  std::lock_guard<std::mutex> lock(s.mu);
  const auto it = s.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.live.end()) return;
  it->second.cached = true;
  GAN_EMU_POISON(ptr, (it->second.pages - 1) * memory::kPage);
}

}  // namespace gan::emu
