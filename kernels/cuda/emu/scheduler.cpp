// Runs kernels on the CPU: blocks spread over a pool of OS threads, each CUDA thread of a block a fiber
// (Boost.Context's fcontext: a switch is a few register saves, no system call).
//
// A block runs in passes: each runnable fiber runs until it reaches __syncthreads(), a warp-collective operation
// or its end. A warp collective completes as soon as the last lane its mask names arrives; a barrier completes
// when no fiber can run and every thread of the block waits at it. Passes alternate between ascending and
// descending thread order from one barrier to the next, so code that needs a barrier it lacks sees a neighbour's
// write too early in one phase or too late in the other.
//
// Checks (each stops the kernel; the launch then throws std::runtime_error naming the kernel, the block, a thread
// and the source line): a barrier reached from different source lines by threads of one block; a barrier some
// threads can never reach (they exited, or wait in a warp operation); a warp operation whose mask leaves out the
// calling lane, names lanes that do not exist or have exited, or that lanes of one mask meet with different
// operations; a shuffle reading a lane outside its mask; launch configurations a GPU refuses (block > 1024
// threads, grid y/z > 65535, dynamic shared memory > 48 KiB without cudaFuncAttributeMaxDynamicSharedMemorySize);
// pointer arguments that are host memory or freed device memory.
//
// AddressSanitizer: every switch between stacks is announced with __sanitizer_start/finish_switch_fiber, without
// which ASan would take the fibers' stacks for a corrupted stack and report false errors.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cuda/emu/device_api.h"
#include "kernels/cuda/emu/emulator.h"
#include "kernels/cuda/emu/internal.h"
#include "kernels/cuda/emu/launch.h"
#include "kernels/cuda/emu/memory.h"
#include "kernels/cuda/emu/tensor_core.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define GAN_EMU_ASAN 1
#else
#define GAN_EMU_ASAN 0
#endif

__thread uint3 threadIdx GAN_EMU_TLS = {0, 0, 0};
__thread uint3 blockIdx GAN_EMU_TLS = {0, 0, 0};
__thread dim3 blockDim GAN_EMU_TLS = {1, 1, 1};
__thread dim3 gridDim GAN_EMU_TLS = {1, 1, 1};

namespace gan::emu {

namespace detail {

namespace ctx = boost::context::detail;

namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kOptinSharedLimit = 227 * 1024;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

size_t fiber_stack_bytes() {
  static const size_t bytes = [] {
    size_t kib = GAN_EMU_ASAN ? 512 : 128;  // ASan's redzones make frames several times larger
    if (const char* v = std::getenv("GAN_EMU_STACK_KIB"); v != nullptr && std::atoi(v) > 0)
      kib = static_cast<size_t>(std::atoi(v));
    return (kib * 1024 + kPage - 1) / kPage * kPage;
  }();
  return bytes;
}

// ---- fiber stacks: one mapping per OS thread, kMaxThreadsPerBlock stacks each below a guard page ----

struct StackRange {
  uintptr_t begin, end, stride;
};
std::mutex g_stack_ranges_mu;
StackRange g_stack_ranges[256];  // read by the SIGSEGV handler without the lock
std::atomic<int> g_stack_range_count{0};

class StackPool {
 public:
  StackPool() : size_(fiber_stack_bytes()), stride_(size_ + kPage) {
    const size_t bytes = stride_ * kMaxThreadsPerBlock;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("gan emulator: cannot map fiber stacks");
    base_ = static_cast<char*>(p);
    for (unsigned i = 0; i < kMaxThreadsPerBlock; ++i) mprotect(base_ + i * stride_, kPage, PROT_NONE);
    std::lock_guard<std::mutex> lock(g_stack_ranges_mu);
    const int n = g_stack_range_count.load();
    if (n < 256) {
      g_stack_ranges[n] = {reinterpret_cast<uintptr_t>(base_), reinterpret_cast<uintptr_t>(base_) + bytes, stride_};
      g_stack_range_count.store(n + 1);
    }
  }
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  // Kept for the life of the process (a worker thread's pool is never unmapped: the SIGSEGV handler reads it).

