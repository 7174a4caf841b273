package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The OpenAI embeddings endpoint: POST /v1/embeddings (and Azure's
// /openai/deployments/{deployment}/embeddings). It shares the key's OpenAI
// window, headers, error shapes, faults and statistics with the chat
// completions endpoint; arrivals for the fault decisions are counted per
// endpoint. An embedding has no output tokens: the window is charged the
// input tokens only.

const (
	epEmbeddings = "embeddings"
	// specEmbeddingsSchema checks /v1/embeddings bodies when the document has it.
	specEmbeddingsSchema = "CreateEmbeddingRequest"
	// maxEmbeddingInputs is the longest input array OpenAI accepts.
	maxEmbeddingInputs = 2048
)

// embeddingFields are the top-level fields of CreateEmbeddingRequest; any
// other field is refused.
var embeddingFields = []string{"model", "input", "encoding_format", "dimensions", "user"}

// embeddingInput is one input item: a text, or a list of token ids.
type embeddingInput struct {
	text  string
	ids   []int64
	isIDs bool
}

// tokens is the item's cost: textTokens of a text (the estimator of chat
// prompts), one per token id.
func (in *embeddingInput) tokens() int64 {
	if in.isIDs {
		return int64(len(in.ids))
	}
	return textTokens(in.text)
}

// embeddingsRequest is what the emulator needs from an embeddings body.
type embeddingsRequest struct {
	model        string
	inputs       []embeddingInput
	dims         int // vector length
	base64       bool
	promptTokens int64
}

// nativeEmbeddingDims is a model's vector length when dimensions is not given.
func nativeEmbeddingDims(model string) int {
	if model == "text-embedding-3-large" {
		return 3072
	}
	return 1536 // text-embedding-3-small, text-embedding-ada-002 and any other model
}

// supportsDimensions reports whether a model takes the dimensions parameter.
func supportsDimensions(model string) bool { return strings.HasPrefix(model, "text-embedding-3") }

func (e *emulator) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	c := &call{e: e, w: w, r: r, start: time.Now(), key: bearerKey(r), batch: batchOf(r)}
	body, ok := c.admitOpenAI(specEmbeddingsSchema)
	if !ok {
		return
	}
	cfg := e.cfg
	req, aerr := parseEmbeddingsRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.model, c.promptTokens = req.model, req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[req.model] {
		c.fail(&apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", outcome: outBadRequest,
			message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.model)})
		return
	}
	refused := func(adm admission) *apiError { return e.rateLimitError(req.model, req.promptTokens, adm) }
	if !c.arriveOpenAI(c.ks.arrivalsOn(epEmbeddings), false, refused) {
		return
	}
	// The charge is the actual usage: nothing to reconcile later.
	if _, ok := admitAndWait(c, req.promptTokens, refused, c.fail); !ok {
		return
	}
	b := appendEmbeddingsReply(nil, req)
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// parseEmbeddingsRequest checks a CreateEmbeddingRequest body.
func parseEmbeddingsRequest(body []byte) (*embeddingsRequest, *apiError) {
	o, aerr := openAIObject(body, embeddingFields)
	if aerr != nil {
		return nil, aerr
	}
	req := &embeddingsRequest{}

	raw := o.get("model")
	if isAbsent(raw) {
		return nil, invalidRequest("model", "", "you must provide a model parameter")
	}
	model, ok := rawString(raw)
	if !ok {
		return nil, invalidRequest("model", "invalid_type", "Invalid type for 'model': expected a string, but got %s instead.", jsonKind(raw))
	}
	req.model = model

	if req.inputs, aerr = parseEmbeddingInputs(o.get("input")); aerr != nil {
		return nil, aerr
	}
	for i := range req.inputs {
		req.promptTokens += req.inputs[i].tokens()
	}

	format, _, aerr := oaEnum("encoding_format", o.get("encoding_format"), "float", "base64")
	if aerr != nil {
		return nil, aerr
	}
	req.base64 = format == "base64"

	native := nativeEmbeddingDims(model)
	req.dims = native
	dims, hasDims, aerr := oaInteger("dimensions", o.get("dimensions"), 1)
	if aerr != nil {
		return nil, aerr
	}
	if hasDims {
		if !supportsDimensions(model) {
			return nil, invalidRequest("dimensions", "", "This model does not support specifying dimensions.")
		}
		if dims > int64(native) {
			return nil, invalidRequest("dimensions", "integer_above_max_value",
				"Invalid 'dimensions': integer above maximum value. Expected a value <= %d, but got %d instead.", native, dims)
		}
		req.dims = int(dims)
	}
	if _, _, aerr := oaString("user", o.get("user")); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// errEmptyEmbeddingInput is OpenAI's answer to an empty string input.
func errEmptyEmbeddingInput(param string) *apiError {
	return invalidRequest(param, "", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
}

// parseEmbeddingInputs reads input: a string, an array of strings, an array
// of token ids or an array of arrays of token ids.
func parseEmbeddingInputs(raw json.RawMessage) ([]embeddingInput, *apiError) {
	if isAbsent(raw) {
		return nil, invalidRequest("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	}
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		if s == "" {
			return nil, errEmptyEmbeddingInput("input")
		}
		return []embeddingInput{{text: s}}, nil
	case "an array":
	default:
		return nil, invalidRequest("input", "invalid_type", "Invalid type for 'input': expected one of a string, an array of strings, "+
			"an array of integers or an array of arrays of integers, but got %s instead.", jsonKind(raw))
	}
	list := rawList(raw)
	switch {
	case len(list) == 0:
		return nil, invalidRequest("input", "empty_array", "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	case len(list) > maxEmbeddingInputs:
		return nil, invalidRequest("input", "array_above_max_length",
			"Invalid 'input': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", maxEmbeddingInputs, len(list))
	}
	// The first item decides which of the three array forms this is.
	switch jsonKind(list[0]) {
	case "a string":
		inputs := make([]embeddingInput, len(list))
		for i, item := range list {
			p := fmt.Sprintf("input[%d]", i)
			s, ok := rawString(item)
			if !ok {
				return nil, invalidRequest(p, "invalid_type", "Invalid type for '%s': expected a string, but got %s instead.", p, jsonKind(item))
			}
			if s == "" {
				return nil, errEmptyEmbeddingInput(p)
			}
			inputs[i] = embeddingInput{text: s}
		}
		return inputs, nil
	case "an integer":
		ids, aerr := parseTokenIDs("input", list)
		if aerr != nil {
			return nil, aerr
		}
		return []embeddingInput{{ids: ids, isIDs: true}}, nil
	case "an array":
		inputs := make([]embeddingInput, len(list))
		for i, item := range list {
			p := fmt.Sprintf("input[%d]", i)
			if jsonKind(item) != "an array" {
				return nil, invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an array of integers, but got %s instead.", p, jsonKind(item))
			}
			inner := rawList(item)
			if len(inner) == 0 {
				return nil, invalidRequest(p, "empty_array", "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", p)
			}
			ids, aerr := parseTokenIDs(p, inner)
			if aerr != nil {
				return nil, aerr
			}
			inputs[i] = embeddingInput{ids: ids, isIDs: true}
		}
		return inputs, nil
	}
	return nil, invalidRequest("input[0]", "invalid_type",
		"Invalid type for 'input[0]': expected one of a string, an integer or an array of integers, but got %s instead.", jsonKind(list[0]))
}

// parseTokenIDs reads the integers of an array of token ids at p.
func parseTokenIDs(p string, list []json.RawMessage) ([]int64, *apiError) {
	ids := make([]int64, len(list))
	for j, item := range list {
		pj := fmt.Sprintf("%s[%d]", p, j)
		if jsonKind(item) != "an integer" {
			return nil, invalidRequest(pj, "invalid_type", "Invalid type for '%s': expected an integer, but got %s instead.", pj, jsonKind(item))
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(item)), 10, 64)
		if err != nil {
			return nil, invalidRequest(pj, "invalid_value", "Invalid value for '%s': %s is not a token id.", pj, strings.TrimSpace(string(item)))
		}
		ids[j] = v
	}
	return ids, nil
}

// embeddingSeed hashes a model and one input item (FNV-1a, then the
// splitmix64 finaliser). A text and a list of token ids never share a seed.
func embeddingSeed(model string, in *embeddingInput) uint64 {
	h := fnvAddByte(fnvAdd(fnvOffset64, model), 0)
	if in.isIDs {
		h = fnvAddByte(h, 't')
		for _, id := range in.ids {
			h = fnvAddUint64(h, uint64(id))
		}
	} else {
		h = fnvAdd(fnvAddByte(h, 's'), in.text)
	}
	return mix64(h)
}

// embeddingVector is the embedding of one input: dims values drawn uniformly
// from [-1, 1) by a splitmix64 stream seeded with embeddingSeed, scaled to
// unit length and rounded to float32. The stream does not depend on dims,
// so a shortened vector is the full one cut and renormalised, as with
// OpenAI's text-embedding-3 models.
func embeddingVector(model string, in *embeddingInput, dims int) []float32 {
	raw := make([]float64, dims)
	state := embeddingSeed(model, in)
	var sum float64
	for i := range raw {
		state += 0x9e3779b97f4a7c15
		v := 2*unit(mix64(state)) - 1
		raw[i] = v
		sum += v * v
	}
	norm := math.Sqrt(sum)
	if norm == 0 {
		norm = 1
	}
	out := make([]float32, dims)
	for i, v := range raw {
		out[i] = float32(v / norm)
	}
	return out
}

// appendEmbeddingsReply appends the answer:
// {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
// "model":...,"usage":{"prompt_tokens":N,"total_tokens":N}}.
func appendEmbeddingsReply(b []byte, req *embeddingsRequest) []byte {
	per := 12 * req.dims
	if req.base64 {
		per = base64.StdEncoding.EncodedLen(4 * req.dims)
	}
	if b == nil {
		b = make([]byte, 0, 128+len(req.inputs)*(64+per))
	}
	b = append(b, `{"object":"list","data":[`...)
	var raw []byte
	for i := range req.inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		vec := embeddingVector(req.model, &req.inputs[i], req.dims)
		if req.base64 {
			raw = raw[:0]
			for _, f := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = appendVector(b, vec)
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = appendJSONString(b, req.model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, req.promptTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, req.promptTokens, 10)
	return append(b, "}}\n"...)
}

// appendVector appends a vector as a JSON array of float32 values in their
// shortest decimal form.
func appendVector(b []byte, vec []float32) []byte {
	b = append(b, '[')
	for j, f := range vec {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return append(b, ']')
}

// textEmbedding is the embedding of a text input: the vector
// /v1/embeddings gives the same model and text.
func textEmbedding(model, text string, dims int) []float32 {
	return embeddingVector(model, &embeddingInput{text: text}, dims)
}
