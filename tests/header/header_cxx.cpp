// The public header must compile alone as C++.
#include "llmsvc.h"

static_assert(LLMSVC_VERSION_CHECK(0, 1, 0), "version macros");
static_assert(LLMSVC_OK == 0, "status zero is success");
int llmsvc_header_cxx_check() { return LLMSVC_KIND_NONE; }
