// Starts the project's emulator on a free loopback port for one test and stops it after.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <rapidjson/document.h>

class EmulatorProcess {
 public:
  /// Starts llmsvc-emulator with `args` (flags) and waits until it listens.
  explicit EmulatorProcess(std::vector<std::string> args = {});
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess &) = delete;
  EmulatorProcess &operator=(const EmulatorProcess &) = delete;

  int port() const { return port_; }
  std::string base_url() const;
  /// GET /_emulator/stats?key=KEY, parsed.
  rapidjson::Document stats(const std::string &key) const;
  /// A client configuration pointing at this emulator with `key`, plus extra members
  /// (a JSON fragment without braces, may be empty).
  std::string config(const std::string &key, const std::string &extra = "") const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

/// HTTP GET on loopback, body returned ("" on failure).
std::string http_get(const std::string &url);
/// HTTP POST of a JSON body on loopback with `headers` ("Name: value"), body returned.
std::string http_post(const std::string &url, const std::string &body,
                      const std::vector<std::string> &headers = {});