  char* bottom(unsigned i) const { return base_ + i * stride_ + kPage; }  // lowest usable address
  char* top(unsigned i) const { return bottom(i) + size_; }
  size_t size() const { return size_; }

 private:
  size_t size_, stride_;
  char* base_ = nullptr;
};

// ---- blocks ----

enum class FiberState : uint8_t { Runnable, AtBarrier, InCollective, Finished, Stopped };

struct Fiber {
  ctx::fcontext_t context = nullptr;
  FiberState state = FiberState::Runnable;
  uint3 tid{};
  unsigned linear = 0;
  std::source_location where;  // where it waits
  BarrierKind barrier_kind = BarrierKind::Plain;
  int predicate = 0;
  void* fake_stack = nullptr;  // ASan's fake stack of the fiber while it is switched out
  AsyncCopies async;           // its cp.async copies not yet landed (tensor_core.cpp)
};

struct Pending {
  Collective op;
  unsigned arrived = 0;
};

struct Warp {
  std::vector<Pending> pending;  // in-flight collectives (disjoint masks)
  const void* in[32] = {};
  void* out[32] = {};
};

struct Worker {
  StackPool stacks;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  std::vector<unsigned char> dynamic_shared;  // 16-byte aligned by the allocator
  const GridLaunch* launch = nullptr;
  uint3 block{};
  unsigned threads = 0;
  Fiber* current = nullptr;
  ctx::fcontext_t scheduler = nullptr;
  int barrier_result = 0;
  bool failed = false;
  std::string error;
  // ASan: the scheduler's own stack, learned at the first switch into a fiber.
  const void* scheduler_bottom = nullptr;
  size_t scheduler_size = 0;
  void* scheduler_fake_stack = nullptr;
};

thread_local Worker* t_worker = nullptr;

Worker& this_worker() {
  thread_local std::unique_ptr<Worker> worker;
  if (!worker) {
    worker = std::make_unique<Worker>();
    t_worker = worker.get();
  }
  return *worker;
}

void asan_start_switch(void** fake_stack_save, const void* bottom, size_t size) {
#if GAN_EMU_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

void asan_finish_switch(void* fake_stack_save, const void** bottom_old, size_t* size_old) {
#if GAN_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

std::string coords(uint3 v) {
  char buf[48];  // snprintf rather than "(" + std::to_string(...): GCC 12 warns falsely (-Wrestrict) on that
  std::snprintf(buf, sizeof buf, "(%u, %u, %u)", v.x, v.y, v.z);
  return buf;
}

std::string where_text(const std::source_location& w) { return site(w.file_name(), w.line(), w.function_name()); }

// "kernel K, block (..), thread (..)".
std::string thread_text(const Worker& w, const Fiber& f) {
  return "kernel " + std::string(w.launch->kernel_name) + ", block " + coords(w.block) + ", thread " + coords(f.tid);
}

// Linear thread ids as ranges: "0-127, 130".
std::string ranges(const std::vector<unsigned>& ids) {
  std::string s;
  size_t shown = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!s.empty()) s += ", ";
    if (++shown > 6) {
      s += "...";
      break;
    }
    s += std::to_string(ids[i]);
    if (j > i) s += '-' + std::to_string(ids[j]);
    i = j + 1;
  }
  return s;
}

// Records the block's first error.
void fail(Worker& w, const std::string& message) {
  if (w.failed) return;
  w.failed = true;
  w.error = message;
}

// Switches from the running fiber back to the scheduler; returns when the scheduler resumes the fiber.
void park(Worker& w, Fiber& f) {
  asan_start_switch(&f.fake_stack, w.scheduler_bottom, w.scheduler_size);
  const ctx::transfer_t t = ctx::jump_fcontext(w.scheduler, nullptr);
  w.scheduler = t.fctx;
  asan_finish_switch(f.fake_stack, nullptr, nullptr);
}

// Thrown by stop(): unwinds the stopped fiber's frames up to fiber_main, so that what they own (the error message
// being built, a kernel's own containers) is freed before the fiber is parked for good; LeakSanitizer reported
// those bytes as leaked when the fiber was parked in the middle of its frames. Not a std::exception, so that no
// handler in between takes it for an exception of the kernel's own.
struct FiberStopped {};

// Ends the running fiber after an error: it unwinds to fiber_main and is never resumed.
[[noreturn]] void stop(Worker& w, Fiber&, const std::string& message) {
  fail(w, message);
  throw FiberStopped{};
}

Worker& worker_in_kernel(const char* what) {
  Worker* w = t_worker;
  if (w == nullptr || w->current == nullptr)
    throw std::logic_error(std::string("gan emulator: ") + what + " called outside a kernel");
  return *w;
}

void fiber_main(ctx::transfer_t t) {
  Worker& w = *static_cast<Worker*>(t.data);
  w.scheduler = t.fctx;
  asan_finish_switch(nullptr, &w.scheduler_bottom, &w.scheduler_size);
  Fiber& f = *w.current;
  bool stopped = false;
  {
    std::string thrown;  // parked only after the handler and this scope: nothing on the stack may own memory then
    try {
      w.launch->run(w.launch->params);
    } catch (const FiberStopped&) {
      stopped = true;
    } catch (const std::exception& e) {
      thrown = e.what();
    } catch (...) {
      thrown = "an exception that is not a std::exception";
    }
    if (!thrown.empty()) {
      fail(w, thread_text(w, f) + ": the kernel threw: " + thrown);
      stopped = true;
    }
  }
  if (stopped) {
    f.state = FiberState::Stopped;
    park(w, f);
    std::abort();  // unreachable: a stopped fiber is never resumed
  }
  f.state = FiberState::Finished;
  // A lane that exits while lanes of its warp wait for it in a collective would leave them waiting forever.
  const unsigned lane = f.linear % 32;
  for (const Pending& p : w.warps[f.linear / 32].pending)
    if ((p.op.mask >> lane & 1u) && !(p.arrived >> lane & 1u))
      fail(w, thread_text(w, f) + " exited while lanes of its warp wait for it in " + p.op.name + " (mask " +
                  [&] {
                    char b[16];
                    std::snprintf(b, sizeof b, "%#010x", p.op.mask);
                    return std::string(b);
                  }() +
                  ") at " + where_text(p.op.where));
  asan_start_switch(nullptr, w.scheduler_bottom, w.scheduler_size);  // this fiber's stack is done
  ctx::jump_fcontext(w.scheduler, nullptr);
}

void resume(Worker& w, Fiber& f) {
  w.current = &f;
  threadIdx = f.tid;
  const unsigned i = f.linear;
  asan_start_switch(&w.scheduler_fake_stack, w.stacks.bottom(i), w.stacks.size());
  const ctx::transfer_t t = ctx::jump_fcontext(f.context, &w);
  asan_finish_switch(w.scheduler_fake_stack, nullptr, nullptr);
  f.context = t.fctx;
  w.current = nullptr;
}

std::string mask_text(unsigned mask) {
  char b[16];
  std::snprintf(b, sizeof b, "%#010x", mask);
  return b;
}

// Nothing can run and some fibers have not finished: release a barrier every thread waits at, or report why the
// block cannot go on. False after an error.
bool release_or_report(Worker& w) {
  std::vector<unsigned> finished, at_barrier, in_collective;
  for (const Fiber& f : w.fibers) {
    if (f.state == FiberState::Finished) finished.push_back(f.linear);
    if (f.state == FiberState::AtBarrier) at_barrier.push_back(f.linear);
    if (f.state == FiberState::InCollective) in_collective.push_back(f.linear);
  }
  if (!in_collective.empty()) {
    // A collective some named lane will never join.
    const Fiber& f = w.fibers[in_collective.front()];
    const Warp& warp = w.warps[f.linear / 32];
    const Pending& p = warp.pending.front();
    // The named lanes that did not arrive, grouped by where they are.
    std::vector<std::pair<std::string, std::vector<unsigned>>> absent;
    for (unsigned lane = 0; lane < 32; ++lane) {
      if (!(p.op.mask >> lane & 1u) || (p.arrived >> lane & 1u)) continue;
      const Fiber& other = w.fibers[(f.linear / 32) * 32 + lane];
      const std::string state = other.state == FiberState::Finished    ? "exited"
                                : other.state == FiberState::AtBarrier ? "wait at __syncthreads() at " +
                                                                             where_text(other.where)
                                                                       : "wait in another warp operation at " +
                                                                             where_text(other.where);
      auto it = std::find_if(absent.begin(), absent.end(), [&](const auto& a) { return a.first == state; });
      if (it == absent.end()) it = absent.insert(absent.end(), {state, {}});
      it->second.push_back(lane);
    }
    std::string missing;
    for (const auto& [state, lanes] : absent) missing += "; lanes " + ranges(lanes) + " " + state;
    fail(w, thread_text(w, f) + ": deadlock in " + p.op.name + " (mask " + mask_text(p.op.mask) + ") at " +
                where_text(f.where) + missing);
    return false;
  }
  if (at_barrier.empty()) {
    fail(w, "kernel " + std::string(w.launch->kernel_name) + ", block " + coords(w.block) + ": no thread can run");
    return false;
  }
  const Fiber& first = w.fibers[at_barrier.front()];
  if (!finished.empty()) {
    fail(w, thread_text(w, first) + ": deadlock at __syncthreads() at " + where_text(first.where) + ": threads " +
                ranges(finished) + " of the block exited without reaching it");
    return false;
  }
  for (unsigned id : at_barrier) {
    const Fiber& f = w.fibers[id];
    if (f.where.line() != first.where.line() || f.where.column() != first.where.column() ||
        std::strcmp(f.where.file_name(), first.where.file_name()) != 0 || f.barrier_kind != first.barrier_kind) {
      std::vector<unsigned> here, there;
      for (unsigned j : at_barrier) {
        const Fiber& g = w.fibers[j];
        (g.where.line() == first.where.line() && std::strcmp(g.where.file_name(), first.where.file_name()) == 0 &&
                 g.where.column() == first.where.column()
             ? here
             : there)
            .push_back(j);
      }
      fail(w, thread_text(w, f) + ": divergent barrier: threads " + ranges(here) + " wait at __syncthreads() at " +
                  where_text(first.where) + ", threads " + ranges(there) + " at " + where_text(f.where));
      return false;
    }
  }
  int result = first.barrier_kind == BarrierKind::And ? 1 : 0;
  for (const Fiber& f : w.fibers) {
    switch (f.barrier_kind) {
      case BarrierKind::Count: result += f.predicate != 0; break;
      case BarrierKind::And: result = result && f.predicate != 0; break;
      case BarrierKind::Or: result = result || f.predicate != 0; break;
      case BarrierKind::Plain: break;
    }
  }
  w.barrier_result = result;
  for (Fiber& f : w.fibers) f.state = FiberState::Runnable;
  return true;
}

void unpoison_stacks(Worker& w) {
#if GAN_EMU_ASAN
  // Fibers abandoned mid-kernel leave their frames' redzones poisoned on stacks the next block reuses.
  for (const Fiber& f : w.fibers)
    if (f.state != FiberState::Finished) ASAN_UNPOISON_MEMORY_REGION(w.stacks.bottom(f.linear), w.stacks.size());
#else
  (void)w;
#endif
}

// fiber_main never returns (it jumps back to the scheduler), so its epilogue never clears its frame's shadow: the
// redzones and the use-after-scope poison of its block-scoped locals stay on the stack the next fiber of that index
// starts on, and that fiber's first write to a local is reported as stack-use-after-scope. Clear the top of the
// stack (where fiber_main's frame lies; deeper frames returned and cleared their own shadow) before each start.
void unpoison_fiber_main_frame(Worker& w, unsigned i) {
#if GAN_EMU_ASAN
  constexpr size_t kFiberMainFrame = 8 * 1024;  // fiber_main's frame with ASan's redzones is about 1.3 KiB
  ASAN_UNPOISON_MEMORY_REGION(w.stacks.top(i) - kFiberMainFrame, kFiberMainFrame);
#else
  (void)w;
  (void)i;
#endif
}

// Runs block `index` of the grid; false (with w.error) when a check failed.
bool run_block(Worker& w, const GridLaunch& L, uint64_t index) {
  const uint64_t gx = L.grid.x, gy = L.grid.y;
  w.block = {static_cast<unsigned>(index % gx), static_cast<unsigned>(index / gx % gy),
             static_cast<unsigned>(index / (gx * gy))};
  blockIdx = w.block;
  blockDim = L.block;
  gridDim = L.grid;
  w.launch = &L;
  w.failed = false;
  w.error.clear();
  const unsigned bx = L.block.x, by = L.block.y;
  const unsigned n = bx * by * L.block.z;
  w.threads = n;
  w.fibers.assign(n, Fiber{});
  w.warps.assign((n + 31) / 32, Warp{});
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = w.fibers[i];
    f.linear = i;
    f.tid = {i % bx, i / bx % by, i / (bx * by)};
    unpoison_fiber_main_frame(w, i);
    f.context = ctx::make_fcontext(w.stacks.top(i), w.stacks.size(), fiber_main);
  }
  if (L.shared_bytes > 0) {
    w.dynamic_shared.resize(L.shared_bytes);
    std::memset(w.dynamic_shared.data(), 0xFF, L.shared_bytes);  // uninitialized shared memory reads as NaN
  }
  bool ascending = true;
  for (;;) {
    bool ran = false;
    for (unsigned k = 0; k < n; ++k) {
      Fiber& f = w.fibers[ascending ? k : n - 1 - k];
      if (f.state != FiberState::Runnable) continue;
      resume(w, f);
      ran = true;
      if (w.failed) {
        unpoison_stacks(w);
        return false;
      }
    }
    if (ran) continue;
    bool all_done = true;
    for (const Fiber& f : w.fibers) all_done = all_done && f.state == FiberState::Finished;
    if (all_done) return true;
    if (!release_or_report(w)) {
      unpoison_stacks(w);
      return false;
    }
    ascending = !ascending;
  }
}

// ---- the grid: blocks shared out to a pool of OS threads (the launching thread is one of them) ----

struct Job {
  const GridLaunch* launch;
  uint64_t blocks;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::string error;
};

void work(Job& job) {
  Worker& w = this_worker();
  for (;;) {
    if (job.failed.load(std::memory_order_relaxed)) break;
    const uint64_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.blocks) break;
    if (!run_block(w, *job.launch, i)) {
      std::lock_guard<std::mutex> lock(job.error_mu);
      if (!job.failed.exchange(true)) job.error = w.error;
    }
  }
  w.launch = nullptr;
}

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }

  void run(Job& job) {
    const size_t helpers = std::min<uint64_t>(threads_.size(), job.blocks > 0 ? job.blocks - 1 : 0);
    if (helpers > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      wanted_ = helpers;
      ++generation_;
      busy_ = helpers;
    }
    if (helpers > 0) cv_.notify_all();
    work(job);
    if (helpers > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return busy_ == 0; });
      job_ = nullptr;
    }
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen && wanted_ > 0; });
        seen = generation_;
        --wanted_;
        job = job_;
      }
      work(*job);
      std::lock_guard<std::mutex> lock(mu_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  size_t wanted_ = 0, busy_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool(worker_threads());  // never destroyed: its threads wait for work until exit
  return *p;
}

