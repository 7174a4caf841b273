#include "common/alloc.h"

#include <dlfcn.h>

namespace llmsvc {

namespace {

Allocator choose() {
  Allocator system{&std::malloc, &std::realloc, &std::free, "system"};
#if defined(LLMSVC_SYSTEM_ALLOCATOR) || !defined(LLMSVC_MIMALLOC_SONAME)
  return system;
#else
  // Never unloaded: memory it handed out may outlive any client.
  void *lib = dlopen(LLMSVC_MIMALLOC_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return system;
  auto a = reinterpret_cast<void *(*)(size_t)>(dlsym(lib, "mi_malloc"));
  auto r = reinterpret_cast<void *(*)(void *, size_t)>(dlsym(lib, "mi_realloc"));
  auto f = reinterpret_cast<void (*)(void *)>(dlsym(lib, "mi_free"));
  if (!a || !r || !f) return system;
  return {a, r, f, "mimalloc"};
#endif
}

}  // namespace

const Allocator &allocator() {
  static const Allocator chosen = choose();
  return chosen;
}

}  // namespace llmsvc
