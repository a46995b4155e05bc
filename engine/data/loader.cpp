// The data loader; see engine/data/loader.h.
//
// Threading: with prefetch on, one worker thread builds batches (CPU tensors) in cursor order into a queue of up
// to kDepth; next() pops one and copies it to the loader's device on the caller's thread (Tensor::to, which
// stages through pinned memory on a GPU). set_cursor bumps a generation counter so a batch the worker is still
// building for the old position is thrown away. Only the thread that builds batches touches the permutation
// cache: the worker with prefetch, the caller without. The worker never starts OpenMP threads of its own
// (kernels/thread_policy.h).
//
// Labels: when the dataset has classes, every label is checked against them as the batch is built (on the host,
// for free), so that code on a device can trust them (std::out_of_range naming the label, the example and the set).
//
// Errors: an exception thrown while building a batch (a dataset's get, the label check) reaches the caller from the
// next() that would have returned that batch, never earlier; the cursor does not move, so calling next() again
// retries it.
#include "engine/data/loader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/philox.h"
#include "kernels/thread_policy.h"

namespace gan::data {

namespace {

constexpr size_t kDepth = 2;
constexpr uint64_t kStream = 0x4c4f4144;  // "LOAD": the Philox stream of the loader's shuffles

// Epoch `epoch`'s order: Fisher-Yates driven by Philox blocks keyed by (seed, epoch), 64 random bits per swap.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  const uint64_t base = static_cast<uint64_t>(epoch) << 32;
  for (int64_t i = n - 1; i > 0; --i) {
    const kernels::Philox4x32 r = kernels::philox_block(seed, kStream, base + static_cast<uint64_t>(i / 2));
    const uint64_t bits = (i % 2 == 0) ? (uint64_t{r.v[0]} << 32 | r.v[1]) : (uint64_t{r.v[2]} << 32 | r.v[3]);
    // Scales 64 random bits to [0, i] (Lemire's multiply-shift); the bias, below i / 2^64, is negligible.
    const auto j = static_cast<int64_t>((static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return perm;
}

}  // namespace

struct Loader::Impl {
  const Dataset& dataset;
  int64_t batch;
  uint64_t seed;
  Device device;
  bool prefetch;
  int64_t n;
  Shape batch_shape;
  int64_t numel;  // per example

  int64_t perm_epoch = -1;
  std::vector<int64_t> perm;

  mutable std::mutex mu;
  std::condition_variable cv;
  LoaderCursor cursor;   // the next batch next() returns
  LoaderCursor produce;  // the next batch the worker builds
  std::deque<Batch> ready;
  std::exception_ptr error;
  bool paused = false;  // after handing an error to next(): the worker waits for the next next() to retry
  uint64_t generation = 0;
  bool stop = false;
  std::thread worker;

  Impl(const Dataset& d, int64_t b, uint64_t s, Device dev, bool pf)
      : dataset(d), batch(b), seed(s), device(dev), prefetch(pf), n(d.size()) {
    const DataSpec& spec = d.spec();
    numel = spec.example_numel();
    batch_shape = spec.kind == ExampleKind::Image ? Shape{b, spec.channels, spec.image_size, spec.image_size}
                                                  : Shape{b, spec.point_dim};
  }

  LoaderCursor advance(LoaderCursor c) const {
    c.position += batch;
    if (c.position + batch > n) {
      ++c.epoch;
      c.position = 0;
    }
    return c;
  }

  Batch build(LoaderCursor at) {
    if (perm_epoch != at.epoch) {
      perm = epoch_permutation(n, seed, at.epoch);
      perm_epoch = at.epoch;
    }
    Tensor examples = empty(batch_shape, DType::Float32);
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    float* out = examples.data<float>();
    const int64_t classes = dataset.spec().num_classes;
    for (int64_t k = 0; k < batch; ++k) {
      const int64_t i = perm[static_cast<size_t>(at.position + k)];
      const int64_t label = labels[static_cast<size_t>(k)] = dataset.get(i, out + k * numel);
      // Checked here, on the host, because the models that use labels (cgan's one-hot) cannot check them on a
      // device without making every step wait for it (F::one_hot).
      if (classes > 0 && (label < 0 || label >= classes))
        throw std::out_of_range("label " + std::to_string(label) + " of example " + std::to_string(i) +
                                " is outside [0, " + std::to_string(classes) + "), the classes of " +
                                dataset.describe() + ": the data set is corrupt or declares too few classes");
    }
    return {examples, from_vector<int64_t>(labels, {batch})};
  }

  void work() {
    kernels::use_one_thread_here();  // any kernel it runs stays on this thread: the cores are the OpenMP team's
    for (;;) {
      LoaderCursor at;
      uint64_t gen;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stop || (ready.size() < kDepth && !error && !paused); });
        if (stop) return;
        at = produce;
        gen = generation;
      }
      Batch b;
      std::exception_ptr err;
      try {
        b = build(at);
      } catch (...) {
        err = std::current_exception();
      }
      {
        std::lock_guard lk(mu);
        if (gen != generation) continue;
        if (err) {
          error = std::move(err);  // moved: the worker keeps no reference to the exception it hands over
        } else {
          ready.push_back(std::move(b));
          produce = advance(at);
        }
      }
      cv.notify_all();
    }
  }
};