struct KernelAttributes {
  std::mutex mu;
  std::map<const void*, int> max_dynamic_shared;
};

KernelAttributes& kernel_attributes() {
  static KernelAttributes* a = new KernelAttributes();
  return *a;
}

// A GPU refuses these launches (cudaErrorInvalidConfiguration and friends); so does the emulator, with the why.
void check_configuration(const GridLaunch& L) {
  const auto bad = [&](const std::string& why) {
    throw std::runtime_error("gan emulator: launch of kernel " + std::string(L.kernel_name) + " with grid " +
                             coords(L.grid) + ", block " + coords(L.block) + ", " + std::to_string(L.shared_bytes) +
                             " bytes of dynamic shared memory: " + why);
  };
  if (L.grid.x == 0 || L.grid.y == 0 || L.grid.z == 0 || L.block.x == 0 || L.block.y == 0 || L.block.z == 0)
    bad("a grid or block dimension is 0 (cudaErrorInvalidConfiguration)");
  const uint64_t threads = uint64_t{L.block.x} * L.block.y * L.block.z;
  if (threads > kMaxThreadsPerBlock)
    bad(std::to_string(threads) + " threads per block, more than 1024 (cudaErrorInvalidConfiguration)");
  if (L.block.x > 1024 || L.block.y > 1024 || L.block.z > 64)
    bad("block dimensions beyond 1024 x 1024 x 64 (cudaErrorInvalidConfiguration)");
  if (L.grid.x > 0x7fffffffu) bad("grid x beyond 2^31 - 1 (cudaErrorInvalidConfiguration)");
  if (L.grid.y > 65535 || L.grid.z > 65535) bad("grid y or z beyond 65535 (cudaErrorInvalidConfiguration)");
  if (L.shared_bytes > kDefaultSharedLimit) {
    int allowed = static_cast<int>(kDefaultSharedLimit);
    {
      KernelAttributes& a = kernel_attributes();
      std::lock_guard<std::mutex> lock(a.mu);
      const auto it = a.max_dynamic_shared.find(L.kernel);
      if (it != a.max_dynamic_shared.end()) allowed = it->second;
    }
    if (L.shared_bytes > static_cast<size_t>(allowed))
      bad(static_cast<size_t>(allowed) == kDefaultSharedLimit
              ? "more than 48 KiB of dynamic shared memory without opting in with cudaFuncSetAttribute(kernel, "
                "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) (cudaErrorInvalidValue)"
              : "more dynamic shared memory than the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize (" +
                    std::to_string(allowed) + " bytes) (cudaErrorInvalidValue)");
  }
}

}  // namespace

