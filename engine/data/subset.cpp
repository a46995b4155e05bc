// first_examples (engine/data/dataset.h): a view of a data set's first examples.
#include <stdexcept>
#include <string>

#include "engine/data/dataset.h"

namespace gan::data {

namespace {

class FirstExamples : public Dataset {
 public:
  FirstExamples(std::unique_ptr<Dataset> base, int64_t n) : base_(std::move(base)), n_(n) {}
  int64_t size() const override { return n_; }
  const DataSpec& spec() const override { return base_->spec(); }
  int64_t get(int64_t i, float* out) const override {
    if (i < 0 || i >= n_)
      throw std::out_of_range("example " + std::to_string(i) + " of a subset of " + std::to_string(n_));
    return base_->get(i, out);
  }
  std::string describe() const override {
    return "the first " + std::to_string(n_) + " examples of " + base_->describe();
  }
  Tensor reference_points() const override { return base_->reference_points(); }

 private:
  std::unique_ptr<Dataset> base_;
  int64_t n_;
};

}  // namespace

std::unique_ptr<Dataset> first_examples(std::unique_ptr<Dataset> dataset, int64_t limit) {
  if (limit <= 0) throw std::invalid_argument("data limit must be positive, got " + std::to_string(limit));
  if (limit >= dataset->size()) return dataset;
  return std::make_unique<FirstExamples>(std::move(dataset), limit);
}

}  // namespace gan::data
