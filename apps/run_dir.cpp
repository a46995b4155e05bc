#include "apps/run_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <sstream>

#include "engine/checked.h"
#include "engine/regular_file.h"

namespace gan::apps {

namespace {
constexpr uint64_t kMaxTextBytes = 64u << 20;  // config.json and friends: far above anything gan writes
constexpr int kMaxJsonDepth = 64;
}  // namespace

std::string RunPaths::step_tag(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(step));
  return buf;
}

int64_t RunPaths::step_of(const fs::path& file) {
  const std::string stem = file.stem().string();
  if (stem.rfind("step_", 0) != 0) return -1;
  try {
    return parse_int(stem.substr(5), "step", 0, kInt64Max);
  } catch (const RangeError&) {
    return -1;  // "step_abc", or digits beyond int64: not a file of ours
  }
}

namespace {

[[noreturn]] void io_fail(const std::string& what, const fs::path& path, int err) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(err));
}

void write_all(int fd, const std::string& data, const fs::path& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, const std::string& contents) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail("cannot create", tmp, errno);
  try {
    write_all(fd, contents, tmp);
    if (::fsync(fd) != 0) io_fail("cannot fsync", tmp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("cannot rename " + tmp.string() + " to", path, err);
  }
}

std::string read_text_file(const fs::path& path) {
  return read_regular_file(path.string(), "cannot read", kMaxTextBytes);
}

nlohmann::json read_json_file(const fs::path& path) {
  const std::string text = read_text_file(path);
  // Nesting is limited: a hand-edited or hostile file with thousands of nested brackets would otherwise make
  // every later dump() or comparison recurse that deep.
  bool too_deep = false;
  const nlohmann::json::parser_callback_t limit_depth = [&](int depth, nlohmann::json::parse_event_t,
                                                            nlohmann::json&) {
    if (depth > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, limit_depth);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + " is not valid JSON: " + e.what());
  }
  if (too_deep)
    throw std::runtime_error(path.string() + " nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  return j;
}

namespace {

// One metrics line as the report and resume rely on it: an object with a non-negative integer "step", every
// other value a number (a value of another type, e.g. a null left by a bad edit, is dropped). Otherwise null.
nlohmann::ordered_json parse_metrics_line(const std::string& line) {
  if (line.empty() || line.size() > 65536) return nullptr;
  bool too_deep = false;
  const nlohmann::ordered_json::parser_callback_t flat = [&](int depth, nlohmann::json::parse_event_t,
                                                             nlohmann::ordered_json&) {
    if (depth > 2) too_deep = true;
    return !too_deep;
  };
  auto j = nlohmann::ordered_json::parse(line, flat, /*allow_exceptions=*/false);
  if (too_deep || !j.is_object()) return nullptr;
  const auto step = j.find("step");
  if (step == j.end() || !step->is_number_unsigned()) return nullptr;
  for (auto it = j.begin(); it != j.end();) it = it->is_number() ? std::next(it) : j.erase(it);
  return j;
}

// The file's lines, or none when it does not exist; a FIFO or other non-regular file is an error.
std::vector<std::string> metrics_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::error_code ec;
  if (!fs::exists(path, ec)) return lines;
  try {
    ::close(open_regular_file(path.string(), "cannot read metrics"));
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string(e.what()) + "; move it away and try again");
  }
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(std::move(line));
  return lines;
}

}  // namespace

std::vector<nlohmann::ordered_json> read_metrics(const fs::path& path) {
  std::vector<nlohmann::ordered_json> lines;
  for (const std::string& line : metrics_lines(path)) {
    auto j = parse_metrics_line(line);
    if (j.is_object()) lines.push_back(std::move(j));
  }
  return lines;
}

void truncate_metrics(const fs::path& path, int64_t step, int64_t log_every) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::string kept;
  for (const std::string& line : metrics_lines(path)) {  // kept lines stay byte for byte as written
    const auto j = parse_metrics_line(line);
    if (!j.is_object()) continue;
    const int64_t s = j["step"].get<int64_t>();
    if (s < step || (s == step && log_every > 0 && s % log_every == 0)) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

MetricsWriter::MetricsWriter(const fs::path& path) : path_(path) {
  try {
    check_regular_or_missing(path.string(), "cannot append to metrics");
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string(e.what()) + "; move it away and try again");
  }
  out_.open(path, std::ios::app);
  if (!out_) io_fail("cannot open", path, errno);
}

void MetricsWriter::write(const nlohmann::ordered_json& line) {
  errno = 0;
  out_ << line.dump() << '\n';
  out_.flush();
  if (!out_) io_fail("cannot write", path_, errno ? errno : ENOSPC);  // a stream keeps no errno: the likeliest
}

void make_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw UsageError("cannot create directory " + dir.string() + ": " + ec.message() +
                     "; pick a writable place with --out");
  const fs::path probe = dir / (".write-test." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw UsageError("cannot write in " + dir.string() + ": " + std::strerror(errno) +
                     "; pick a writable place with --out");
  ::close(fd);
  ::unlink(probe.c_str());
}

namespace {

// The process id in a temporary's name: "X.tmp.PID" (atomic writes) or ".write-test.PID"; -1 for other names.
pid_t temporary_owner(const std::string& name) {
  size_t at = name.rfind(".tmp.");
  if (at != std::string::npos) at += 5;
  else if (name.rfind(".write-test.", 0) == 0) at = 12;
  else return -1;
  pid_t pid = 0;
  if (at >= name.size() || name.size() - at > 9) return -1;
  for (size_t i = at; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::vector<fs::path> remove_stale_temporaries(const RunPaths& paths) {
  std::vector<fs::path> removed;
  for (const fs::path& dir : {paths.root, paths.checkpoints_dir(), paths.samples_dir()}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const pid_t owner = temporary_owner(entry.path().filename().string());
      if (owner < 0 || (owner != ::getpid() && process_alive(owner))) continue;
      if (!entry.is_regular_file(ec)) continue;
      if (fs::remove(entry.path(), ec)) removed.push_back(entry.path());
    }
  }
  return removed;
}

}  // namespace gan::apps