int barrier(BarrierKind kind, int predicate, const std::source_location& where) {
  Worker& w = worker_in_kernel("__syncthreads()");
  Fiber& f = *w.current;
  f.state = FiberState::AtBarrier;
  f.where = where;
  f.barrier_kind = kind;
  f.predicate = predicate;
  park(w, f);
  return w.barrier_result;
}

void collective(const Collective& op, const void* in, void* out) {
  Worker& w = worker_in_kernel(op.name);
  Fiber& f = *w.current;
  const unsigned lane = f.linear % 32, warp_index = f.linear / 32;
  Warp& warp = w.warps[warp_index];
  const unsigned lanes_in_warp = std::min(32u, w.threads - warp_index * 32);
  const unsigned present = lanes_in_warp == 32 ? 0xffffffffu : (1u << lanes_in_warp) - 1u;
  // Error texts are built only when needed: this runs for every lane of every shuffle.
  const auto at = [&] { return " at " + where_text(op.where); };
  if (!(op.mask >> lane & 1u))
    stop(w, f, thread_text(w, f) + ": " + op.name + " with mask " + mask_text(op.mask) +
                   ", which leaves out the calling lane " + std::to_string(lane) + at());
  if (op.mask & ~present)
    stop(w, f, thread_text(w, f) + ": " + op.name + " with mask " + mask_text(op.mask) +
                   " names lanes that do not exist (the block has " + std::to_string(w.threads) +
                   " threads: this warp has lanes 0-" + std::to_string(lanes_in_warp - 1) + ")" + at());
  Fiber* const lanes = &w.fibers[warp_index * 32];
  for (unsigned l = 0; l < lanes_in_warp; ++l)
    if ((op.mask >> l & 1u) && lanes[l].state == FiberState::Finished)
      stop(w, f, thread_text(w, f) + ": " + op.name + " with mask " + mask_text(op.mask) + " names lane " +
                     std::to_string(l) + ", which has exited" + at());
  Pending* pending = nullptr;
  for (Pending& p : warp.pending) {
    if (p.op.mask == op.mask) {
      pending = &p;
    } else if (p.op.mask & op.mask) {
      stop(w, f, thread_text(w, f) + ": " + op.name + " with mask " + mask_text(op.mask) + at() +
                     " while lanes of the warp wait in " + p.op.name + " with the overlapping mask " +
                     mask_text(p.op.mask) + " at " + where_text(p.op.where));
    }
  }
  if (pending == nullptr) {
    warp.pending.push_back(Pending{op, 0});
    pending = &warp.pending.back();
  } else if ((pending->op.name != op.name && std::strcmp(pending->op.name, op.name) != 0) ||
             (pending->op.type != op.type && *pending->op.type != *op.type)) {
    stop(w, f, thread_text(w, f) + ": lanes of mask " + mask_text(op.mask) + " meet in different warp operations: " +
                   op.name + at() + " and " + pending->op.name + " at " + where_text(pending->op.where));
  }
  warp.in[lane] = in;
  warp.out[lane] = out;
  pending->arrived |= 1u << lane;
  if (pending->arrived != op.mask) {  // wait for the others
    f.state = FiberState::InCollective;
    f.where = op.where;
    park(w, f);
    return;  // the last lane has written our output
  }
  // The last lane: compute every lane's result, release the others.
  const Collective done = pending->op;
  warp.pending.erase(warp.pending.begin() + (pending - warp.pending.data()));
  op.combine(op.ctx, warp.in, warp.out, done.mask);
  for (unsigned l = 0; l < lanes_in_warp; ++l)
    if ((done.mask >> l & 1u) && l != lane) lanes[l].state = FiberState::Runnable;
}

