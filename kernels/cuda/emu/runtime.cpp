// The CUDA runtime API on the emulated device (declared in runtime_api.h): devices, streams, events, memory,
// copies and CUDA graphs. Work runs synchronously, in the calling thread, or is recorded while its stream captures
// a graph; see runtime_api.h for what is checked.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/cuda/emu/emulator.h"
#include "kernels/cuda/emu/internal.h"
#include "kernels/cuda/emu/memory.h"
#include "kernels/cuda/emu/runtime_api.h"

namespace gan::emu::detail {
struct Capture;
// One recorded piece of work: what it is (for errors) and how to run it on a stream.
struct Node {
  std::string what;
  std::function<void(cudaStream_t)> run;
};
}  // namespace gan::emu::detail

struct CUstream_st {
  int device;
  unsigned flags;
  gan::emu::detail::Capture* capture = nullptr;  // the capture this stream records into (its origin or joined)
};

struct CUevent_st {
  int device;
  unsigned flags;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
  gan::emu::detail::Capture* capture = nullptr;  // last recorded on a capturing stream (of this capture)
  CUstream_st* stream = nullptr;                 // where it was last recorded
};

struct CUgraph_st {
  std::vector<gan::emu::detail::Node> nodes;
};

struct CUgraphExec_st {
  std::vector<gan::emu::detail::Node> nodes;
};

