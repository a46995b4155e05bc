#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/report_assets.h"

namespace gan::apps {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string mebibytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=', '='};
  }
  return out;
}

// Width and height from a PNG's IHDR chunk; false when the bytes are not a PNG.
bool png_size(const std::string& b, int64_t& w, int64_t& h) {
  if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || b.compare(12, 4, "IHDR") != 0) return false;
  const auto be32 = [&](size_t at) {
    return (int64_t{static_cast<uint8_t>(b[at])} << 24) | (static_cast<uint8_t>(b[at + 1]) << 16) |
           (static_cast<uint8_t>(b[at + 2]) << 8) | static_cast<uint8_t>(b[at + 3]);
  };
  w = be32(16);
  h = be32(20);
  return w > 0 && h > 0;
}

// An image for the page: embedded as a data: URI when `embed`, else linked by its path relative to the run.
nlohmann::json image_entry(const std::string& bytes, const std::string& rel, bool embed) {
  int64_t w = 0, h = 0;
  png_size(bytes, w, h);
  return {{"src", embed ? "data:image/png;base64," + base64(bytes) : rel},
          {"file", rel},
          {"w", w},
          {"h", h},
          {"embedded", embed}};
}

// Which of n grids (of these byte sizes) to embed within `budget`: the latest, then the first, then the largest
// evenly spread set that fits.
std::vector<bool> choose_embedded(const std::vector<size_t>& sizes, int64_t budget) {
  const size_t n = sizes.size();
  std::vector<bool> chosen(n, false);
  if (n == 0) return chosen;
  int64_t used = 0;
  const auto take = [&](size_t i) {
    if (chosen[i] || used + static_cast<int64_t>(sizes[i]) > budget) return;
    chosen[i] = true;
    used += static_cast<int64_t>(sizes[i]);
  };
  take(n - 1);
  take(0);
  // k evenly spread picks for k = n, n-1, ...: the first k whose extra bytes fit.
  for (size_t k = n; k > 2; --k) {
    int64_t extra = 0;
    std::vector<size_t> picks;
    for (size_t j = 0; j < k; ++j) {
      const size_t i = j * (n - 1) / (k - 1);
      if (!chosen[i] && (picks.empty() || picks.back() != i)) {
        picks.push_back(i);
        extra += static_cast<int64_t>(sizes[i]);
      }
    }
    if (used + extra <= budget) {
      for (size_t i : picks) take(i);
      break;
    }
  }
  return chosen;
}

// What a metrics key is called on the page.
std::string series_label(const std::string& key, const std::string& model) {
  const bool critic = model == "wgan" || model == "wgan-gp";
  static const std::map<std::string, std::string> labels = {
      {"loss_g", "G loss"},       {"loss_info", "info (Q) loss"},  {"d_real", "D(x), real"},
      {"d_fake", "D(G(z)), fake"}, {"wdist", "Wasserstein estimate"}, {"gp", "gradient penalty"},
      {"recon", "reconstruction"}, {"kl", "KL divergence"},         {"loss", "loss"},
      {"images_per_s", "images/s"}, {"time", "training time"},      {"fd", "Frechet distance"}};
  if (key == "loss_d") return critic ? "critic loss" : "D loss";
  const auto it = labels.find(key);
  return it == labels.end() ? key : it->second;
}

// Column-wise numbers of a JSON-lines file: "step" and "time" as x columns, every other numeric field as a value
// column (null where a line lacks it), fields in first-seen order.
struct Table {
  std::vector<std::string> keys;
  nlohmann::json json = {{"step", nlohmann::json::array()}, {"time", nlohmann::json::array()},
                         {"cols", nlohmann::json::object()}};
  std::map<std::string, std::vector<double>> values;  // finite values only, for range checks
  size_t rows = 0;
};

nlohmann::json number(const nlohmann::ordered_json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  return v.get<double>();
}

Table make_table(const std::vector<nlohmann::ordered_json>& lines, const std::set<std::string>& skip) {
  Table t;
  for (const auto& line : lines)
    for (const auto& [key, value] : line.items())
      if (value.is_number() && !skip.count(key) && key != "step" &&
          std::find(t.keys.begin(), t.keys.end(), key) == t.keys.end())
        t.keys.push_back(key);
  for (const auto& key : t.keys) t.json["cols"][key] = nlohmann::json::array();
  for (const auto& line : lines) {
    if (!line.contains("step") || !line["step"].is_number()) continue;
    t.json["step"].push_back(number(line["step"]));
    const bool timed = line.contains("time") && line["time"].is_number();
    t.json["time"].push_back(timed ? number(line["time"]) : nlohmann::json());
    for (const auto& key : t.keys) {
      const bool has = line.contains(key) && line[key].is_number();
      t.json["cols"][key].push_back(has ? number(line[key]) : nlohmann::json());
      if (has) t.values[key].push_back(line[key].get<double>());
    }
    ++t.rows;
  }
  return t;
}

