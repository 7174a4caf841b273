#include "output.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "json_util.h"

namespace llmsvc_cli {

namespace {

std::string sys_error(const std::string &what) { return what + ": " + std::strerror(errno); }

// A result line's id and outcome; false when the line is not one of ours.
bool parse_result_line(const char *data, size_t len, std::string *id, bool *ok,
                       uint64_t *line) {
  rapidjson::Document d;
  d.Parse(data, len);
  if (d.HasParseError() || !d.IsObject()) return false;
  const rapidjson::Value *idv = member(&d, "id");
  const rapidjson::Value *okv = member(&d, "ok");
  if (!idv || !(idv->IsString() || idv->IsNumber()) || !okv || !okv->IsBool()) return false;
  *id = to_json(*idv);
  *ok = okv->GetBool();
  *line = uint64_t(std::max<int64_t>(0, int_member(&d, "line")));
  return true;
}

bool write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= size_t(n);
  }
  return true;
}

struct Entry {
  uint64_t key;  // the line number, or the position
  uint64_t offset;
  uint64_t len;
};

// The last line of each id, in file order of their last appearance; `*shaped` tells
// whether the file already holds exactly these lines in the wanted order.
bool collect_entries(int fd, bool input_order, std::vector<Entry> *entries, bool *shaped) {
  std::unordered_map<std::string, size_t> index;
  uint64_t count = 0, last_key = 0;
  bool sorted = true;
  int64_t end = for_each_line(fd, [&](uint64_t off, const char *data, size_t len) {
    ++count;
    std::string id;
    bool ok;
    uint64_t line;
    if (!parse_result_line(data, len, &id, &ok, &line)) return;
    Entry e{input_order ? line : off, off, len};
    if (e.key < last_key) sorted = false;
    last_key = e.key;
    auto it = index.find(id);
    if (it == index.end()) {
      index.emplace(std::move(id), entries->size());
      entries->push_back(e);
    } else {
      (*entries)[it->second] = e;
    }
  });
  *shaped = sorted && entries->size() == count;
  return end >= 0;
}

std::string copy_entries(int from, int to, const std::vector<Entry> &entries) {
  std::string out, line;
  for (const Entry &e : entries) {
    line.resize(e.len);
    ssize_t n = pread(from, line.data(), e.len, off_t(e.offset));
    if (n != ssize_t(e.len)) return "read error";
    out += line;
    out += '\n';
    if (out.size() >= (1u << 16)) {
      if (!write_all(to, out.data(), out.size())) return std::strerror(errno);
      out.clear();
    }
  }
  if (!write_all(to, out.data(), out.size())) return std::strerror(errno);
  return "";
}

void sync_dir_of(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

}  // namespace

int64_t for_each_line(int fd, const std::function<void(uint64_t, const char *, size_t)> &fn) {
  std::string carry;
  uint64_t carry_start = 0, pos = 0;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off_t(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    size_t start = 0;
    for (size_t i = 0; i < size_t(n); ++i) {
      if (buf[i] != '\n') continue;
      if (carry.empty()) {
        fn(pos + start, buf + start, i - start);
      } else {
        carry.append(buf + start, i - start);
        fn(carry_start, carry.data(), carry.size());
        carry.clear();
      }
      start = i + 1;
    }
    if (start < size_t(n)) {
      if (carry.empty()) carry_start = pos + start;
      carry.append(buf + start, size_t(n) - start);
    }
    pos += uint64_t(n);
  }
  return int64_t(pos - carry.size());
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) close(fd_);
}

std::string OutputFile::open(const std::string &path, const SeenFn &seen, OutputScan *scan) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd_ < 0) return sys_error(path);
  struct stat st;
  if (fstat(fd_, &st) != 0) return sys_error(path);
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK ? path + ": another llmsvc run is writing this file"
                                : sys_error(path + ": lock");
  uint64_t number = 0;
  int64_t end = for_each_line(fd_, [&](uint64_t, const char *data, size_t len) {
    ++number;
    std::string id;
    bool ok;
    uint64_t line;
    if (parse_result_line(data, len, &id, &ok, &line)) {
      ++scan->lines;
      seen(id, ok);
    } else if (scan->ignored++ == 0) {
      scan->first_ignored = number;
    }
  });
  if (end < 0) return sys_error(path + ": read");
  if (uint64_t(end) < uint64_t(st.st_size)) {
    // A crash in the middle of a write left a partial line: its request runs again.
    if (ftruncate(fd_, end) != 0) return sys_error(path + ": truncate");
    scan->repaired = true;
  }
  return "";
}

std::string OutputFile::append(const std::string &line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf += line;
  buf += '\n';
  if (!write_all(fd_, buf.data(), buf.size())) return sys_error(path_ + ": write");
  return "";
}

std::string OutputFile::rewrite(bool input_order) {
  std::vector<Entry> entries;
  bool shaped = false;
  if (!collect_entries(fd_, input_order, &entries, &shaped)) return sys_error(path_ + ": read");
  if (shaped) return "";
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry &a, const Entry &b) { return a.key < b.key; });
  std::string tmp = path_ + ".XXXXXX";
  int out = mkostemp(tmp.data(), O_CLOEXEC);
  if (out < 0) return sys_error(tmp);
  struct stat st;
  if (fstat(fd_, &st) == 0) fchmod(out, st.st_mode & 07777);
  std::string err = copy_entries(fd_, out, entries);
  if (err.empty() && fsync(out) != 0) err = std::strerror(errno);
  close(out);
  if (err.empty() && rename(tmp.c_str(), path_.c_str()) != 0) err = std::strerror(errno);
  if (!err.empty()) {
    unlink(tmp.c_str());
    return path_ + ": rewrite: " + err;
  }
  sync_dir_of(path_);
  return "";
}

}  // namespace llmsvc_cli