namespace gan::emu::detail {

namespace {

// The emulated GPU: limits of an H200 (132 SMs, 1024 threads and 227 KiB of opt-in shared memory per block), the
// host's RAM as its memory.
constexpr int kSmCount = 132;
constexpr size_t kSharedPerBlock = 48 * 1024;
constexpr size_t kSharedPerBlockOptin = 227 * 1024;

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_device = 0;

cudaError_t fail(cudaError_t err) {
  t_last_error = err;
  return err;
}

// GAN_EMU_DEVICES (default 1) emulated devices, of which CUDA_VISIBLE_DEVICES may hide some, as it hides GPUs.
int device_count() {
  static const int count = [] {
    int n = 1;
    if (const char* v = std::getenv("GAN_EMU_DEVICES"); v != nullptr && *v != '\0') n = std::max(0, std::atoi(v));
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    if (visible == nullptr) return n;
    int shown = 0;  // CUDA's rule: the list stops at the first entry that is not a valid device
    for (const char* p = visible; *p != '\0';) {
      char* end = nullptr;
      const long idx = std::strtol(p, &end, 10);
      if (end == p || idx < 0 || idx >= n) break;
      ++shown;
      p = *end == ',' ? end + 1 : end;
      if (*end != ',' && *end != '\0') break;
    }
    return shown;
  }();
  return count;
}

struct Streams {
  std::mutex mu;
  std::set<const CUstream_st*> live;
  std::map<int, int> non_blocking;  // per device: live non-blocking streams
  std::set<const CUevent_st*> events;
  std::set<Capture*> captures;      // in progress
};

Streams& streams() {
  static Streams* s = new Streams();
  return *s;
}

bool is_default_stream(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// The direction a copy between these pointers really has.
cudaMemcpyKind actual_kind(const void* dst, const void* src) {
  const bool d = memory::in_device_range(dst), s = memory::in_device_range(src);
  return d ? (s ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
           : (s ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
}

const char* kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "cudaMemcpyHostToHost";
    case cudaMemcpyHostToDevice: return "cudaMemcpyHostToDevice";
    case cudaMemcpyDeviceToHost: return "cudaMemcpyDeviceToHost";
    case cudaMemcpyDeviceToDevice: return "cudaMemcpyDeviceToDevice";
    case cudaMemcpyDefault: return "cudaMemcpyDefault";
  }
  return "an unknown cudaMemcpyKind";
}

bool capturing(cudaStream_t stream);

cudaError_t copy(const char* call, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                 cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  const cudaMemcpyKind actual = actual_kind(dst, src);
  if (kind != cudaMemcpyDefault && kind != actual)
    throw std::runtime_error(std::string("gan emulator: ") + call + " with " + kind_name(kind) + " from " + hex(src) +
                             " to " + hex(dst) + ", which is " + kind_name(actual));
  if (capturing(stream) && (actual == cudaMemcpyHostToDevice || actual == cudaMemcpyDeviceToHost) &&
      !memory::is_pinned(actual == cudaMemcpyHostToDevice ? src : dst))
    return fail(cudaErrorStreamCaptureUnsupported);  // a graph node would touch the pageable buffer at each replay
  const std::string what = std::string(call) + " of " + std::to_string(bytes) + " bytes";
  return submit(what.c_str(), stream, [=](cudaStream_t) {
    if (memory::in_device_range(dst)) memory::check_device_range(what + " to " + hex(dst), dst, bytes);
    if (memory::in_device_range(src)) memory::check_device_range(what + " from " + hex(src), src, bytes);
    memory::Access access;
    std::memcpy(dst, src, bytes);
  });
}

cudaError_t fill(const char* call, void* ptr, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  const std::string what = std::string(call) + " of " + std::to_string(bytes) + " bytes at " + hex(ptr);
  return submit(call, stream, [=](cudaStream_t) {
    memory::check_device_range(what, ptr, bytes);
    memory::Access access;
    std::memset(ptr, value, bytes);
  });
}

bool capturing(cudaStream_t stream) {
  if (is_default_stream(stream)) return false;
  Streams& s = streams();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.live.count(stream) && stream->capture != nullptr;
}

}  // namespace

// A stream capture in progress (cudaStreamBeginCapture .. cudaStreamEndCapture).
struct Capture {
  CUstream_st* origin = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;  // the thread that began it
  std::vector<Node> nodes;
  bool invalidated = false;
  std::string why;                       // what invalidated it, for the emulator's own messages
  std::map<CUstream_st*, bool> joined;   // streams that joined: whether they have work the origin has not waited for
};

namespace {

// The calling thread's own capture interaction mode (cudaThreadExchangeStreamCaptureMode; the driver's default).
thread_local cudaStreamCaptureMode t_capture_mode = cudaStreamCaptureModeGlobal;

// The capture the calling thread must not disturb with an unsafe call (a synchronizing one), as the driver
// decides from the thread's own mode: none in relaxed mode; its own capture unless that one began relaxed; in
// global mode also any other thread's global-mode capture. Caller holds streams().mu.
Capture* guarding_capture(Streams& s) {
  if (t_capture_mode == cudaStreamCaptureModeRelaxed) return nullptr;
  const std::thread::id me = std::this_thread::get_id();
  for (Capture* c : s.captures) {
    const bool own = c->thread == me && c->mode != cudaStreamCaptureModeRelaxed;
    const bool others_global = t_capture_mode == cudaStreamCaptureModeGlobal && c->mode == cudaStreamCaptureModeGlobal;
    if (own || others_global) return c;
  }
  return nullptr;
}

// The capture begun by the calling thread, whatever its mode. Caller holds streams().mu.
Capture* own_capture(Streams& s) {
  const std::thread::id me = std::this_thread::get_id();
  for (Capture* c : s.captures)
    if (c->thread == me) return c;
  return nullptr;
}

void invalidate(Capture* c, const std::string& why) {
  if (c->invalidated) return;
  c->invalidated = true;
  c->why = why;
}

// A call that may synchronize (runtime_api.h lists them): refused while a capture it would break runs.
cudaError_t unsafe_call(const char* call) {
  Streams& s = streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (Capture* c = guarding_capture(s)) {
    invalidate(c, std::string(call) + " during stream capture");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t submit(const char* what, cudaStream_t stream, std::function<void(cudaStream_t)> work) {
  check_work_stream(what, stream);
  {
    Streams& s = streams();
    std::lock_guard<std::mutex> lock(s.mu);
    Capture* c = is_default_stream(stream) ? nullptr : stream->capture;
    if (c != nullptr) {
      if (c->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
      c->nodes.push_back({what, std::move(work)});
      if (stream != c->origin) c->joined[stream] = true;  // the origin must wait for it before the capture ends
      return cudaSuccess;
    }
    if (Capture* mine = own_capture(s))
      throw std::runtime_error(std::string("gan emulator: ") + what + " on stream " + hex(stream) +
                               " while this thread captures a CUDA graph on stream " + hex(mine->origin) +
                               ", and that stream is not part of the capture: the work would run now, outside the "
                               "graph (CUDA would allow it; it is never what a captured step means). Queue it on "
                               "the capturing stream, or join the capture (cudaStreamWaitEvent on an event recorded "
                               "there)");
  }
  work(stream);
  return cudaSuccess;
}

int current_device_index() { return t_device; }

void check_work_stream(const char* call, cudaStream_t stream) {
  Streams& s = streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (is_default_stream(stream)) {
    const auto it = s.non_blocking.find(t_device);
    if (it != s.non_blocking.end() && it->second > 0)
      throw std::runtime_error(
          std::string("gan emulator: ") + call + " on the " +
          (stream == cudaStreamPerThread ? "per-thread" : "legacy") + " default stream of cuda:" +
          std::to_string(t_device) + ", which does not wait for the device's non-blocking stream(s) (nor they for "
          "it): the work races with the kernels queued there. Queue it on the device's stream "
          "(kernels::cuda::stream()) with the Async variant of the call.");
    return;
  }
  if (!s.live.count(stream))
    throw std::runtime_error(std::string("gan emulator: ") + call + " on stream " + hex(stream) +
                             ", which was destroyed or never created");
  if (stream->device != t_device)
    throw std::runtime_error(std::string("gan emulator: ") + call + " on a stream of cuda:" +
                             std::to_string(stream->device) + " while cuda:" + std::to_string(t_device) +
                             " is current");
}

}  // namespace gan::emu::detail

using namespace gan::emu;
using gan::emu::detail::fail;
using gan::emu::detail::t_device;

// ---- errors ----
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
#define GAN_EMU_ERROR(name) \
  case name:                \
    return #name;
    GAN_EMU_ERROR(cudaSuccess)
    GAN_EMU_ERROR(cudaErrorInvalidValue)
    GAN_EMU_ERROR(cudaErrorMemoryAllocation)
    GAN_EMU_ERROR(cudaErrorInitializationError)
    GAN_EMU_ERROR(cudaErrorCudartUnloading)
    GAN_EMU_ERROR(cudaErrorInvalidConfiguration)
    GAN_EMU_ERROR(cudaErrorInvalidDevicePointer)
    GAN_EMU_ERROR(cudaErrorInvalidMemcpyDirection)
    GAN_EMU_ERROR(cudaErrorInsufficientDriver)
    GAN_EMU_ERROR(cudaErrorNoDevice)
    GAN_EMU_ERROR(cudaErrorInvalidDevice)
    GAN_EMU_ERROR(cudaErrorStubLibrary)
    GAN_EMU_ERROR(cudaErrorDevicesUnavailable)
    GAN_EMU_ERROR(cudaErrorSystemDriverMismatch)
    GAN_EMU_ERROR(cudaErrorCompatNotSupportedOnDevice)
    GAN_EMU_ERROR(cudaErrorInvalidResourceHandle)
    GAN_EMU_ERROR(cudaErrorNotReady)
    GAN_EMU_ERROR(cudaErrorIllegalAddress)
    GAN_EMU_ERROR(cudaErrorLaunchOutOfResources)
    GAN_EMU_ERROR(cudaErrorAssert)
    GAN_EMU_ERROR(cudaErrorLaunchFailure)
    GAN_EMU_ERROR(cudaErrorNotSupported)
    GAN_EMU_ERROR(cudaErrorStreamCaptureUnsupported)
    GAN_EMU_ERROR(cudaErrorStreamCaptureInvalidated)
    GAN_EMU_ERROR(cudaErrorStreamCaptureUnjoined)
    GAN_EMU_ERROR(cudaErrorStreamCaptureImplicit)
    GAN_EMU_ERROR(cudaErrorCapturedEvent)
    GAN_EMU_ERROR(cudaErrorStreamCaptureWrongThread)
    GAN_EMU_ERROR(cudaErrorIllegalState)
    GAN_EMU_ERROR(cudaErrorUnknown)
#undef GAN_EMU_ERROR
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnjoined: return "capture was not joined back to the origin stream";
    case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
    case cudaErrorStreamCaptureWrongThread: return "attempt to terminate a thread-local capture sequence from another thread";
    case cudaErrorIllegalState: return "the operation is not permitted in the current state";
    default: return cudaGetErrorName(e);
  }
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = detail::t_last_error;
  detail::t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return detail::t_last_error; }

// ---- devices ----
cudaError_t cudaGetDeviceCount(int* count) {
  *count = detail::device_count();
  return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int* device) {
  if (detail::device_count() == 0) return fail(cudaErrorNoDevice);
  *device = t_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= detail::device_count()) return fail(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device < 0 || device >= detail::device_count()) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "gan-engine SIMT emulator (CPU, %d worker threads)",
                worker_threads());
  prop->totalGlobalMem = memory::total_bytes();
  prop->sharedMemPerBlock = detail::kSharedPerBlock;
  prop->sharedMemPerBlockOptin = detail::kSharedPerBlockOptin;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->multiProcessorCount = detail::kSmCount;
  prop->major = 9, prop->minor = 0;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->clockRate = 1980000;
  prop->memoryBusWidth = 6144;
  prop->unifiedAddressing = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  cudaDeviceProp p;
  if (const cudaError_t e = cudaGetDeviceProperties(&p, device); e != cudaSuccess) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = static_cast<int>(p.sharedMemPerMultiprocessor); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(p.sharedMemPerBlockOptin); break;
    default: return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return detail::unsafe_call("cudaDeviceSynchronize"); }  // all work has finished
cudaError_t cudaDeviceReset() { return cudaSuccess; }

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *total_bytes = memory::total_bytes();
  *free_bytes = *total_bytes - std::min(*total_bytes, memory::used_bytes());
  return cudaSuccess;
}

