package llmsvc

import (
	"bytes"
	"context"
	"testing"
)

// benchRequest is a typical request: a system and a user message, a token cap, an
// operation and metadata.
var benchRequest = Request{
	Messages: []Message{
		SystemMessage("You classify reviews."),
		UserMessage("The battery lasts two days and the screen is sharp."),
	},
	MaxOutputTokens: 64,
	Operation:       "classify",
	Metadata:        map[string]any{"row": "17"},
}

// benchResult is a result document as the core writes it for a successful request.
const benchResult = `{"id":1,"ok":true,"model":"gpt-4o-mini","operation":"classify",` +
	`"metadata":{"row":"17"},"text":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do ",` +
	`"finish_reason":"stop","response_id":"chatcmpl-WGU3TVBf7k5yamez0ZIcn3cz0JaMz",` +
	`"response_model":"gpt-4o-mini","usage":{"prompt_tokens":30,"completion_tokens":16,` +
	`"total_tokens":46,"cached_tokens":0,"reasoning_tokens":0},"cost_nano_usd":14100,` +
	`"attempts":[{"start_unix_ms":1795346626309,"start_ms":0.29732,"duration_ms":4.812113,` +
	`"http_status":200,"kind":"none","request_id":"req_42e73163d940be902c43a7f6fd914c04"}],` +
	`"timing":{"submit_unix_ms":1795346626309,"total_ms":5.109433,"overhead_us":108.74}}`

// BenchmarkBindingCost times what the binding adds to a request, network and core
// excluded: encoding the request, the cgo crossing with the document, copying the
// result document out and decoding it.
func BenchmarkBindingCost(b *testing.B) {
	ctx := context.Background()
	doc := []byte(benchResult)
	encode := func() *bytes.Buffer {
		req := benchRequest
		out, err := encodeRequest(&req)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	b.Run("marshal_request", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			releaseDocument(encode())
		}
	})
	b.Run("cgo_call", func(b *testing.B) {
		req := encode().Bytes()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			cgoNoop(req)
		}
	})
	b.Run("unmarshal_result", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := decodeResult(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("total", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			req := encode()
			cgoNoop(req.Bytes())
			releaseDocument(req)
			copied := append([]byte(nil), doc...)
			if _, err := decodeResult(ctx, copied); err != nil {
				b.Fatal(err)
			}
		}
	})
}