Loader::Loader(const Dataset& dataset, int64_t batch_size, uint64_t seed, Device device, bool prefetch) {
  if (batch_size < 1)
    throw std::invalid_argument("Loader: batch size " + std::to_string(batch_size) + " (want >= 1)");
  if (dataset.size() < batch_size)
    throw std::invalid_argument("Loader: the dataset holds " + std::to_string(dataset.size()) +
                                " examples, fewer than one batch of " + std::to_string(batch_size) + " (" +
                                dataset.describe() + ")");
  impl_ = std::make_unique<Impl>(dataset, batch_size, seed, device, prefetch);
  if (prefetch) impl_->worker = std::thread([impl = impl_.get()] { impl->work(); });
}

Loader::~Loader() {
  if (impl_ && impl_->worker.joinable()) {
    {
      std::lock_guard lk(impl_->mu);
      impl_->stop = true;
    }
    impl_->cv.notify_all();
    impl_->worker.join();
  }
}

Batch Loader::next() {
  Impl& m = *impl_;
  Batch b;
  if (!m.prefetch) {
    b = m.build(m.cursor);
    m.cursor = m.advance(m.cursor);
  } else {
    std::unique_lock lk(m.mu);
    if (m.paused) {  // the last call failed: build that batch again now
      m.paused = false;
      m.cv.notify_all();
    }
    m.cv.wait(lk, [&] { return !m.ready.empty() || m.error; });
    if (m.ready.empty()) {
      std::exception_ptr e = std::exchange(m.error, nullptr);
      m.paused = true;
      std::rethrow_exception(e);
    }
    b = std::move(m.ready.front());
    m.ready.pop_front();
    m.cursor = m.advance(m.cursor);
    lk.unlock();
    m.cv.notify_all();
  }
  if (!m.device.is_cpu()) {
    b.examples = b.examples.to(m.device);
    b.labels = b.labels.to(m.device);
  }
  return b;
}

LoaderCursor Loader::cursor() const {
  std::lock_guard lk(impl_->mu);
  return impl_->cursor;
}

void Loader::set_cursor(LoaderCursor c) {
  Impl& m = *impl_;
  // position > n - batch rather than position + batch > n: the cursor comes from a checkpoint's metadata, and a
  // position near INT64_MAX must not overflow past the check.
  if (c.epoch < 0 || c.position < 0 || c.position > m.n - m.batch)
    throw std::invalid_argument("Loader::set_cursor: cursor (epoch " + std::to_string(c.epoch) + ", position " +
                                std::to_string(c.position) + ") does not start a full batch of " +
                                std::to_string(m.batch) + " in a dataset of " + std::to_string(m.n) +
                                " examples; was it saved with another dataset or batch size?");
  {
    std::lock_guard lk(m.mu);
    ++m.generation;
    m.ready.clear();
    m.error = nullptr;
    m.paused = false;
    m.cursor = c;
    m.produce = c;
  }
  m.cv.notify_all();
}

int64_t Loader::batches_per_epoch() const { return impl_->n / impl_->batch; }

}  // namespace gan::data
