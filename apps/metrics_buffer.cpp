#include "apps/metrics_buffer.h"

#include <algorithm>
#include <stdexcept>

#include "engine/ops.h"

namespace gan::apps {

MetricsBuffer::MetricsBuffer(int64_t capacity) : capacity_(std::max<int64_t>(capacity, 1)) {}

void MetricsBuffer::add(int64_t step, const models::Metrics& metrics) {
  if (full()) throw std::logic_error("MetricsBuffer::add: the buffer is full; drain() it first");
  PendingRow row;
  row.step = step;
  for (const auto& [name, metric] : metrics) {
    Entry e;
    e.name = name;
    const Tensor& t = metric.tensor();
    const bool on_device = t.defined() && !t.device().is_cpu() && (!block_.defined() || t.device() == block_.device());
    if (!on_device) {
      e.host = metric.value();  // a plain number or a host tensor: no device to wait for
    } else {
      if (t.numel() != 1)
        throw std::invalid_argument("metric '" + name + "' has shape " + shape_str(t.shape()) +
                                    "; a logged value must have one element");
      // Room for every row at the widest row seen so far; growing keeps what was written (a device copy).
      const int64_t need = capacity_ * std::max<int64_t>(static_cast<int64_t>(metrics.size()), 1);
      if (!block_.defined() || block_.numel() < used_ + 1) {
        Tensor bigger = gan::empty({std::max(need, used_ + 1) * 2}, DType::Float64, t.device());
        if (used_ > 0) copy_(bigger.narrow(0, 0, used_), block_.narrow(0, 0, used_));
        block_ = bigger;
      }
      e.slot = used_++;
      copy_(block_.narrow(0, e.slot, 1), t.reshape({1}));  // converts to float64 on the device, exactly
    }
    row.entries.push_back(std::move(e));
  }
  rows_.push_back(std::move(row));
}

std::vector<MetricsBuffer::Row> MetricsBuffer::drain() {
  std::vector<double> device_values;
  if (used_ > 0) device_values = block_.narrow(0, 0, used_).to_vector<double>();  // the one wait
  std::vector<Row> out;
  out.reserve(rows_.size());
  for (const PendingRow& p : rows_) {
    Row r;
    r.step = p.step;
    for (const Entry& e : p.entries)
      r.values.emplace_back(e.name, e.slot >= 0 ? device_values[static_cast<size_t>(e.slot)] : e.host);
    out.push_back(std::move(r));
  }
  rows_.clear();
  used_ = 0;
  return out;
}

}  // namespace gan::apps
