// The bf16 math mode's saved activations (engine/saved_activation.h) on the zoo's DCGAN-64 (models/dcgan.h, batch
// norm fused with its activation): the graph a G + D forward leaves for its backward takes about half the bytes of
// the float32 one, and the parameters' gradients are the same bit for bit as with the activations kept in float32.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/saved_activation.h"
#include "engine/storage.h"
#include "kernels/math_mode.h"
#include "models/dcgan.h"

namespace gan::models {
namespace {

struct ForwardBackward {
  int64_t graph_bytes = 0;                // host bytes held after the forward, beyond what was there before it
  std::vector<std::vector<float>> grads;  // of every parameter of G and D
};

ForwardBackward dcgan_forward_backward(bool pack) {
  set_pack_saved_activations(pack);
  manual_seed(0);
  DcganConfig cfg;  // 64 px, nz 100, ngf = ndf = 64
  cfg.ngf = cfg.ndf = 16;  // narrower than the paper's 64, for the test's time; the layers are the same
  auto G = dcgan_generator(cfg);
  auto D = dcgan_discriminator(cfg);
  Generator gen(1);
  const Tensor z = randn({4, cfg.nz, 1, 1}, DType::Float32, &gen);
  ForwardBackward r;
  const int64_t before = host_memory_stats().allocated_bytes;
  Tensor loss = sum(D->forward(G->forward(z)));
  r.graph_bytes = host_memory_stats().allocated_bytes - before;
  loss.backward();
  for (auto* m : {G.get(), D.get()})
    for (const auto& [name, p] : m->named_parameters()) r.grads.push_back(p.grad().to_vector<float>());
  set_pack_saved_activations(true);
  return r;
}

TEST(DcganSavedBf16, HalvesTheGraphAndChangesNoGradient) {
  const kernels::ScopedFloatMath mode(kernels::FloatMath::Bf16);
  const ForwardBackward plain = dcgan_forward_backward(false), packed = dcgan_forward_backward(true);
  std::printf("[ saved    ] DCGAN-64 (ngf = ndf = 16) batch 4, G + D forward: the graph keeps %lld bytes with float32 "
              "activations, %lld with bf16 (%.2fx)\n",
              static_cast<long long>(plain.graph_bytes), static_cast<long long>(packed.graph_bytes),
              double(packed.graph_bytes) / double(plain.graph_bytes));
  EXPECT_LT(double(packed.graph_bytes), 0.6 * double(plain.graph_bytes));
  ASSERT_EQ(plain.grads.size(), packed.grads.size());
  for (size_t i = 0; i < plain.grads.size(); ++i)
    EXPECT_EQ(0, std::memcmp(plain.grads[i].data(), packed.grads[i].data(), plain.grads[i].size() * sizeof(float)))
        << "parameter " << i;
}

}  // namespace
}  // namespace gan::models
