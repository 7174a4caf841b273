package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The rest of the chat completions request: n, logprobs, service_tier and
// the sampling and bookkeeping parameters that are checked the way OpenAI
// checks them and otherwise change nothing.

// Service tiers by endpoint, as the OpenAPI document lists them.
var (
	chatServiceTiers      = []string{"auto", "default", "flex", "scale", "priority", "fast"}
	responsesServiceTiers = []string{"auto", "default", "flex", "scale", "priority", "fast", "ultrafast"}
)

// reasoningEfforts are the values of reasoning_effort.
var reasoningEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh", "max"}

// servedTier is the tier an answer reports for the requested one: auto (or
// none) is served by the default tier, and fast is reported as priority.
func servedTier(requested string) string {
	switch requested {
	case "", "auto":
		return "default"
	case "fast":
		return "priority"
	}
	return requested
}

// oaIntRange reads an optional integer parameter within [lo, hi].
func oaIntRange(param string, raw json.RawMessage, lo, hi int64) (int64, bool, *apiError) {
	v, ok, aerr := oaInteger(param, raw, lo)
	if aerr != nil || !ok {
		return v, ok, aerr
	}
	if v > hi {
		return 0, false, invalidRequest(param, "integer_above_max_value", "Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", param, hi, v)
	}
	return v, true, nil
}

// oaMaxLength reads an optional string parameter of at most n characters.
func oaMaxLength(param string, raw json.RawMessage, n int) *apiError {
	s, ok, aerr := oaString(param, raw)
	if aerr != nil || !ok {
		return aerr
	}
	if l := len([]rune(s)); l > n {
		return invalidRequest(param, "string_above_max_length", "Invalid '%s': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", param, n, l)
	}
	return nil
}

// parseChatOptions reads n, logprobs, top_logprobs, service_tier and the
// parameters that are only checked.
func (req *chatRequest) parseChatOptions(wr *wireRequest) *apiError {
	req.n = 1
	if n, ok, aerr := oaIntRange("n", wr.N, 1, 128); aerr != nil {
		return aerr
	} else if ok {
		req.n = n
	}
	var aerr *apiError
	if req.logprobs, _, aerr = oaBool("logprobs", wr.Logprobs); aerr != nil {
		return aerr
	}
	top, hasTop, aerr := oaIntRange("top_logprobs", wr.TopLogprobs, 0, 20)
	if aerr != nil {
		return aerr
	}
	if hasTop && !req.logprobs {
		return invalidRequest("top_logprobs", "invalid_value", "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is specified.")
	}
	req.topLogprobs = top
	tier, _, aerr := oaEnum("service_tier", wr.ServiceTier, chatServiceTiers...)
	if aerr != nil {
		return aerr
	}
	req.serviceTier = tier

	return checkChatSampling(wr)
}

// checkChatSampling checks the parameters that change nothing here: the
// sampling ones, logit_bias, seed, stop and the bookkeeping ones.
func checkChatSampling(wr *wireRequest) *apiError {
	for _, n := range []struct {
		param  string
		raw    json.RawMessage
		lo, hi float64
	}{
		{"temperature", wr.Temperature, 0, 2},
		{"top_p", wr.TopP, 0, 1},
		{"frequency_penalty", wr.FrequencyPenalty, -2, 2},
		{"presence_penalty", wr.PresencePenalty, -2, 2},
	} {
		if _, _, aerr := oaNumber(n.param, n.raw, n.lo, n.hi); aerr != nil {
			return aerr
		}
	}
	if aerr := checkLogitBias(wr.LogitBias); aerr != nil {
		return aerr
	}
	if _, _, aerr := oaInteger("seed", wr.Seed, math.MinInt64); aerr != nil {
		return aerr
	}
	if aerr := checkStop(wr.Stop); aerr != nil {
		return aerr
	}
	for _, s := range []struct {
		param string
		raw   json.RawMessage
	}{{"prompt_cache_key", wr.PromptCacheKey}, {"user", wr.User}} {
		if _, _, aerr := oaString(s.param, s.raw); aerr != nil {
			return aerr
		}
	}
	if aerr := oaMaxLength("safety_identifier", wr.SafetyIdentifier, 64); aerr != nil {
		return aerr
	}
	if _, aerr := parseMetadata(wr.Metadata); aerr != nil {
		return aerr
	}
	if _, _, aerr := oaBool("store", wr.Store); aerr != nil {
		return aerr
	}
	_, _, aerr := oaEnum("reasoning_effort", wr.ReasoningEffort, reasoningEfforts...)
	return aerr
}

// checkLogitBias checks logit_bias: token ids mapped to biases in
// [-100, 100].
func checkLogitBias(raw json.RawMessage) *apiError {
	o, aerr := oaObject("logit_bias", raw)
	if aerr != nil || o == nil {
		return aerr
	}
	for _, k := range o.keys {
		if id, err := strconv.ParseUint(k, 10, 32); err != nil || strconv.FormatUint(id, 10) != k {
			return invalidRequest("logit_bias", "invalid_value", "Invalid key in 'logit_bias': %s. You should only be submitting non-negative integers.", k)
		}
		p := "logit_bias." + k
		if _, _, aerr := oaNumber(p, o.get(k), -100, 100); aerr != nil {
			return aerr
		}
	}
	return nil
}

// checkStop checks stop: a string, or an array of 1 to 4 strings.
func checkStop(raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	switch jsonKind(raw) {
	case "a string":
		return nil
	case "an array":
	default:
		return invalidRequest("stop", "invalid_type", "Invalid type for 'stop': expected one of a string or array of strings, but got %s instead.", jsonKind(raw))
	}
	list := rawList(raw)
	switch {
	case len(list) == 0:
		return invalidRequest("stop", "empty_array", "Invalid 'stop': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	case len(list) > 4:
		return invalidRequest("stop", "array_above_max_length", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length %d instead.", len(list))
	}
	for i, s := range list {
		if _, ok := rawString(s); !ok {
			p := fmt.Sprintf("stop[%d]", i)
			return invalidRequest(p, "invalid_type", "Invalid type for '%s': expected a string, but got %s instead.", p, jsonKind(s))
		}
	}
	return nil
}

// choiceSuffix is what choice i of n adds to the text: nothing for the
// first, " (i)" for the others, so that the choices differ.
func choiceSuffix(i int) string {
	if i == 0 {
		return ""
	}
	return " (" + strconv.Itoa(i) + ")"
}
