// VAE (Kingma & Welling 2014); the implementation is shared with ae in models/autoencoder.cpp.
#include "models/autoencoder.h"
#include "models/common.h"

namespace gan::models {

ModelEntry vae_entry() {
  ModelEntry e;
  e.name = "vae";
  e.description = "VAE (Kingma 2014): Gaussian encoder, reparameterization, KL to N(0, I); samples and reconstructions";
  e.flags = autoencoder_flags(/*variational=*/true);
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("vae", s); };
  e.create = [](const ModelContext& ctx) { return make_autoencoder(ctx, /*variational=*/true); };
  return e;
}

}  // namespace gan::models
