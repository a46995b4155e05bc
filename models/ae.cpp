// Plain autoencoder: the VAE's networks with a deterministic code and only the reconstruction loss
// (models/autoencoder.cpp). A baseline: its reconstructions are sharp, its samples from N(0, I) are not images.
#include "models/autoencoder.h"
#include "models/common.h"

namespace gan::models {

ModelEntry ae_entry() {
  ModelEntry e;
  e.name = "ae";
  e.description = "autoencoder: the VAE's networks, deterministic code, reconstruction loss only (a baseline)";
  e.flags = autoencoder_flags(/*variational=*/false);
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("ae", s); };
  e.create = [](const ModelContext& ctx) { return make_autoencoder(ctx, /*variational=*/false); };
  return e;
}

}  // namespace gan::models
