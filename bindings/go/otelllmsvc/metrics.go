package otelllmsvc

import (
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	llmsvc "llmsvc/bindings/go"
)

// What the metrics' attribute sets are made of: a request records up to eight
// measurements, whose attribute sets take a handful of values that repeat from one request
// to the next (the model, the provider, the server, the status), so each set is built
// once (attribute.NewSet sorts and copies) and kept, up to maxSets of them.
const (
	setFull    uint8 = iota // duration, time to first chunk: common, response model, server, error.type
	setTokens               // token usage: setFull without error.type, with gen_ai.token.type (extra)
	setAttempt              // attempts: common, http.response.status_code, error.type
	setCommon               // gate wait: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model
	setBackoff              // backoff: common, llmsvc.backoff.source (extra)
	setCost                 // cost: common, llmsvc.operation (extra, when given)
)

// maxSets bounds the sets kept; beyond it (attributes of unbounded cardinality, which
// the SDK would cap anyway), sets are built for each measurement.
const maxSets = 4096

// setKey is what one attribute set is made of.
type setKey struct {
	kind                                         uint8
	provider, model, respModel, address, errType string
	port, status                                 int
	extra                                        string
}

type attributeSets struct {
	m sync.Map // setKey → metric.MeasurementOption
	n atomic.Int64
}

// get returns the measurement option carrying k's attribute set.
func (s *attributeSets) get(k setKey) metric.MeasurementOption {
	if v, ok := s.m.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	opt := metric.WithAttributeSet(k.set())
	if s.n.Load() < maxSets {
		if _, loaded := s.m.LoadOrStore(k, opt); !loaded {
			s.n.Add(1)
		}
	}
	return opt
}

// set builds k's attribute set.
func (k *setKey) set() attribute.Set {
	var buf [10]attribute.KeyValue
	a := append(buf[:0], opChat)
	if k.provider != "" {
		a = append(a, keyProvider.String(k.provider))
	}
	if k.model != "" {
		a = append(a, keyRequestModel.String(k.model))
	}
	switch k.kind {
	case setFull, setTokens:
		if k.respModel != "" {
			a = append(a, keyResponseModel.String(k.respModel))
		}
		if k.address != "" {
			a = append(a, keyServerAddress.String(k.address))
		}
		if k.port > 0 {
			a = append(a, keyServerPort.Int(k.port))
		}
		if k.kind == setTokens {
			a = append(a, keyTokenType.String(k.extra))
		}
	case setAttempt:
		if k.status > 0 {
			a = append(a, keyStatusCode.Int(k.status))
		}
	case setBackoff:
		a = append(a, keyBackoffSource.String(k.extra))
	case setCost:
		if k.extra != "" {
			a = append(a, keyOperation.String(k.extra))
		}
	}
	if k.errType != "" {
		a = append(a, keyErrorType.String(k.errType))
	}
	return attribute.NewSet(a...)
}

// record records the request's metrics.
func (ob *observation) record(r *llmsvc.Response, model, provider, address string, port int, errType string,
	end time.Time) {
	o, ctx := ob.o, ob.ctx
	k := setKey{kind: setFull, provider: provider, model: model, address: address, port: port, errType: errType}
	if r != nil {
		k.respModel = r.ResponseModel
	}
	full := o.sets.get(k)
	o.duration.Record(ctx, end.Sub(ob.start).Seconds(), full)
	if r == nil {
		return
	}
	if ob.stream && r.Timing.FirstTokenMS > 0 {
		o.ttfc.Record(ctx, r.Timing.FirstTokenMS/1e3, full)
	}
	if u := r.Usage; u != nil {
		k.kind, k.errType, k.extra = setTokens, "", "input"
		o.tokens.Record(ctx, u.PromptTokens, o.sets.get(k))
		k.extra = "output"
		o.tokens.Record(ctx, u.CompletionTokens, o.sets.get(k))
	}

	// The attempts, gate waits and backoffs: operation, provider and request model.
	common := setKey{kind: setCommon, provider: provider, model: model}
	three := o.sets.get(common)
	for i := range r.Attempts {
		a := &r.Attempts[i]
		k := common
		k.kind, k.status = setAttempt, a.HTTPStatus
		if a.Kind != llmsvc.KindNone {
			k.errType = a.Kind.String()
		}
		o.attempts.Add(ctx, 1, o.sets.get(k))
		o.gateWait.Record(ctx, a.GateWaitMS/1e3, three)
		if a.BackoffSource != "" {
			k := common
			k.kind, k.extra = setBackoff, backoffSource(a.BackoffSource)
			o.backoff.Record(ctx, a.BackoffMS/1e3, o.sets.get(k))
		}
	}
	if r.CostNanoUSD != nil {
		k := common
		k.kind, k.extra = setCost, ob.operation
		o.cost.Add(ctx, *r.CostNanoUSD, o.sets.get(k))
	}
}