unsigned lane_id() { return worker_in_kernel("lane_id").current->linear % 32; }

AsyncCopies& async_copies(const char* what) { return worker_in_kernel(what).current->async; }

unsigned active_lanes() {
  Worker& w = worker_in_kernel("__activemask()");
  const unsigned warp_index = w.current->linear / 32;
  unsigned mask = 0;
  for (unsigned l = 0; l < 32 && warp_index * 32 + l < w.threads; ++l)
    if (w.fibers[warp_index * 32 + l].state != FiberState::Finished) mask |= 1u << l;
  return mask;
}

int shuffle_source(ShuffleMode mode, unsigned lane, int arg, int width, const std::source_location& where) {
  if (width <= 0 || width > 32 || (width & (width - 1)) != 0)
    kernel_error(("shuffle width " + std::to_string(width) + " is not a power of 2 in [1, 32]").c_str(), where);
  const unsigned w = static_cast<unsigned>(width), segment = lane / w * w;
  switch (mode) {
    case ShuffleMode::Index: return static_cast<int>(segment + (static_cast<unsigned>(arg) & (w - 1)));
    case ShuffleMode::Up: return lane - segment >= static_cast<unsigned>(arg) ? static_cast<int>(lane) - arg : -1;
    case ShuffleMode::Down:
      return lane - segment + static_cast<unsigned>(arg) < w ? static_cast<int>(lane) + arg : -1;
    case ShuffleMode::Xor: {
      const unsigned src = lane ^ static_cast<unsigned>(arg);
      return src < segment + w && src < 32 ? static_cast<int>(src) : -1;  // no reads from later segments
    }
  }
  return -1;
}