// The charts, in page order. The JavaScript draws whatever this lists.
nlohmann::json chart_specs(const Table& metrics, const Table& fd, const std::string& model, int64_t fd_n) {
  nlohmann::json charts = nlohmann::json::array();
  const auto add = [&](const std::string& id, const std::string& title, const std::string& note,
                       const std::string& table, const std::vector<std::string>& keys) {
    nlohmann::json labels = nlohmann::json::array();
    for (const auto& k : keys) labels.push_back(series_label(k, model));
    nlohmann::json c = {{"id", id}, {"title", title}, {"note", note}, {"table", table}, {"keys", keys},
                        {"labels", labels}};
    charts.push_back(c);
    return charts.size() - 1;
  };
  std::vector<std::string> losses, probs, others;
  for (const auto& k : metrics.keys) {
    if (k == "time" || k == "images_per_s" || k == "epoch") continue;
    if (k == "loss" || k.rfind("loss_", 0) == 0) losses.push_back(k);
    else if (k == "d_real" || k == "d_fake") probs.push_back(k);
    else others.push_back(k);
  }
  if (!losses.empty()) add("losses", "Losses", "", "metrics", losses);
  if (!probs.empty()) {
    // Probabilities (the BCE models' sigmoid outputs) live on [0, 1]; LSGAN's are raw least-squares scores.
    bool in_unit = model != "lsgan";
    for (const auto& k : probs)
      if (const auto it = metrics.values.find(k); it != metrics.values.end())
        for (double v : it->second) in_unit = in_unit && v >= 0 && v <= 1;
    const size_t i = add("discriminator", in_unit ? "D(x) and D(G(z))" : "D scores: D(x) and D(G(z))",
                         in_unit ? "mean probability D gives real and generated images" : "mean raw scores",
                         "metrics", probs);
    if (in_unit) charts[i]["range"] = {0, 1};
  }
  for (const auto& k : others) add(k, series_label(k, model), "", "metrics", {k});
  if (fd.rows > 0) {
    const size_t i = add("fd", "Frechet distance", "lower is better; " + std::to_string(fd_n) +
                         " samples per point, so above gan eval's 10000-sample figure", "fd", {"fd"});
    charts[i]["no_smoothing"] = true;  // few points, each measured on the same noise: nothing to average away
  }
  if (metrics.values.count("images_per_s")) {
    const size_t i = add("throughput", "Throughput", "images/s between log lines", "metrics", {"images_per_s"});
    charts[i]["from_zero"] = true;
  }
  if (metrics.values.count("time")) {
    const size_t i = add("time", "Training time", "summed over sessions", "metrics", {"time"});
    charts[i]["y_kind"] = "duration";
    charts[i]["x_only_step"] = true;
    charts[i]["no_smoothing"] = true;
    charts[i]["labels"] = {"training time"};
  }
  return charts;
}

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The figures of the latest `gan eval` (RUN/eval.json), when there is one. A file that cannot be read is named in
// the page rather than failing the report: the report must always be writable.
std::string eval_section(const RunPaths& paths) {
  std::error_code ec;
  if (!fs::exists(paths.eval(), ec)) return "";
  std::ostringstream h;
  h << "<h2>Sample quality (gan eval)</h2>\n<div class=\"card\">\n";
  try {
    const nlohmann::json e = read_json_file(paths.eval()).at("eval");
    const std::pair<const char*, const char*> rows[] = {
        {"fd", "Frechet distance (classifier features; lower is better)"},
        {"precision", "precision (k-NN manifolds)"},
        {"recall", "recall (k-NN manifolds)"},
        {"class_accuracy", "class accuracy of conditioned samples (cgan)"},
        {"code_class_nmi", "NMI of categorical code and predicted class (infogan)"},
        {"n", "generated samples"},
        {"step", "checkpoint step"},
        {"classifier_test_accuracy", "classifier test accuracy"}};
    h << "<table class=\"kv\">\n";
    for (const auto& [key, label] : rows)
      if (e.contains(key) && e[key].is_number())
        h << "<tr><th>" << label << "</th><td>"
          << (e[key].is_number_integer() ? e[key].dump() : num(e[key].get<double>())) << "</td></tr>\n";
    h << "</table>\n";
  } catch (const std::exception& ex) {
    h << "<p>Cannot read " << escape(paths.eval().string()) << ": " << escape(ex.what()) << "</p>\n";
  }
  h << "</div>\n";
  return h.str();
}

