// apps/metrics_buffer.h with values on the device: adding a step's values never waits, draining the block waits
// once, and the values are the ones Tensor::item() reads, bit for bit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/metrics_buffer.h"
#include "engine/ops.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/sync_count.h"

namespace gan::testing {
namespace {

namespace kc = gan::kernels::cuda;
const Device kGpu = Device::cuda(0);

class DeviceMetricsBuffer : public CudaTest {};

TEST_F(DeviceMetricsBuffer, AddsWithoutWaitingAndDrainsWithOneWait) {
  Generator gen(5, 0);
  std::vector<Tensor> values;
  for (int i = 0; i < 12; ++i) values.push_back(mean(randn({100}, DType::Float32, &gen)).to(kGpu));
  apps::MetricsBuffer buffer(4);
  (void)values[0].to(Device::cpu());  // warm-up: nothing pending, block of the first add is allocated below
  kc::reset_sync_counts();
  for (int step = 1; step <= 4; ++step) {
    const size_t i = static_cast<size_t>(step - 1) * 3;
    models::Metrics m = {{"loss_d", values[i]}, {"loss_g", values[i + 1]}, {"host", 0.5 * step}};
    if (step == 3) m.emplace_back("r1", values[i + 2]);  // a value only some steps log
    buffer.add(step, m);
  }
  EXPECT_EQ(kc::sync_count(), 0u) << "collecting a step's values must not wait for the device";
  const std::vector<apps::MetricsBuffer::Row> rows = buffer.drain();
  EXPECT_EQ(kc::sync_count(), 1u) << "the whole block comes back with one wait";
  ASSERT_EQ(rows.size(), 4u);
  for (int step = 1; step <= 4; ++step) {
    const apps::MetricsBuffer::Row& r = rows[static_cast<size_t>(step - 1)];
    const size_t i = static_cast<size_t>(step - 1) * 3;
    EXPECT_EQ(r.step, step);
    ASSERT_EQ(r.values.size(), step == 3 ? 4u : 3u);
    EXPECT_EQ(r.values[0].second, values[i].item()) << step;
    EXPECT_EQ(r.values[1].second, values[i + 1].item()) << step;
    EXPECT_EQ(r.values[2].second, 0.5 * step);
    if (step == 3) {
      EXPECT_EQ(r.values[3].second, values[i + 2].item());
    }
  }
  // A second round reuses the block: no new device memory, one wait again.
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
  buffer.add(5, {{"loss_d", values[0]}});
  EXPECT_EQ(buffer.drain().at(0).values.at(0).second, values[0].item());
  EXPECT_EQ(kc::sync_count(), 2u);  // the drain and the item() above
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
}

}  // namespace
}  // namespace gan::testing