void shuffle_source_error(unsigned lane, int source, unsigned mask, const std::source_location& where) {
  kernel_error(("shuffle: lane " + std::to_string(lane) + " reads lane " + std::to_string(source) +
                ", which is not in the mask " + mask_text(mask) + " (the value is undefined on a GPU)")
                   .c_str(),
               where);
}

unsigned vote(const char* name, VoteKind kind, unsigned mask, int predicate, const std::source_location& where) {
  const auto combine = [kind](LaneInputs<int> ins, LaneOutputs<unsigned> outs, unsigned m) {
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((m >> l & 1u) && ins[l] != 0) ballot |= 1u << l;
    const unsigned result = kind == VoteKind::Ballot ? ballot
                            : kind == VoteKind::Any  ? (ballot != 0 ? 1u : 0u)
                                                     : (ballot == m ? 1u : 0u);
    for (unsigned l = 0; l < 32; ++l)
      if (m >> l & 1u) outs[l] = result;
  };
  return warp_collective<int, unsigned>(name, mask, predicate, combine, where);
}

void kernel_error(const char* what, const std::source_location& where) {
  Worker& w = worker_in_kernel(what);
  stop(w, *w.current, thread_text(w, *w.current) + ": " + what + " at " + where_text(where));
}

void* dynamic_shared_memory() { return worker_in_kernel("dynamic shared memory").dynamic_shared.data(); }