// JSON inside <script>: "</" would end the element early.
std::string script_safe(std::string json) {
  for (size_t at = 0; (at = json.find("</", at)) != std::string::npos; at += 3) json.replace(at, 2, "<\\/");
  return json;
}

std::string read_bytes(const fs::path& p) {
  try {
    return read_text_file(p);
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace

std::string render_report(const RunPaths& paths, const ReportStatus& status, int64_t embed_budget) {
  nlohmann::json config = nlohmann::json::object();
  std::string config_problem;
  if (fs::exists(paths.config())) {
    try {
      config = read_json_file(paths.config());
    } catch (const std::exception& e) {
      config_problem = e.what();
    }
  }
  const nlohmann::json settings = config.value("settings", nlohmann::json::object());
  const std::string model = settings.value("model", std::string("?"));
  const int64_t total = settings.value("steps", int64_t{0});
  const std::vector<nlohmann::ordered_json> metrics = read_metrics(paths.metrics());
  const std::vector<nlohmann::ordered_json> fd_lines = read_metrics(paths.fd_log());
  const Table mt = make_table(metrics, {"epoch"});
  const Table ft = make_table(fd_lines, {"n", "seconds"});
  const int64_t fd_n = fd_lines.empty() ? 0 : fd_lines.back().value("n", int64_t{0});

  // Sample grids, oldest first, and which to embed.
  std::vector<std::pair<int64_t, fs::path>> files;
  std::error_code ec;
  if (fs::is_directory(paths.samples_dir(), ec))
    for (const auto& entry : fs::directory_iterator(paths.samples_dir(), ec)) {
      const int64_t step = RunPaths::step_of(entry.path());
      if (step >= 0 && entry.path().extension() == ".png") files.emplace_back(step, entry.path());
    }
  std::sort(files.begin(), files.end());
  const std::string real_bytes = fs::exists(paths.real_grid(), ec) ? read_bytes(paths.real_grid()) : "";
  std::vector<size_t> sizes;
  for (const auto& f : files) sizes.push_back(static_cast<size_t>(fs::file_size(f.second, ec)));
  const int64_t grid_budget = embed_budget - static_cast<int64_t>(real_bytes.size());
  const std::vector<bool> embed = choose_embedded(sizes, grid_budget);
  nlohmann::json samples = nlohmann::json::array();
  size_t linked = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string rel = "samples/" + files[i].second.filename().string();
    const std::string bytes = read_bytes(files[i].second);
    nlohmann::json e = image_entry(bytes, rel, embed[i] && !bytes.empty());
    e["step"] = files[i].first;
    linked += e["embedded"].get<bool>() ? 0 : 1;
    samples.push_back(e);
  }

  nlohmann::json resumes = nlohmann::json::array();
  if (config.contains("resumes") && config["resumes"].is_array())
    for (const auto& r : config["resumes"])
      if (r.contains("step") && r["step"].is_number_integer() && r["step"].get<int64_t>() > 0)
        resumes.push_back(r["step"]);

  nlohmann::json page = {{"tables", {{"metrics", mt.json}, {"fd", ft.json}}},
                         {"charts", chart_specs(mt, ft, model, fd_n)},
                         {"samples", samples},
                         {"resumes", resumes},
                         {"total_steps", total}};
  page["real"] = real_bytes.empty() ? nlohmann::json() : image_entry(real_bytes, "real.png", true);

  // ---- the page ----
  const std::string title = model + " on " + settings.value("data", std::string("?"));
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    // Nothing may come from the network: scripts and styles are inline, images embedded or beside the file.
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
       "style-src 'unsafe-inline'; img-src data: 'self'\">\n";
  if (status.running) h << "<meta http-equiv=\"refresh\" content=\"30\">\n";
  h << "<title>" << escape(title) << " (gan train)</title>\n<style>\n" << kReportStyle
    << "</style>\n</head>\n<body>\n<main>\n";

  const std::string badge = status.running ? "running"
                            : status.text.rfind("finished", 0) == 0 ? "finished"
                                                                    : "stopped";
  h << "<h1>" << escape(title) << "<span class=\"badge " << badge << "\">" << badge << "</span></h1>\n";
  h << "<div class=\"summary\">";
  if (badge == "stopped") h << "<span><b>" << escape(status.text) << "</b></span>";
  if (!metrics.empty()) {
    const auto& last = metrics.back();
    const int64_t step = last.value("step", int64_t{0});
    h << "<span>step <b>" << step << "</b>" << (total > 0 ? " of " + std::to_string(total) : "") << "</span>";
    if (last.contains("time") && last["time"].is_number()) {
      const double t = last["time"].get<double>();
      h << "<span>training time <b>" << Progress::format_duration(t) << "</b></span>";
      if (status.running && step > 0 && total > step)
        h << "<span>ETA <b>" << Progress::format_duration(t / static_cast<double>(step) *
                                                          static_cast<double>(total - step))
          << "</b></span>";
    }
    // Median throughput of the last (up to) 20 log lines: robust to the slow line a sample grid makes.
    std::vector<double> rates;
    for (size_t i = metrics.size() > 20 ? metrics.size() - 20 : 0; i < metrics.size(); ++i)
      if (metrics[i].contains("images_per_s") && metrics[i]["images_per_s"].is_number())
        rates.push_back(metrics[i]["images_per_s"].get<double>());
    if (!rates.empty()) {
      std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
      h << "<span><b>" << num(rates[rates.size() / 2]) << "</b> images/s</span>";
    }
  }
  if (ft.values.count("fd"))
    h << "<span>latest FD <b>" << num(ft.values.at("fd").back()) << "</b></span>";
  if (settings.contains("device")) h << "<span>" << escape(value_text(settings["device"])) << "</span>";
  h << "</div>\n";
  if (!config_problem.empty()) h << "<p>Cannot read config.json: " << escape(config_problem) << "</p>\n";
  h << "<noscript><p>The charts and the sample viewer are drawn by JavaScript, which is off; the files are in "
       "this run directory (metrics.jsonl, samples/).</p></noscript>\n";

  h << "<h2>Samples</h2>\n<div class=\"card\" id=\"samples\"></div>\n";
  if (linked > 0)
    h << "<p class=\"footnote\">" << linked << " of " << files.size()
      << " grids are linked rather than embedded (to keep this file's images under " << mebibytes(embed_budget)
      << "); they show while report.html stays in its run directory.</p>\n";
  else if (!files.empty())
    h << "<p class=\"footnote\">Every grid is embedded: this file can be moved or sent on its own.</p>\n";

  h << "<h2>Training curves</h2>\n"
    << "<div class=\"controls\">"
       "<label>smoothing <input type=\"range\" id=\"smoothing\" min=\"0\" max=\"0.99\" step=\"0.01\" value=\"0.6\">"
       "<span id=\"smoothing-value\">0.60</span></label>"
       "<label>x axis <select id=\"x-axis\"><option value=\"step\">step</option>"
       "<option value=\"time\">training time</option></select></label>"
       "<label><input type=\"checkbox\" id=\"robust\"> ignore outliers in the scale</label>"
       "</div>\n<div class=\"charts\" id=\"charts\"></div>\n";

  h << eval_section(paths);

  // Settings: the run's on the left, the model's flags on the right.
  h << "<details open><summary>Settings</summary>\n<div class=\"settings\">\n"
    << "<div class=\"card\"><table class=\"kv\">\n";
  const auto row = [&](const std::string& key, const std::string& value) {
    h << "<tr><th>" << escape(key) << "</th><td>" << escape(value) << "</td></tr>\n";
  };
  for (const char* key : {"command_line", "created", "gan_version"})
    if (config.contains(key)) row(key, value_text(config[key]));
  if (config.contains("parameters") && config["parameters"].is_object()) {
    std::string params;
    for (const auto& [net, count] : config["parameters"].items())
      params += (params.empty() ? "" : ", ") + net + " " + value_text(count);
    row("parameters", params);
  }
  if (config.contains("resumes"))
    for (const auto& r : config["resumes"])
      row("resumed at step " + std::to_string(r.value("step", int64_t{0})), r.value("command_line", std::string()));
  // The measurement's settings only where it ran (eval_every 0: no Frechet distance was measured).
  const bool evaluated = settings.value("eval_every", int64_t{0}) > 0;
  for (const auto& [key, value] : settings.items())
    if (key != "model_config" && key != "data_spec" && (evaluated || (key != "eval_n" && key != "classifier")))
      row(key, value.is_string() && value.get<std::string>().empty() ? "(default)" : value_text(value));
  h << "</table></div>\n<div class=\"card\"><table class=\"kv\">\n";
  const nlohmann::json model_config = settings.value("model_config", nlohmann::json::object());
  for (const auto& [key, value] : model_config.items()) row("--" + dashed_flag(key), value_text(value));
  h << "</table></div>\n</div>\n</details>\n</main>\n";

  h << "<script id=\"report-data\" type=\"application/json\">" << script_safe(page.dump()) << "</script>\n"
    << "<script>\n" << kReportScript << "</script>\n</body>\n</html>\n";
  return h.str();
}

void write_report(const RunPaths& paths, const ReportStatus& status) {
  write_file_atomic(paths.report(), render_report(paths, status));
}

}  // namespace gan::apps
