// Writes the fuzz targets' seed corpus: small valid inputs of every kind each target reads, made with the
// project's own writers (save_safetensors, RunConfig::to_json) and libpng / libjpeg-turbo (tests/io/image_files.h),
// so the seeds follow the formats as the code evolves and nothing binary is committed.
//
//   fuzz_make_corpus DIR    writes DIR/safetensors, DIR/idx, DIR/image, DIR/config, DIR/cli
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apps/run_config.h"
#include "engine/safetensors.h"
#include "image_files.h"

namespace fs = std::filesystem;

namespace {

fs::path g_root;
int g_count = 0;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
  ++g_count;
}

std::string read_back(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string gzip(const std::string& bytes) {
  std::string out(compressBound(static_cast<uLong>(bytes.size())) + 32, '\0');
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::vector<uint8_t> ramp(size_t n, int step = 37) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * step + 11);
  return v;
}

void safetensors_seeds() {
  const fs::path tmp = fs::temp_directory_path() / ("gan-corpus-" + std::to_string(::getpid()) + ".safetensors");
  const auto save = [&](const std::string& name, const std::vector<std::pair<std::string, gan::Tensor>>& tensors,
                        const std::map<std::string, std::string>& meta) {
    gan::save_safetensors(tmp.string(), tensors, meta);
    seed("safetensors", name, read_back(tmp));
  };
  save("empty", {}, {});
  save("metadata_only", {}, {{"format", "gan-engine-checkpoint"}, {"step", "10"}});
  save("three_dtypes",
       {{"w", gan::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
        {"d", gan::from_vector<double>({0.5, -1, 2, 3}, {4})},
        {"i", gan::from_vector<int64_t>({7, -8}, {2})}},
       {{"note", "x"}});
  save("zero_size", {{"z", gan::empty({0, 3})}, {"s", gan::from_vector<float>({9}, {})}}, {});
  save("checkpoint",
       {{"G.net.0.weight", gan::from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f}, {2, 2})},
        {"rng", gan::from_vector<int64_t>({1, 2, 3, 4}, {4})}},
       {{"format", "gan-engine-checkpoint"}, {"model", "gan"}, {"step", "20"}, {"loader_epoch", "0"},
        {"loader_position", "64"}, {"elapsed_s", "1.250"}});
  fs::remove(tmp);
}

std::string idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

void idx_seeds() {
  seed("idx", "images.idx", idx({3, 4, 5}, ramp(60)));
  seed("idx", "images.gz", gzip(idx({3, 4, 5}, ramp(60))));
  seed("idx", "labels.gz", gzip(idx({7}, {0, 1, 2, 3, 4, 5, 6})));
  seed("idx", "four_dims.gz", gzip(idx({2, 1, 3, 3}, ramp(18))));
  seed("idx", "mnist_like.gz", gzip(idx({2, 28, 28}, ramp(2 * 784, 3))));
}

void image_seeds() {
  using gan::testing_images::jpeg_bytes;
  using gan::testing_images::png_bytes;
  using gan::testing_images::png_spec;
  seed("image", "gray.png", png_bytes(png_spec(4, 4, PNG_COLOR_TYPE_GRAY, 8, ramp(16))));
  seed("image", "rgb.png", png_bytes(png_spec(5, 3, PNG_COLOR_TYPE_RGB, 8, ramp(45))));
  seed("image", "rgba_interlaced.png", png_bytes(png_spec(6, 6, PNG_COLOR_TYPE_RGBA, 8, ramp(144), true)));
  seed("image", "gray_alpha.png", png_bytes(png_spec(3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ramp(12))));
  seed("image", "rgb16.png", png_bytes(png_spec(2, 2, PNG_COLOR_TYPE_RGB, 16, ramp(24))));
  seed("image", "gray1.png", png_bytes(png_spec(9, 3, PNG_COLOR_TYPE_GRAY, 1, ramp(6))));
  auto pal = png_spec(4, 2, PNG_COLOR_TYPE_PALETTE, 2, {0x1B, 0xE4});
  pal.palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  pal.trns = {255, 128, 255, 0};
  seed("image", "palette_trns.png", png_bytes(pal));
  auto key = png_spec(3, 3, PNG_COLOR_TYPE_GRAY, 8, ramp(9));
  key.trns = {11};
  seed("image", "gray_key.png", png_bytes(key));
  seed("image", "rgb.jpg", jpeg_bytes(8, 8, 3, ramp(192), 90, false));
  seed("image", "gray.jpg", jpeg_bytes(16, 16, 1, ramp(256, 5), 75, false));
  seed("image", "progressive.jpg", jpeg_bytes(17, 9, 3, ramp(17 * 9 * 3, 7), 80, true));
}

