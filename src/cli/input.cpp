#include "input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "json_util.h"

namespace llmsvc_cli {

namespace {

bool blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
  return true;
}

}  // namespace

InputReader::~InputReader() {
  if (file_ && !is_stdin_) std::fclose(file_);
  std::free(buf_);
}

std::string InputReader::open(const std::string &path) {
  path_ = path;
  if (path == "-") {
    file_ = stdin;
    is_stdin_ = true;
    return "";
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return path + ": is a directory";
  file_ = std::fopen(path.c_str(), "re");
  if (!file_) return path + ": " + std::strerror(errno);
  return "";
}

int InputReader::next(InputLine *out) {
  for (;;) {
    errno = 0;
    ssize_t n = getline(&buf_, &cap_, file_);
    if (n < 0) {
      if (std::ferror(file_)) {
        error_ = path_ + ": read error: " + std::strerror(errno ? errno : EIO);
        return -1;
      }
      return 0;
    }
    ++line_;
    size_t len = size_t(n);
    while (len > 0 && (buf_[len - 1] == '\n' || buf_[len - 1] == '\r')) --len;
    if (blank(buf_, len)) continue;
    out->number = line_;
    out->text.assign(buf_, len);
    return 1;
  }
}

int64_t InputReader::count_lines() const {
  if (is_stdin_) return -1;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  int64_t count = 0;
  bool content = false;  // the current line has a non-blank character
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      if (c == '\n') {
        count += content;
        content = false;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        content = true;
      }
    }
  }
  close(fd);
  return count + content;
}

ParsedLine parse_line(const InputLine &line) {
  ParsedLine out;
  rapidjson::Document doc;
  doc.Parse(line.text.c_str(), line.text.size());
  std::string fallback_id = quote(std::to_string(line.number));
  out.id_json = fallback_id;
  if (doc.HasParseError()) {
    out.error = "invalid JSON at column " + std::to_string(doc.GetErrorOffset() + 1) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError());
    return out;
  }
  if (!doc.IsObject()) {
    out.error = std::string("request: expected an object, got ") + type_name(doc);
    return out;
  }
  const rapidjson::Value *id = member(&doc, "id");
  if (id && !id->IsNull()) {
    if (!id->IsString() && !id->IsNumber()) {
      out.error = std::string("request.id: expected a string or a number, got ") + type_name(*id);
      return out;
    }
    out.id_json = to_json(*id);
  }
  out.valid = true;
  return out;
}

}  // namespace llmsvc_cli
