package llmsvc

// What the benchmarks (bench_test.go, binding_bench_test.go) reach of the C side; the
// binding itself uses none of it.

/*
#include <stdlib.h>
#include "shim.h"
void llmsvcgo_noop(const char *document);
int llmsvcgo_submit_c(llmsvc_client *client, const char *request, int n);
*/
import "C"

import (
	"context"
	"unsafe"
)

// cgoNoop makes a cgo call carrying a document, as a submission does, into a C function
// that does nothing.
func cgoNoop(nulTerminated []byte) { C.llmsvcgo_noop(cString(nulTerminated)) }

// benchResult sends req with the core's blocking call and returns what builds its
// Response from the result, as the dispatcher does, and what frees the result.
func (c *Client) benchResult(req Request) (build func() (*Response, error), free func(), err error) {
	doc, err := encodeRequest(&req)
	if err != nil {
		return nil, nil, err
	}
	defer releaseDocument(doc)
	var r *C.llmsvc_result
	if err := c.call("generate", func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_client_generate(p, cString(doc.Bytes()), &r, cerr)
	}); err != nil {
		return nil, nil, err
	}
	v := (*C.llmsvcgo_view)(C.malloc(C.sizeof_llmsvcgo_view))
	C.llmsvcgo_view_of(v, r, nil)
	f := &Future{ctx: context.Background(), wants: wantsOf(&req)}
	return func() (*Response, error) { return f.build(v) },
		func() { C.llmsvc_result_free(r); C.free(unsafe.Pointer(v)) }, nil
}

// submitC submits req n times through the C ABI alone, with completions that C frees:
// the core's own path, without Go.
func (c *Client) submitC(req Request, n int) error {
	doc, err := encodeRequest(&req)
	if err != nil {
		return err
	}
	defer releaseDocument(doc)
	return c.call("submit", func(p *C.llmsvc_client, _ **C.llmsvc_error) C.int {
		return C.llmsvcgo_submit_c(p, cString(doc.Bytes()), C.int(n))
	})
}
