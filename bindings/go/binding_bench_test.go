package llmsvc_test

import (
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// benchRequest is a typical request: a system and a user message, a token cap, an
// operation and metadata.
var benchRequest = llmsvc.Request{
	Messages: []llmsvc.Message{
		llmsvc.SystemMessage("You classify reviews."),
		llmsvc.UserMessage("The battery lasts two days and the screen is sharp."),
	},
	MaxOutputTokens: 64,
	Operation:       "classify",
	Metadata:        map[string]any{"row": "17"},
}

// BenchmarkBindingCost times what the binding adds to a request, network and core
// excluded: encoding the request, the cgo crossing with the document, and building the
// Response from a real result of the core (one success with usage, cost, an attempt,
// timing and the metadata echoed, from the emulator), its JSON document copied as
// Response.Raw.
func BenchmarkBindingCost(b *testing.B) {
	emu := startEmulator(b)
	c := emu.client(b, "k-cost", llmsvc.Config{})
	build, free, err := llmsvc.BenchResult(c, benchRequest)
	if err != nil {
		b.Fatal(err)
	}
	defer free()
	if r, err := build(); err != nil || r.Usage == nil || r.Metadata["row"] != "17" || len(r.Attempts) != 1 {
		b.Fatalf("%+v, %v", r, err)
	}
	b.Run("marshal_request", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			llmsvc.EncodeRequest(b, benchRequest)
		}
	})
	b.Run("cgo_call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			llmsvc.CgoNoop()
		}
	})
	b.Run("read_result", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := build(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("total", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			llmsvc.EncodeRequest(b, benchRequest)
			llmsvc.CgoNoop()
			if _, err := build(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