// ---- streams and events ----
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  *stream = new CUstream_st{t_device, flags};
  s.live.insert(*stream);
  if (flags & cudaStreamNonBlocking) ++s.non_blocking[t_device];
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.live.erase(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream->flags & cudaStreamNonBlocking) --s.non_blocking[stream->device];
  delete stream;
  return cudaSuccess;
}

namespace gan::emu::detail {
namespace {
// cudaStreamSynchronize and cudaStreamQuery: refused on a capturing stream (and, as unsafe calls, during a capture
// they would break); otherwise all work has finished already.
cudaError_t stream_wait(const char* call, cudaStream_t stream) {
  {
    Streams& s = streams();
    std::lock_guard<std::mutex> lock(s.mu);
    if (!is_default_stream(stream) && s.live.count(stream) && stream->capture != nullptr) {
      invalidate(stream->capture, std::string(call) + " of the capturing stream");
      return fail(cudaErrorStreamCaptureUnsupported);
    }
  }
  return unsafe_call(call);
}
}  // namespace
}  // namespace gan::emu::detail

cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return detail::stream_wait("cudaStreamSynchronize", stream); }
cudaError_t cudaStreamQuery(cudaStream_t stream) { return detail::stream_wait("cudaStreamQuery", stream); }

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (event == nullptr || !s.events.count(event)) return fail(cudaErrorInvalidResourceHandle);
  detail::Capture* c = event->capture;
  if (c == nullptr || detail::is_default_stream(stream)) return cudaSuccess;
  if (stream->capture == nullptr) {  // a fork: the stream joins the capture
    stream->capture = c;
    c->joined[stream] = false;
  } else if (stream->capture == c && event->stream != nullptr && c->joined.count(event->stream)) {
    c->joined[event->stream] = false;  // a join: the waiting stream is after everything the other queued
  }
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  *event = new CUevent_st{t_device, flags, false, {}};
  s.events.insert(*event);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.events.erase(event)) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::Capture* c = detail::is_default_stream(stream) ? nullptr : stream->capture;
  if (c != nullptr) {  // recorded into the capture: marks a point of the graph, not a time
    event->capture = c;
    event->stream = stream;
    return cudaSuccess;
  }
  event->capture = nullptr;
  event->stream = detail::is_default_stream(stream) ? nullptr : stream;
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}