cudaError_t set_kernel_attribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;  // carveout: a hint
  if (value < 0 || static_cast<size_t>(value) > kOptinSharedLimit) return cudaErrorInvalidValue;
  KernelAttributes& a = kernel_attributes();
  std::lock_guard<std::mutex> lock(a.mu);
  a.max_dynamic_shared[kernel] = value;
  return cudaSuccess;
}

void run_grid(const GridLaunch& L) {
  check_configuration(L);
  check_work_stream(("launch of kernel " + std::string(L.kernel_name)).c_str(), L.stream);
  Job job;
  job.launch = &L;
  job.blocks = uint64_t{L.grid.x} * L.grid.y * L.grid.z;
  {
    memory::Access access;  // kernels read and write device memory
    pool().run(job);
  }
  if (job.failed) throw std::runtime_error("gan emulator: " + job.error);
}

void submit_grid(const GridLaunch& L, std::shared_ptr<const void> params, void (*check)(const char*, const void*)) {
  const std::string what = "launch of kernel " + std::string(L.kernel_name);
  (void)submit(what.c_str(), L.stream, [L, params = std::move(params), check](cudaStream_t stream) {
    GridLaunch run = L;
    run.stream = stream;
    check(run.kernel_name, params.get());  // at every run: a replayed graph may meet a buffer freed since capture
    run_grid(run);
  });
}

