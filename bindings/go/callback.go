package llmsvc

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// liveHandles counts the cgo handles created for submissions and not yet deleted.
var liveHandles atomic.Int64

func newHandle(f *Future) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(f)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// llmsvcgoComplete receives a completion on the client's engine thread (called by the C
// shim, which frees the result when this returns). It copies the result document, hands
// it to the request's Future and returns; decoding is left to whoever reads the result.
//
//export llmsvcgoComplete
func llmsvcgoComplete(handle C.uintptr_t, doc *C.char, n C.size_t) {
	h := cgo.Handle(handle)
	f := h.Value().(*Future)
	deleteHandle(h)
	f.complete(C.GoBytes(unsafe.Pointer(doc), C.int(n)))
}