void config_seeds() {
  using gan::apps::RunConfig;
  const auto config = [](const RunConfig& c) {
    const nlohmann::json j = {{"gan_version", gan::apps::gan_version()},
                              {"command_line", "gan train --model " + c.model + " --data " + c.data},
                              {"created", "2025-01-01T00:00:00Z"},
                              {"parameters", {{"G", 1000}, {"D", 1000}}},
                              {"settings", c.to_json()},
                              {"resumes", {{{"step", 10}, {"command_line", "gan train --resume R"}}}}};
    return j.dump(2) + "\n";
  };
  RunConfig image;
  image.model = "dcgan";
  image.data = "fashion-mnist";
  image.model_config = {{"ngf", 8}, {"ndf", 8}, {"lr_g", 0.0002}};
  image.steps = 100;
  image.batch = 16;
  image.seed = 3;
  image.device = "cpu";
  image.spec.kind = gan::data::ExampleKind::Image;
  image.spec.channels = 1;
  image.spec.image_size = 28;
  image.spec.num_classes = 2;
  image.spec.class_names = {"a", "b"};
  seed("config", "dcgan.json", config(image));
  RunConfig points = image;
  points.model = "gan";
  points.data = "ring8";
  points.model_config = {{"hidden", 16}, {"layers", 1}};
  points.spec = gan::data::DataSpec{};
  points.spec.kind = gan::data::ExampleKind::Points;
  points.spec.channels = 0;
  points.spec.point_dim = 2;
  points.sample_n = 512;
  seed("config", "points.json", config(points));
  seed("config", "metrics.jsonl",
       "{\"step\":5,\"loss_d\":1.25,\"loss_g\":0.75,\"epoch\":0,\"time\":0.5,\"images_per_s\":100.0}\n"
       "{\"step\":10,\"loss_d\":1.5,\"loss_g\":0.5,\"epoch\":0,\"time\":1.0,\"images_per_s\":120.5}\n");
}

void cli_seeds() {
  const std::vector<std::vector<std::string>> commands = {
      {"train", "--model", "dcgan", "--data", "fashion-mnist", "--steps", "100", "--batch", "16", "--ngf", "8"},
      {"train", "--model", "wgan-gp", "--data", "ring8", "--epochs", "3", "--n_critic", "5", "--seed", "7"},
      {"train", "--model", "gan", "--data", "folder:imgs", "--image-size", "32", "--log-every", "5",
       "--sample-every", "10", "--checkpoint-every", "20", "--samples", "16", "--progress-every", "1.5"},
      {"train", "--resume", "run", "--steps", "200", "--device", "cpu"},
      {"train", "--model", "cgan", "--help"},
      {"sample", "--run", "run", "--out", "x.png", "--n", "16", "--seed", "2"},
      {"sample", "--run", "run", "--interpolate", "--rows", "2", "--steps", "5", "--out", "i.png"},
      {"sample", "--run", "run", "--reconstruct", "--checkpoint", "c.safetensors", "--out", "r.png"},
      {"eval", "--run", "run", "--n", "100", "--json", "e.json", "--classifier", "c.safetensors"},
      {"report", "--run", "run"},
      {"models"},
      {"datasets"},
      {"info"},
      {"--version"},
  };
  int i = 0;
  for (const auto& args : commands) {
    std::string bytes;
    for (const std::string& a : args) bytes += a + std::string(1, '\0');
    bytes.pop_back();
    seed("cli", "command_" + std::to_string(i++), bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus DIR\n";
    return 2;
  }
  g_root = argv[1];
  try {
    safetensors_seeds();
    idx_seeds();
    image_seeds();
    config_seeds();
    cli_seeds();
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_corpus: " << e.what() << "\n";
    return 1;
  }
  std::cout << "wrote " << g_count << " seeds under " << g_root.string() << "\n";
  return 0;
}
