// Where the library's own objects live: mimalloc, through its own API.
//
// Debian's libmimalloc.so exports malloc, free and operator new/delete as overrides. Linked
// as a dependency it would sit in the process's global symbol scope ahead of libstdc++, and
// every operator new of the host (a C, Go or Rust program) would become mimalloc's. So the
// library is never linked: it is loaded privately (dlopen with RTLD_LOCAL), where nothing
// else can bind to its overrides, and only mi_malloc, mi_realloc and mi_free are called.
// Without it, or in sanitizer builds (which must see every allocation), the system
// allocator serves.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace llmsvc {

struct Allocator {
  void *(*alloc)(size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
  const char *name;  // "mimalloc" or "system"
};

/// The allocator in use, chosen once.
const Allocator &allocator();

inline void *mem_alloc(size_t n) { return allocator().alloc(n); }
inline void *mem_realloc(void *p, size_t n) { return allocator().realloc(p, n); }
inline void mem_free(void *p) { allocator().free(p); }

/// Base for hot objects: class-level operator new/delete from mem_alloc.
struct HeapObject {
  static void *operator new(size_t n) {
    void *p = mem_alloc(n);
    if (!p) throw std::bad_alloc();
    return p;
  }
  static void operator delete(void *p) { mem_free(p); }
};

}  // namespace llmsvc
