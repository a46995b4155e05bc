// The autoencoders of the zoo, sharing one implementation: vae (Kingma & Welling 2014: Gaussian encoder,
// reparameterization, KL to N(0, I)) and ae (the same networks, deterministic code, reconstruction loss only).
#pragma once

#include <memory>
#include <vector>

#include "models/model.h"

namespace gan::models {

std::vector<FlagSpec> autoencoder_flags(bool variational);
std::unique_ptr<GanModel> make_autoencoder(const ModelContext& ctx, bool variational);

}  // namespace gan::models
