package llmsvc_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// resultDocument is a result document as docs/schema.md describes it: the Response's
// fields by their JSON names, and the error object of a failure.
type resultDocument struct {
	llmsvc.Response
	Error *struct {
		Kind            llmsvc.Kind `json:"kind"`
		Message         string      `json:"message"`
		HTTPStatus      int         `json:"http_status"`
		ProviderType    string      `json:"provider_type"`
		ProviderCode    string      `json:"provider_code"`
		ProviderParam   string      `json:"provider_param"`
		ProviderMessage string      `json:"provider_message"`
		RetryAfterMS    *int64      `json:"retry_after_ms"`
		Pointer         string      `json:"pointer"`
		Keyword         string      `json:"keyword"`
		Output          string      `json:"output"`
	} `json:"error"`
	Batch *struct {
		ID       string `json:"id"`
		CustomID string `json:"custom_id"`
	} `json:"batch"`
}

// sameAsDocument checks that a request's outcome, built from the core's typed view,
// says what the result's JSON document says, field by field. A submission error has no
// document and is left alone.
func sameAsDocument(t *testing.T, resp *llmsvc.Response, err error) {
	t.Helper()
	var e *llmsvc.Error
	if err != nil {
		if !errors.As(err, &e) {
			return
		}
		resp = e.Response
	}
	var doc resultDocument
	if err := json.Unmarshal(resp.Raw, &doc); err != nil {
		t.Fatalf("result document: %v\n%s", err, resp.Raw)
	}
	doc.Raw = resp.Raw
	// What only the typed view has (ABI 0.4: for telemetry), not in the document.
	if resp.Provider == "" || resp.ServerAddress == "" || resp.ServerPort <= 0 || resp.Timing.GateWaitMS < 0 {
		t.Errorf("provider %q, server %q:%d, gate wait %v ms: expected all known",
			resp.Provider, resp.ServerAddress, resp.ServerPort, resp.Timing.GateWaitMS)
	}
	doc.Provider, doc.ServerAddress, doc.ServerPort = resp.Provider, resp.ServerAddress, resp.ServerPort
	doc.CacheHit, doc.Timing.GateWaitMS = resp.CacheHit, resp.Timing.GateWaitMS
	if doc.Batch != nil { // a batch job's result
		doc.BatchID, doc.CustomID = doc.Batch.ID, doc.Batch.CustomID
	}
	if resp.Error != e {
		t.Errorf("Response.Error %v is not the error returned, %v", resp.Error, err)
	}
	doc.Response.Error = resp.Error
	sum := 0.0
	for i := range doc.Attempts {
		if i < len(resp.Attempts) {
			doc.Attempts[i].GateWaitMS = resp.Attempts[i].GateWaitMS
			sum += resp.Attempts[i].GateWaitMS
		}
	}
	if d := sum - resp.Timing.GateWaitMS; d > 1e-6 || d < -1e-6 {
		t.Errorf("gate waits: attempts sum to %v ms, the result says %v ms", sum, resp.Timing.GateWaitMS)
	}
	if !reflect.DeepEqual(&doc.Response, resp) {
		t.Errorf("the typed view and the document differ:\ntyped    %+v\ndocument %+v", *resp, doc.Response)
	}
	if d := doc.Error; (e == nil) != (d == nil) {
		t.Errorf("error %v, document's error %+v", err, d)
	} else if d != nil {
		want := llmsvc.Error{Kind: d.Kind, Message: d.Message, HTTPStatus: d.HTTPStatus,
			ProviderMessage: d.ProviderMessage, ProviderType: d.ProviderType, ProviderCode: d.ProviderCode,
			ProviderParam: d.ProviderParam, SchemaPointer: d.Pointer, SchemaKeyword: d.Keyword,
			RejectedOutput: d.Output, Attempts: resp.Attempts, Response: resp}
		if d.RetryAfterMS != nil {
			want.RetryAfter = time.Duration(*d.RetryAfterMS) * time.Millisecond
		}
		got := llmsvc.Error{Kind: e.Kind, Message: e.Message, HTTPStatus: e.HTTPStatus,
			ProviderMessage: e.ProviderMessage, ProviderType: e.ProviderType, ProviderCode: e.ProviderCode,
			ProviderParam: e.ProviderParam, SchemaPointer: e.SchemaPointer, SchemaKeyword: e.SchemaKeyword,
			RejectedOutput: e.RejectedOutput, RetryAfter: e.RetryAfter, Attempts: e.Attempts, Response: e.Response}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the typed error and the document differ:\ntyped    %+v\ndocument %+v", got, want)
		}
	}
}
