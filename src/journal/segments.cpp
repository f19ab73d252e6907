#include "journal/segments.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "journal/codec.h"
#include "journal/journal.h"

namespace aaj::journal::files {
namespace fs = std::filesystem;

namespace {

// A file opened with its size, closed on destruction. fd < 0: it does not exist.
struct OpenFile {
  int fd = -1;
  uint64_t size = 0;
  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  OpenFile(OpenFile&& o) noexcept : fd(std::exchange(o.fd, -1)), size(o.size) {}
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens `path` with `flags`; a missing file is an OpenFile with fd < 0, not an error. Errors:
// "journal_unavailable".
Result<OpenFile> open_file(const fs::path& path, int flags) {
  OpenFile f;
  f.fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return f;
    return Error{"journal_unavailable",
                 "cannot open " + path.string() + ": " + std::strerror(errno)};
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return Error{"journal_unavailable", "fstat " + path.string()};
  f.size = static_cast<uint64_t>(st.st_size);
  return f;
}

// Reads [from, from + size) of an open file (short at its end). Retries EINTR.
std::string read_at(int fd, uint64_t from, size_t size) {
  std::string buf(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf.data() + got, size - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  return buf;
}

}  // namespace

std::string segment_name(int number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06d.log", number);
  return buf;
}

std::vector<Segment> list_segments(const fs::path& dir) {
  std::vector<Segment> out;
  std::error_code ec;
  fs::directory_iterator it(dir / kSegmentsDir, ec), end;
  if (ec) return out;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.size() != 10 || name.substr(6) != ".log") continue;
    if (!std::all_of(name.begin(), name.begin() + 6, [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    Segment s;
    s.number = std::stoi(name.substr(0, 6));
    s.log = it->path();
    s.seal = it->path().parent_path() / (name.substr(0, 6) + ".seal.json");
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const Segment& a, const Segment& b) { return a.number < b.number; });
  return out;
}

std::vector<fs::path> record_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& s : list_segments(dir)) out.push_back(s.log);
  out.push_back(dir / kFileName);
  return out;
}

std::optional<nlohmann::json> read_seal(const Segment& s) {
  std::ifstream in(s.seal, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("seal") || !j["seal"].is_object()) return std::nullopt;
  return j;
}

Status for_each_line(const fs::path& dir, uint64_t from_seq,
                     const std::function<bool(uint64_t, std::string_view)>& fn) {
  for (const auto& path : record_files(dir)) {
    auto f = open_file(path, O_RDONLY);
    if (!f) return f.error();
    if (f->fd < 0) continue;
    codec::LineReader r(f->fd, 0, f->size);
    std::string_view line;
    uint64_t seq = 0;
    bool stop = false;
    while (!stop && r.next(line)) {
      if (seq == 0) {
        codec::Sha256 sha;
        codec::Decoded d;
        (void)codec::decode(line, sha, d, false);
        if (d.seq == 0)
          return Error{"journal_corrupt", path.string() + ": the first record has no seq"};
        seq = d.seq;
      } else {
        ++seq;
      }
      if (seq >= from_seq && !fn(seq, line)) stop = true;
    }
    if (!r.error().empty()) return Error{"journal_unavailable", path.string() + ": " + r.error()};
    if (stop) return {};
  }
  return {};
}

Status drop_incomplete_tail(const fs::path& path) {
  auto f = open_file(path, O_RDWR);
  if (!f) return f.error();
  if (f->fd < 0 || f->size == 0) return {};
  // Back from the end in blocks to the last '\n'; everything after it goes.
  uint64_t end = f->size, keep = 0;
  while (end > 0) {
    const uint64_t from = end > 4096 ? end - 4096 : 0;
    const std::string block = read_at(f->fd, from, static_cast<size_t>(end - from));
    if (block.size() != end - from)
      return Error{"journal_unavailable", "cannot read " + path.string()};
    if (size_t nl = block.rfind('\n'); nl != std::string::npos) {
      keep = from + nl + 1;
      break;
    }
    end = from;
  }
  if (keep < f->size && ::ftruncate(f->fd, static_cast<off_t>(keep)) != 0)
    return Error{"journal_unavailable", "cannot truncate " + path.string()};
  return {};
}

Status append_line(const fs::path& path, std::string_view line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error{"journal_unavailable",
                 "cannot open " + path.string() + ": " + std::strerror(errno)};
  std::string data(line);
  data += '\n';
  Status s = codec::write_all(fd, data);
  ::close(fd);
  return s;
}

Result<std::string> last_line(const fs::path& path) {
  auto f = open_file(path, O_RDONLY);
  if (!f) return f.error();
  if (f->fd < 0) return std::string();
  const uint64_t size = f->size;
  for (uint64_t span = 16 * 1024;; span *= 2) {
    const uint64_t from = size > span ? size - span : 0;
    const std::string buf = read_at(f->fd, from, static_cast<size_t>(size - from));
    size_t nl = buf.rfind('\n');
    if (nl == std::string::npos) {
      if (from == 0) return std::string();
      continue;
    }
    size_t p = nl == 0 ? std::string::npos : buf.rfind('\n', nl - 1);
    if (p == std::string::npos && from != 0) continue;
    size_t b = p == std::string::npos ? 0 : p + 1;
    return buf.substr(b, nl - b);
  }
}

}  // namespace aaj::journal::files
