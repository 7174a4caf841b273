// Where the library's own objects live: mimalloc's API (never a malloc override in the
// host process). Sanitizer builds use the system allocator instead, so that ASan sees
// every allocation and TSan sees the hand-over of memory between threads.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#ifndef LLMSVC_SYSTEM_ALLOCATOR
#include <mimalloc.h>
#endif

namespace llmsvc {

inline void *mem_alloc(size_t n) {
#ifdef LLMSVC_SYSTEM_ALLOCATOR
  return std::malloc(n);
#else
  return mi_malloc(n);
#endif
}

inline void *mem_realloc(void *p, size_t n) {
#ifdef LLMSVC_SYSTEM_ALLOCATOR
  return std::realloc(p, n);
#else
  return mi_realloc(p, n);
#endif
}

inline void mem_free(void *p) {
#ifdef LLMSVC_SYSTEM_ALLOCATOR
  std::free(p);
#else
  mi_free(p);
#endif
}

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
