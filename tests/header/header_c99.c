/* The public header must compile alone as strict C99. */
#include "llmsvc.h"

int llmsvc_header_c99_check(void);
int llmsvc_header_c99_check(void) {
  return LLMSVC_VERSION_CHECK(0, 1, 0) && LLMSVC_OK == 0 && LLMSVC_KIND_NONE == 0;
}
