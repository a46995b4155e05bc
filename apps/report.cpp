#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

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

std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Fields of a metrics line that are bookkeeping, not losses to plot.
bool is_plotted(const std::string& key) {
  return key != "step" && key != "time" && key != "images_per_s" && key != "epoch";
}

// One chart: `key` against step, as a polyline. The y range covers the 1st..99th percentile (GAN losses spike;
// a single spike should not flatten the whole curve); points outside are clamped to the frame.
std::string loss_chart(const std::string& key, const std::vector<std::pair<double, double>>& points) {
  const double W = 640, H = 220, left = 56, right = 12, top = 24, bottom = 30;
  std::vector<double> ys;
  for (const auto& p : points) ys.push_back(p.second);
  std::sort(ys.begin(), ys.end());
  const auto pct = [&](double q) { return ys[static_cast<size_t>(q * static_cast<double>(ys.size() - 1))]; };
  double y0 = pct(0.01), y1 = pct(0.99);
  if (y1 - y0 < 1e-12) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const double x0 = points.front().first, x1 = std::max(points.back().first, x0 + 1);
  const auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  const auto py = [&](double y) {
    return top + (1.0 - (std::clamp(y, y0, y1) - y0) / (y1 - y0)) * (H - top - bottom);
  };

  // At most ~1000 vertices: average buckets of consecutive points (keeps the trend, drops the noise).
  const size_t stride = std::max<size_t>(1, points.size() / 1000);
  std::ostringstream poly;
  for (size_t i = 0; i < points.size(); i += stride) {
    double sx = 0, sy = 0;
    size_t n = 0;
    for (size_t j = i; j < std::min(points.size(), i + stride); ++j, ++n) {
      sx += points[j].first;
      sy += points[j].second;
    }
    poly << coord(px(sx / n)) << ',' << coord(py(sy / n)) << ' ';
  }

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 "
      << W << ' ' << H << "\" role=\"img\" aria-label=\"" << escape(key) << " against step\">\n";
  svg << "<text x=\"" << left << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" << escape(key) << "</text>\n";
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << W - left - right << "\" height=\""
      << H - top - bottom << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double yv = y0 + (y1 - y0) * i / 4.0, y = py(yv);
    svg << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << coord(y) << "\" y2=\"" << coord(y)
        << "\" stroke=\"#eee\"/><text x=\"" << left - 4 << "\" y=\"" << coord(y + 4)
        << "\" font-size=\"10\" text-anchor=\"end\">" << num(yv) << "</text>\n";
    const double xv = x0 + (x1 - x0) * i / 4.0;
    svg << "<text x=\"" << coord(px(xv)) << "\" y=\"" << H - bottom + 14 << "\" font-size=\"10\" "
        << "text-anchor=\"middle\">" << static_cast<long long>(std::llround(xv)) << "</text>\n";
  }
  svg << "<text x=\"" << W - right << "\" y=\"" << H - 2 << "\" font-size=\"10\" text-anchor=\"end\">step</text>\n";
  svg << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"" << poly.str() << "\"/>\n";
  svg << "</svg>\n";
  return svg.str();
}

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The figures of the latest `gan eval` (RUN/eval.json), when there is one. A file that cannot be read is named in
// the page rather than failing the report: the report must always be writable.
std::string eval_section(const RunPaths& paths) {
  std::error_code ec;
  if (!fs::exists(paths.eval(), ec)) return "";
  std::ostringstream h;
  h << "<h2>Sample quality (gan eval)</h2>\n";
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
    h << "<table>\n";
    for (const auto& [key, label] : rows)
      if (e.contains(key) && e[key].is_number())
        h << "<tr><th>" << label << "</th><td>"
          << (e[key].is_number_integer() ? e[key].dump() : num(e[key].get<double>())) << "</td></tr>\n";
    h << "</table>\n";
  } catch (const std::exception& ex) {
    h << "<p>Cannot read " << escape(paths.eval().string()) << ": " << escape(ex.what()) << "</p>\n";
  }
  return h.str();
}

}  // namespace