namespace gan::emu::detail {
namespace {
cudaError_t event_wait(const char* call, cudaEvent_t event, bool is_sync) {
  {
    Streams& s = streams();
    std::lock_guard<std::mutex> lock(s.mu);
    if (event == nullptr || !s.events.count(event)) return fail(cudaErrorInvalidResourceHandle);
    if (event->capture != nullptr && s.captures.count(event->capture)) return fail(cudaErrorCapturedEvent);
  }
  return is_sync ? unsafe_call(call) : cudaSuccess;
}
}  // namespace
}  // namespace gan::emu::detail

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return detail::event_wait("cudaEventSynchronize", event, /*is_sync=*/true);
}
cudaError_t cudaEventQuery(cudaEvent_t event) { return detail::event_wait("cudaEventQuery", event, false); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if ((start->flags | end->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

// ---- memory ----
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = nullptr;
  if (detail::device_count() == 0) return fail(cudaErrorNoDevice);
  if (const cudaError_t e = detail::unsafe_call("cudaMalloc"); e != cudaSuccess) return e;
  if (bytes == 0) return cudaSuccess;
  *ptr = memory::allocate(t_device, bytes);
  return *ptr != nullptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  if (const cudaError_t e = detail::unsafe_call("cudaFree"); e != cudaSuccess) return e;
  return memory::release(ptr) ? cudaSuccess : fail(cudaErrorInvalidDevicePointer);
}

cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned) {
  *ptr = memory::pinned_allocate(bytes);
  return *ptr != nullptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) { return cudaHostAlloc(ptr, bytes, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  if (const cudaError_t e = detail::unsafe_call("cudaFreeHost"); e != cudaSuccess) return e;
  return memory::pinned_free(ptr) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaHostRegister(void* ptr, size_t bytes, unsigned) {
  memory::pinned_register(ptr, bytes);
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* ptr) {
  return memory::pinned_unregister(ptr) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr) {
  *attr = cudaPointerAttributes{};
  const int device = memory::device_of(ptr);
  if (device >= 0) {
    attr->type = cudaMemoryTypeDevice;
    attr->device = device;
    attr->devicePointer = const_cast<void*>(ptr);
  } else if (ptr != nullptr && memory::is_pinned(ptr)) {
    attr->type = cudaMemoryTypeHost;
    attr->device = t_device;
    attr->devicePointer = attr->hostPointer = const_cast<void*>(ptr);
  } else {
    attr->type = cudaMemoryTypeUnregistered;
    attr->device = -2;
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (const cudaError_t e = detail::unsafe_call("cudaMemcpy"); e != cudaSuccess) return e;
  return detail::copy("cudaMemcpy", dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return detail::copy("cudaMemcpyAsync", dst, src, bytes, kind, stream);
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                                cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (memory::device_of(dst) != dst_device || memory::device_of(src) != src_device)
    throw std::runtime_error("gan emulator: cudaMemcpyPeerAsync: the pointers are not on devices " +
                             std::to_string(dst_device) + " and " + std::to_string(src_device));
  return detail::copy("cudaMemcpyPeerAsync", dst, src, bytes, cudaMemcpyDeviceToDevice, stream);
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (const cudaError_t e = detail::unsafe_call("cudaMemset"); e != cudaSuccess) return e;
  return detail::fill("cudaMemset", ptr, value, bytes, nullptr);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  return detail::fill("cudaMemsetAsync", ptr, value, bytes, stream);
}

// ---- CUDA graphs ----
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (mode == nullptr) return fail(cudaErrorInvalidValue);
  std::swap(*mode, detail::t_capture_mode);
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  if (detail::is_default_stream(stream)) return fail(cudaErrorStreamCaptureUnsupported);  // legacy stream
  if (!s.live.count(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream->capture != nullptr) return fail(cudaErrorIllegalState);
  auto* c = new detail::Capture();
  c->origin = stream;
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  stream->capture = c;
  s.captures.insert(c);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  auto& s = detail::streams();
  std::unique_ptr<detail::Capture> c;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    *graph = nullptr;
    if (detail::is_default_stream(stream) || !s.live.count(stream) || stream->capture == nullptr ||
        stream->capture->origin != stream)
      return fail(cudaErrorIllegalState);
    if (stream->capture->mode == cudaStreamCaptureModeThreadLocal &&
        stream->capture->thread != std::this_thread::get_id())
      return fail(cudaErrorStreamCaptureWrongThread);
    c.reset(stream->capture);
    s.captures.erase(c.get());
    for (const CUstream_st* live : s.live)
      if (live->capture == c.get()) const_cast<CUstream_st*>(live)->capture = nullptr;
    for (const CUevent_st* e : s.events)
      if (e->capture == c.get()) const_cast<CUevent_st*>(e)->capture = nullptr;
  }
  if (c->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  for (const auto& [joined, pending] : c->joined)
    if (pending) return fail(cudaErrorStreamCaptureUnjoined);
  *graph = new CUgraph_st{std::move(c->nodes)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  auto& s = detail::streams();
  std::lock_guard<std::mutex> lock(s.mu);
  *status = cudaStreamCaptureStatusNone;
  if (detail::is_default_stream(stream) || !s.live.count(stream) || stream->capture == nullptr) return cudaSuccess;
  *status = stream->capture->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  // Launched into a capture, the whole graph is one node of the new one; otherwise its nodes run now, in order.
  return detail::submit("cudaGraphLaunch", stream, [exec](cudaStream_t st) {
    for (const detail::Node& n : exec->nodes) {
      try {
        n.run(st);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string(e.what()) + " (replaying a CUDA graph node: " + n.what + ")");
      }
    }
  });
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  if (graph == nullptr || count == nullptr) return fail(cudaErrorInvalidValue);
  if (nodes != nullptr) {
    for (size_t i = 0; i < std::min(*count, graph->nodes.size()); ++i)
      nodes[i] = reinterpret_cast<cudaGraphNode_t>(&graph->nodes[i]);
  }
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
