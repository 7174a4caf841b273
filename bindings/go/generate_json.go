package llmsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// errNoSchema is returned by GenerateJSON for a request without a JSON Schema.
var errNoSchema = errors.New("llmsvc: GenerateJSON: the request has no JSONSchema")

// GenerateJSON sends a request for structured output and decodes the reply into a T.
//
// req.JSONSchema is required: the schema the reply must match, written to describe T
// (the core asks the provider for it, validates the reply and asks again up to
// retry.schema_retries times). The validated document (Response.JSON) is unmarshalled
// into T with encoding/json.
//
//	type Pet struct {
//		Name string `json:"name"`
//		Legs int    `json:"legs"`
//	}
//	pet, resp, err := llmsvc.GenerateJSON[Pet](ctx, c, llmsvc.Request{
//		Prompt:     "Describe a pet.",
//		JSONSchema: &llmsvc.JSONSchema{Name: "pet", Strict: true, Schema: petSchema},
//	})
//
// A reply that still does not match gives an *Error matching ErrSchemaMismatch, whose
// SchemaPointer ("/legs"), SchemaKeyword ("required") and RejectedOutput say where and
// why; other failures are as for Generate, and the Response is then nil (Error.Response
// holds it). When the validated document does not fit T (a schema that does not
// describe T), the error wraps encoding/json's and the Response is returned with it.
func GenerateJSON[T any](ctx context.Context, c *Client, req Request) (T, *Response, error) {
	var v T
	if req.JSONSchema == nil {
		return v, nil, errNoSchema
	}
	resp, err := c.Generate(ctx, req)
	if err != nil {
		return v, nil, err
	}
	if len(resp.JSON) == 0 {
		return v, resp, fmt.Errorf("llmsvc: GenerateJSON: the result has no json document")
	}
	if err := json.Unmarshal(resp.JSON, &v); err != nil {
		var zero T
		return zero, resp, fmt.Errorf("llmsvc: GenerateJSON: decoding the reply into %T: %w", v, err)
	}
	return v, resp, nil
}
