// report.html (apps/report.h) in C++ and in a real browser. The page is rendered for a made-up run with the
// shapes real runs have (a loss spike, a resume, D(x)/D(G(z)) probabilities, the FD log, grids, a real grid),
// then Debian's chromium loads it headless, twice: --dump-dom of report.html#selftest (the page's own
// self-test drives the smoothing slider, the x-axis choice, the outlier switch, a hover, the step slider and the
// full-size view, and writes data-selftest="ok" or data-errors), and --screenshot. Any console message (script
// error, blocked request) fails the test. Without chromium the browser tests skip, saying so.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "apps/report.h"
#include "apps/run_dir.h"
#include "cli_test_util.h"
#include "engine/image/image.h"
#include "engine/image/plots.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::apps {
namespace {

namespace fs = std::filesystem;

using testing::read_file;

// A run directory as `gan train --eval-every 100` leaves it after 600 steps, resumed at 300.
class ReportRun : public testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    fs::create_directories(dir_ / "samples");
    const RunPaths p{dir_};
    const nlohmann::json config = {
        {"gan_version", "test"},
        {"command_line", "gan train --model dcgan --data fashion-mnist --steps 300 </script><b>"},
        {"created", "2024-01-01T00:00:00Z"},
        {"parameters", {{"G", 1000}, {"D", 2000}}},
        {"settings", {{"model", "dcgan"}, {"data", "fashion-mnist"}, {"steps", 600}, {"batch", 64},
                      {"model_config", {{"nz", 100}, {"lr_g", 0.0002}}}}},
        {"resumes", {{{"step", 300}, {"command_line", "gan train --resume run --steps 600"}}}}};
    std::ofstream(p.config()) << config.dump(2);
    std::ofstream metrics(p.metrics());
    for (int step = 10; step <= 600; step += 10) {
      const double t = step / 600.0;
      const double loss_d = step == 250 ? 9.5 : 0.6 + 0.1 * std::sin(step * 0.7);  // one spike, far out
      metrics << nlohmann::ordered_json{{"step", step}, {"loss_d", loss_d}, {"loss_g", 2.0 - t},
                                        {"d_real", 0.7 + 0.05 * std::cos(step * 0.3)}, {"d_fake", 0.3 - 0.1 * t},
                                        {"epoch", 0}, {"time", step * 0.5 + (step > 300 ? 30 : 0)},
                                        {"images_per_s", 1000 + 50 * std::sin(step * 0.1)}}
                     .dump()
              << "\n";
    }
    std::ofstream fd(p.fd_log());
    for (int step = 0; step <= 600; step += 100)
      fd << nlohmann::ordered_json{{"step", step}, {"fd", 400.0 / (1 + step / 100.0)}, {"n", 1000},
                                   {"seconds", 1.0}, {"time", step * 0.5}}
                .dump()
         << "\n";
    Generator gen(1, 0);
    for (int step = 0; step <= 600; step += 100) image::save_png(p.sample(step).string(), grid(gen));
    image::save_png(p.real_grid().string(), grid(gen));
  }
  static image::Image8 grid(Generator& gen) {
    const Tensor x = clamp(randn({64, 1, 28, 28}, DType::Float32, &gen), -1.0, 1.0);
    return image::make_grid(x, 8, 8);
  }
};

// The JSON the page's script draws from.
nlohmann::json page_data(const std::string& html) {
  const auto tag = html.find("id=\"report-data\"");
  if (tag == std::string::npos) return nullptr;
  const auto start = html.find('>', tag) + 1;
  return nlohmann::json::parse(html.substr(start, html.find("</script>", start) - start));
}

TEST_F(ReportRun, PageIsSelfContainedAndEmbedsEverything) {
  const RunPaths p{dir_};
  write_report(p, ReportStatus{"finished: 600 steps", false});
  const std::string html = read_file(p.report());
  // No URL but the SVG namespace's name (an identifier the script passes to createElementNS, never fetched).
  const auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = html.find(what, at)) != std::string::npos; ++at) ++n;
    return n;
  };
  EXPECT_EQ(count("http:") + count("https:"), 1u);
  EXPECT_EQ(count("http://www.w3.org/2000/svg"), 1u);
  EXPECT_EQ(count("=\"//"), 0u) << "no protocol-relative URL";
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  const nlohmann::json page = page_data(html);
  ASSERT_EQ(page["samples"].size(), 7u);
  for (const auto& s : page["samples"]) EXPECT_EQ(s["src"].get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  EXPECT_EQ(page["samples"][0]["w"], 242);  // 8 tiles of 28 px with 2 px lines
  // 7 grids + the real grid, all embedded.
  EXPECT_EQ(count("data:image/png;base64,"), 8u);
  EXPECT_NE(html.find("Every grid is embedded"), std::string::npos);
  // The command line holds "</script>": escaped in the table and in the JSON, so the page stays whole.
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  EXPECT_EQ(html.find("http-equiv=\"refresh\""), std::string::npos);
}

