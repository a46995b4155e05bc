#include "apps/suggest.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>

namespace gan::apps {

namespace {

std::string normalized(const std::string& name) {
  std::string s = name.substr(std::min(name.find_first_not_of('-'), name.size()));
  for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Other tools' spellings of our options (normalized), each with what it is called here. Only the names the
// command actually has are offered.
const std::multimap<std::string, std::string>& aliases() {
  static const std::multimap<std::string, std::string> table = {
      {"batch-size", "batch"},  {"batchsize", "batch"},    {"bs", "batch"},
      {"lr", "lr-g"},           {"lr", "lr-d"},            {"learning-rate", "lr-g"},
      {"learning-rate", "lr-d"}, {"learning-rate", "lr"},  {"iterations", "steps"},
      {"iters", "steps"},       {"num-steps", "steps"},    {"max-steps", "steps"},
      {"n-steps", "steps"},     {"niter", "steps"},        {"num-epochs", "epochs"},
      {"n-epochs", "epochs"},   {"epoch", "epochs"},       {"output", "out"},
      {"outdir", "out"},        {"output-dir", "out"},     {"out-dir", "out"},
      {"logdir", "out"},        {"dataset", "data"},       {"dataroot", "data"},
      {"data-dir", "data"},     {"arch", "model"},         {"latent-dim", "nz"},
      {"z-dim", "nz"},          {"gpu", "device"},         {"cuda", "device"},
      {"resume-from", "resume"}, {"num-samples", "n"},     {"n-samples", "n"},
      {"num-samples", "sample-n"}, {"grid-size", "sample-n"}, {"run-dir", "run"},
  };
  return table;
}

size_t max_distance(size_t length) { return length >= 9 ? 3 : length >= 5 ? 2 : 1; }

}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment: Levenshtein plus the swap of two adjacent letters as one edit.
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::vector<std::string> closest_names(const std::string& typed, const std::vector<std::string>& known,
                                       size_t limit) {
  const std::string t = normalized(typed);
  if (t.empty()) return {};
  // (rank, distance, name): rank 0 alias, 1 extension, 2 typo.
  std::vector<std::tuple<int, size_t, std::string>> found;
  for (const auto& name : known) {
    const std::string k = normalized(name);
    if (k.empty() || k == t) continue;
    const auto [lo, hi] = aliases().equal_range(t);
    bool alias = false;
    for (auto it = lo; it != hi; ++it) alias = alias || it->second == k;
    if (alias) {
      found.emplace_back(0, 0, name);
    } else if (k.rfind(t + "-", 0) == 0 || t.rfind(k + "-", 0) == 0) {
      found.emplace_back(1, k.size() > t.size() ? k.size() - t.size() : t.size() - k.size(), name);
    } else {
      const size_t d = edit_distance(t, k);
      if (d <= max_distance(std::min(t.size(), k.size())) && d < std::max(t.size(), k.size()))
        found.emplace_back(2, d, name);
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& x, const auto& y) {
    return std::get<0>(x) != std::get<0>(y) ? std::get<0>(x) < std::get<0>(y) : std::get<1>(x) < std::get<1>(y);
  });
  // Typos only when nothing better matched (--batch-size: --batch, not also --data-size); one spelling per name
  // (--lr_g and --lr-g are one option).
  const int best = found.empty() ? 2 : std::get<0>(found.front());
  std::vector<std::string> out, seen;
  for (const auto& f : found) {
    if (out.size() >= limit || (best < 2 && std::get<0>(f) == 2)) continue;
    const std::string key = normalized(std::get<2>(f));
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    out.push_back(std::get<2>(f));
  }
  return out;
}

std::string did_you_mean(const std::string& typed, const std::vector<std::string>& known,
                         const std::map<std::string, std::string>& renamed) {
  std::vector<std::string> names;
  for (std::string name : closest_names(typed, known)) {
    const auto it = renamed.find(name);
    if (it != renamed.end()) name = it->second;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) return "";
  const bool option = typed.rfind("-", 0) == 0;
  std::string out = " (did you mean ";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += option ? names[i] : "'" + names[i] + "'";
  }
  return out + "?)";
}

}  // namespace gan::apps
