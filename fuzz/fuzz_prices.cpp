// The price loader: a LiteLLM-style document read through PriceTable::merge_file (from a
// memory file, so nothing touches the disk) over the built-in table, then every model it
// names looked up and priced for a few usages.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/json.h"
#include "fuzz_common.h"
#include "usage/prices.h"

namespace {

int memory_file() {
  static const int fd = memfd_create("prices", 0);
  return fd;
}

llmsvc::DocError load(llmsvc::PriceTable &t, std::string_view text) {
  int fd = memory_file();
  if (fd >= 0 && ftruncate(fd, 0) == 0 &&
      pwrite(fd, text.data(), text.size(), 0) == ssize_t(text.size()))
    return t.merge_file("/proc/self/fd/" + std::to_string(fd));
  llmsvc::JsonDoc doc;  // no memory file: the same parse and merge, without the read
  if (llmsvc::DocError err = llmsvc::parse_json(doc, text, "prices")) return err;
  return t.merge(doc, "prices");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text = fuzz::view(data, size);
  llmsvc::PriceTable t = llmsvc::PriceTable::builtin();
  if (load(t, text)) return 0;
  llmsvc::JsonDoc doc;
  FUZZ_CHECK(!llmsvc::parse_json(doc, text, "prices") && doc.IsObject());
  llmsvc::TokenUsage small{1000, 500, 100, 50, 10};
  llmsvc::TokenUsage large{2000000, 1000000, 1500000, 900000, 400000};
  for (const auto &m : doc.GetObject()) {
    std::string_view name = llmsvc::sv(m.name);
    const llmsvc::ModelPrice *p = t.find(name);
    if (!p) continue;
    FUZZ_CHECK(p->input >= 0 && p->output >= 0);
    FUZZ_CHECK(t.cost_pico(name, small) >= -1);  // -1: beyond int64 pico-USD
    FUZZ_CHECK(t.cost_pico(name, large) >= -1);
  }
  return 0;
}