TEST_F(ReportRun, GridsBeyondTheBudgetAreLinkedLatestAndFirstKept) {
  const RunPaths p{dir_};
  const int64_t one = static_cast<int64_t>(fs::file_size(p.sample(0)));
  const int64_t real = static_cast<int64_t>(fs::file_size(p.real_grid()));
  // Room for the real grid and three grids: the latest, the first and one between.
  const std::string html = render_report(p, ReportStatus{"training: step 600 of 600", true}, real + 3 * one + one / 2);
  const nlohmann::json page = page_data(html);
  ASSERT_EQ(page["samples"].size(), 7u);
  std::vector<int64_t> embedded;
  for (const auto& s : page["samples"]) {
    if (s["embedded"].get<bool>()) embedded.push_back(s["step"].get<int64_t>());
    else EXPECT_EQ(s["src"], s["file"]) << "a linked grid points at its file";
  }
  EXPECT_EQ(embedded, (std::vector<int64_t>{0, 300, 600}));
  EXPECT_NE(html.find("4 of 7 grids are linked"), std::string::npos) << html.substr(0, 3000);
  EXPECT_NE(html.find("http-equiv=\"refresh\""), std::string::npos) << "a running report reloads itself";
  // Charts: losses, D(x)/D(G(z)) on [0, 1], FD, throughput, time.
  std::vector<std::string> ids;
  for (const auto& c : page["charts"]) ids.push_back(c["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"losses", "discriminator", "fd", "throughput", "time"}));
  EXPECT_EQ(page["charts"][1]["range"], nlohmann::json({0, 1}));
  EXPECT_EQ(page["resumes"], nlohmann::json({300}));
}

// ---- in the browser ----

// Debian's chromium, or "" (the tests skip).
std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    const std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

struct Browser {
  int code = -1;
  std::string out, log;
};

// Runs headless chromium with `args` on `url`; stdout and the log (stderr) come back. A fresh profile each time;
// no network, no GPU, no sandbox (root in containers).
Browser run_chromium(const std::string& exe, const std::string& args, const std::string& url, const fs::path& work) {
  const fs::path profile = work / "profile";
  fs::remove_all(profile);
  const std::string cmd = "timeout 90 " + exe +
                          " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync "
                          "--user-data-dir=" + profile.string() +
                          " --enable-logging=stderr --v=0 --hide-scrollbars --virtual-time-budget=5000 " + args +
                          " '" + url + "' >" + (work / "out.txt").string() + " 2>" + (work / "log.txt").string();
  Browser b;
  const int status = std::system(cmd.c_str());
  b.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  b.out = read_file(work / "out.txt");
  b.log = read_file(work / "log.txt");
  fs::remove_all(profile);
  return b;
}

// The console messages chromium logged ("INFO:CONSOLE(12)] ..."): the page must log none.
std::string console_lines(const std::string& log) {
  std::istringstream in(log);
  std::string line, out;
  while (std::getline(in, line))
    if (line.find(":CONSOLE") != std::string::npos) out += line + "\n";
  return out;
}

// The data-y="lo,hi" of the chart with this id, from the dumped DOM.
std::pair<double, double> y_range(const std::string& dom, const std::string& id) {
  const auto at = dom.find("id=\"chart-" + id + "\"");
  if (at == std::string::npos) return {NAN, NAN};
  std::smatch m;
  const std::string rest = dom.substr(at, 20000);
  if (!std::regex_search(rest, m, std::regex("data-y=\"([-0-9.e]+),([-0-9.e]+)\""))) return {NAN, NAN};
  return {std::stod(m[1]), std::stod(m[2])};
}

TEST_F(ReportRun, LoadsInChromiumWithoutErrorsAndEveryControlWorks) {
  const std::string exe = chromium();
  if (exe.empty()) GTEST_SKIP() << "chromium not found: the report's browser check needs Debian's chromium "
                                   "(scripts/setup.sh installs it)";
  const RunPaths p{dir_};
  // Linked grids too, so the page's Content-Security-Policy is checked against files beside it.
  const int64_t one = static_cast<int64_t>(fs::file_size(p.sample(0)));
  write_file_atomic(p.report(), render_report(p, ReportStatus{"finished: 600 steps", false},
                                              static_cast<int64_t>(fs::file_size(p.real_grid())) + 3 * one));
  const std::string url = "file://" + fs::absolute(p.report()).string();

  const Browser dom = run_chromium(exe, "--dump-dom", url + "#selftest", dir_);
  ASSERT_EQ(dom.code, 0) << dom.log;
  EXPECT_EQ(console_lines(dom.log), "") << "the page logged to the console";
  EXPECT_NE(dom.out.find("data-rendered=\"ok\""), std::string::npos) << dom.out.substr(0, 2000);
  EXPECT_EQ(dom.out.find("data-errors=\""), std::string::npos)
      << dom.out.substr(dom.out.find("data-errors=\""), 400);
  EXPECT_NE(dom.out.find("data-selftest=\"ok\""), std::string::npos) << "the self-test did not finish";
  EXPECT_NE(dom.out.find("data-charts=\"5\""), std::string::npos);
  // Honest axes: the spike (9.5) inside the loss chart, probabilities on exactly [0, 1].
  const auto [lo, hi] = y_range(dom.out, "losses");
  EXPECT_LE(lo, 0.5);
  EXPECT_GE(hi, 9.5);
  EXPECT_EQ(y_range(dom.out, "discriminator"), (std::pair<double, double>{0.0, 1.0}));
  EXPECT_EQ(y_range(dom.out, "throughput").first, 0.0) << "a rate's axis starts at zero";

  const fs::path shot = dir_ / "report.png";
  const Browser s = run_chromium(exe, "--window-size=1280,1600 --screenshot=" + shot.string(), url, dir_);
  ASSERT_EQ(s.code, 0) << s.log;
  EXPECT_EQ(console_lines(s.log), "");
  ASSERT_TRUE(fs::exists(shot)) << s.log;
  const image::Image8 png = image::load_image(shot.string());
  EXPECT_EQ(png.width, 1280);
  EXPECT_EQ(png.height, 1600);
  if (const char* keep = std::getenv("GAN_REPORT_SCREENSHOT"))  // to look at it
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
}

}  // namespace
}  // namespace gan::apps