void check_pointer_argument(const char* kernel_name, size_t index, const void* ptr) {
  if (ptr == nullptr || memory::is_pinned(ptr)) return;
  const std::string what = "argument " + std::to_string(index) + " of kernel " + kernel_name;
  if (!memory::in_device_range(ptr))
    throw std::runtime_error("gan emulator: " + what +
                             " is a pointer to host memory, which a kernel on a GPU cannot read (copy the data to "
                             "the device, or pin it with cudaHostAlloc)");
  memory::check_device_range(what, ptr, 0);
}

std::string site(const char* file, unsigned line, const char* function) {
  std::string f = file;
  for (const char* root : {"/kernels/", "/tests/", "/engine/", "/benchmarks/"}) {
    const size_t at = f.rfind(root);
    if (at != std::string::npos) {
      f = f.substr(at + 1);
      break;
    }
  }
  std::string fn = function;
  const size_t paren = fn.find('(');
  if (paren != std::string::npos) fn = fn.substr(0, paren);  // drop the parameter list
  const size_t space = fn.rfind(' ');
  if (space != std::string::npos) fn = fn.substr(space + 1);  // and the return type
  for (const std::string prefix : {"gan::kernels::cuda::", "{anonymous}::", "(anonymous namespace)::"})
    for (size_t at; (at = fn.find(prefix)) != std::string::npos;) fn.erase(at, prefix.size());
  return f + ":" + std::to_string(line) + (fn.empty() ? "" : " (" + fn + ")");
}

bool describe_running_thread(char* buf, size_t size) {
  const Worker* w = t_worker;
  if (w == nullptr || w->current == nullptr || w->launch == nullptr) return false;
  const uint3 b = w->block, t = w->current->tid;
  std::snprintf(buf, size, "kernel %s, block (%u, %u, %u), thread (%u, %u, %u)", w->launch->kernel_name, b.x, b.y,
                b.z, t.x, t.y, t.z);
  return true;
}

bool is_fiber_stack_guard(const void* addr) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  const int n = g_stack_range_count.load();
  for (int i = 0; i < n; ++i) {
    const StackRange& r = g_stack_ranges[i];
    if (a >= r.begin && a < r.end && (a - r.begin) % r.stride < kPage) return true;
  }
  return false;
}

}  // namespace detail

int worker_threads() {
  static const int n = [] {
    if (const char* v = std::getenv("GAN_EMU_THREADS"); v != nullptr && std::atoi(v) > 0) return std::atoi(v);
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }();
  return n;
}

}  // namespace gan::emu