std::string render_report(const RunPaths& paths, const ReportStatus& status) {
  nlohmann::json config = nlohmann::json::object();
  if (fs::exists(paths.config())) config = read_json_file(paths.config());
  const nlohmann::json settings = config.value("settings", nlohmann::json::object());
  const std::vector<nlohmann::ordered_json> metrics = read_metrics(paths.metrics());

  // Loss series in first-seen order.
  std::vector<std::string> keys;
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const auto& line : metrics) {
    if (!line.contains("step")) continue;
    const double step = line["step"].get<double>();
    for (const auto& [key, value] : line.items()) {
      if (!is_plotted(key) || !value.is_number()) continue;
      if (!series.count(key)) keys.push_back(key);
      series[key].emplace_back(step, value.get<double>());
    }
  }

  std::vector<std::pair<int64_t, std::string>> samples;  // (step, relative path)
  std::error_code ec;
  if (fs::is_directory(paths.samples_dir(), ec))
    for (const auto& entry : fs::directory_iterator(paths.samples_dir(), ec)) {
      const int64_t step = RunPaths::step_of(entry.path());
      if (step >= 0 && entry.path().extension() == ".png")
        samples.emplace_back(step, "samples/" + entry.path().filename().string());
    }
  std::sort(samples.begin(), samples.end());

  const std::string title = settings.value("model", std::string("?")) + " on " +
                            settings.value("data", std::string("?")) + " (gan train)";
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  if (status.running) h << "<meta http-equiv=\"refresh\" content=\"30\">\n";
  h << "<title>" << escape(title) << "</title>\n"
    << "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;"
       "font-size:13px}img{image-rendering:pixelated;border:1px solid #ccc}"
       "figure{display:inline-block;margin:4px;text-align:center}figcaption{font-size:12px}</style>\n"
    << "</head>\n<body>\n<h1>" << escape(title) << "</h1>\n<p><b>Status:</b> " << escape(status.text);
  if (!metrics.empty()) {
    const auto& last = metrics.back();
    h << " &middot; last logged step " << last.value("step", int64_t{0});
    if (last.contains("time")) h << " after " << num(last["time"].get<double>()) << " s";
  }
  h << "</p>\n";

  h << "<h2>Losses</h2>\n";
  if (keys.empty()) h << "<p>No metrics logged yet.</p>\n";
  for (const auto& key : keys) h << loss_chart(key, series[key]);

  h << eval_section(paths);

  h << "<h2>Samples</h2>\n";
  if (samples.empty()) {
    h << "<p>No samples yet.</p>\n";
  } else {
    const auto& [last_step, last_path] = samples.back();
    h << "<figure><img src=\"" << escape(last_path) << "\" alt=\"samples at step " << last_step
      << "\" style=\"max-width:512px;min-width:256px\"><figcaption>step " << last_step
      << " (latest)</figcaption></figure>\n";
    if (samples.size() > 1) {
      h << "<h3>Earlier</h3>\n";
      // At most 12 earlier grids, evenly spread over the run.
      const size_t earlier = samples.size() - 1, shown = std::min<size_t>(earlier, 12);
      for (size_t i = 0; i < shown; ++i) {
        const auto& [step, path] = samples[i * earlier / shown];
        h << "<figure><img src=\"" << escape(path) << "\" alt=\"samples at step " << step
          << "\" width=\"160\"><figcaption>step " << step << "</figcaption></figure>\n";
      }
    }
  }

  h << "<h2>Settings</h2>\n<table>\n";
  for (const auto& [key, value] : settings.items()) {
    if (key == "model_config" || key == "data_spec") continue;
    h << "<tr><th>" << escape(key) << "</th><td>" << escape(value_text(value)) << "</td></tr>\n";
  }
  const nlohmann::json model_config = settings.value("model_config", nlohmann::json::object());
  for (const auto& [key, value] : model_config.items())
    h << "<tr><th>--" << escape(key) << "</th><td>" << escape(value_text(value)) << "</td></tr>\n";
  for (const char* key : {"parameters", "gan_version", "command_line", "created"})
    if (config.contains(key))
      h << "<tr><th>" << key << "</th><td>" << escape(value_text(config[key])) << "</td></tr>\n";
  if (config.contains("resumes"))
    for (const auto& r : config["resumes"])
      h << "<tr><th>resumed at step " << r.value("step", int64_t{0}) << "</th><td>"
        << escape(r.value("command_line", std::string())) << "</td></tr>\n";
  h << "</table>\n</body>\n</html>\n";
  return h.str();
}

void write_report(const RunPaths& paths, const ReportStatus& status) {
  write_file_atomic(paths.report(), render_report(paths, status));
}

}  // namespace gan::apps
