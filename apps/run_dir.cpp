#include "apps/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace gan::apps {

std::string RunPaths::step_tag(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(step));
  return buf;
}

int64_t RunPaths::step_of(const fs::path& file) {
  const std::string stem = file.stem().string();
  if (stem.rfind("step_", 0) != 0 || stem.size() == 5) return -1;
  int64_t step = 0;
  for (char c : stem.substr(5)) {
    if (c < '0' || c > '9') return -1;
    step = step * 10 + (c - '0');
  }
  return step;
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
  std::ifstream in(path, std::ios::binary);
  if (!in) io_fail("cannot open", path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json_file(const fs::path& path) {
  const std::string text = read_text_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + " is not valid JSON: " + e.what());
  }
}

std::vector<nlohmann::ordered_json> read_metrics(const fs::path& path) {
  std::vector<nlohmann::ordered_json> lines;
  std::ifstream in(path);
  if (!in) return lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) lines.push_back(std::move(j));
  }
  return lines;
}

void truncate_metrics(const fs::path& path, int64_t step, int64_t log_every) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {  // kept lines stay byte for byte as written
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    const int64_t s = j["step"].get<int64_t>();
    if (s < step || (s == step && log_every > 0 && s % log_every == 0)) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

MetricsWriter::MetricsWriter(const fs::path& path) : path_(path), out_(path, std::ios::app) {
  if (!out_) io_fail("cannot open", path, errno);
}

void MetricsWriter::write(const nlohmann::ordered_json& line) {
  out_ << line.dump() << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write " + path_.string() + " (disk full?)");
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

}  // namespace gan::apps
