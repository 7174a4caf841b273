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

// completer is what a submission's handle refers to: a *Future, or the *Stream or
// *PieceStream of a streamed request.
type completer interface {
	complete(doc []byte)
}

func newHandle(v completer) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// llmsvcgoComplete receives a completion on the client's engine thread (called by the C
// shim, which frees the result when this returns). It copies the result document, hands
// it to the request's Future and returns; decoding is left to whoever reads the result.
// It deletes the handle: the completion is the last call that carries it.
//
//export llmsvcgoComplete
func llmsvcgoComplete(handle C.uintptr_t, doc *C.char, n C.size_t) {
	h := cgo.Handle(handle)
	v := h.Value().(completer)
	deleteHandle(h)
	v.complete(C.GoBytes(unsafe.Pointer(doc), C.int(n)))
}

// llmsvcgoDelta receives one piece of a streamed reply on the client's engine thread. It
// copies the piece into the stream's queue and returns without waiting for the reader.
//
//export llmsvcgoDelta
func llmsvcgoDelta(handle C.uintptr_t, text *C.char, n C.size_t) {
	s := cgo.Handle(handle).Value().(*Stream)
	s.push(C.GoStringN(text, C.int(n)))
}

// llmsvcgoPiece receives one typed piece of a streamed reply on the client's engine
// thread, as llmsvcgoDelta does. The call's id and name are copied only for a call's
// start, the one piece that has them.
//
//export llmsvcgoPiece
func llmsvcgoPiece(handle C.uintptr_t, kind C.int, index C.uint32_t, callID, name, text *C.char,
	n C.size_t) {
	p := Piece{Kind: PieceKind(kind), Index: int(index), Text: C.GoStringN(text, C.int(n))}
	if p.Kind == PieceToolCall {
		p.CallID, p.Name = C.GoString(callID), C.GoString(name)
	}
	cgo.Handle(handle).Value().(*PieceStream).push(p)
}
