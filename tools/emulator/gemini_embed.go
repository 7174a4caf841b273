package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The Gemini API's embeddings: POST /v1beta/models/{model}:embedContent and
// POST /v1beta/models/{model}:batchEmbedContents. Keys, error shapes,
// --known-models, faults, --rate-limit-first (with RetryInfo) and the rate
// limits are those of generateContent; arrivals are counted per method.
// The window is charged the input tokens only. The vectors are those of
// /v1/embeddings for the same model and text; taskType and title do not
// change them. Both answers carry usageMetadata, which the real API may
// leave out, so that clients can check the accounting.

const (
	epGeminiEmbed      = "gemini-embed"
	epGeminiBatchEmbed = "gemini-batch-embed"
	// maxGeminiBatchEmbed is the most requests one batchEmbedContents takes.
	maxGeminiBatchEmbed = 100
)

var (
	geminiEmbedFields = []string{"model", "content", "taskType", "title", "outputDimensionality"}
	geminiTaskTypes   = []string{"TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
		"CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"}
)

// geminiEmbedItem is one text to embed and the length of its vector.
type geminiEmbedItem struct {
	text string
	dims int
}

// geminiEmbedRequest is what the emulator needs from an embedContent or
// batchEmbedContents body.
type geminiEmbedRequest struct {
	model        string
	batch        bool
	items        []geminiEmbedItem
	promptTokens int64
}

// geminiEmbedDims is a model's vector length when outputDimensionality
// does not shorten it: 3072 for the gemini-embedding models, 768 for
// text-embedding-004 and any other model.
func geminiEmbedDims(model string) int {
	if strings.HasPrefix(model, "gemini-embedding-") {
		return 3072
	}
	return 768
}

// embed answers embedContent and batchEmbedContents, once the key checks
// passed.
func (c *geminiCall) embed(body []byte) {
	cfg := c.e.cfg
	batch := c.method == "batchEmbedContents"
	req, ge := parseGeminiEmbed(c.model, batch, body)
	if ge != nil {
		c.fail(ge)
		return
	}
	c.promptTokens = req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[c.model] {
		c.fail(errGeminiModelNotFound(c.model, c.method))
		return
	}
	ep := epGeminiEmbed
	if batch {
		ep = epGeminiBatchEmbed
	}
	if !c.arrive(ep, false) {
		return
	}
	// The charge is the actual usage: nothing to reconcile later.
	if _, ok := c.admitAndWait(req.promptTokens); !ok {
		return
	}
	b := appendGeminiEmbedReply(nil, req)
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeGeminiJSON(c.w, http.StatusOK, b)
}

// appendGeminiEmbedReply appends {"embedding":{"values":[...]}} (embedContent)
// or {"embeddings":[{"values":[...]},...]} (batchEmbedContents), then
// "usageMetadata":{"promptTokenCount":N,"totalTokenCount":N}.
func appendGeminiEmbedReply(b []byte, req *geminiEmbedRequest) []byte {
	if b == nil {
		n := 0
		for _, it := range req.items {
			n += 16 + 12*it.dims
		}
		b = make([]byte, 0, 96+n)
	}
	if req.batch {
		b = append(b, `{"embeddings":[`...)
	} else {
		b = append(b, `{"embedding":`...)
	}
	for i, it := range req.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"values":`...)
		b = appendVector(b, textEmbedding(req.model, it.text, it.dims))
		b = append(b, '}')
	}
	if req.batch {
		b = append(b, ']')
	}
	b = append(b, `,"usageMetadata":{"promptTokenCount":`...)
	b = strconv.AppendInt(b, req.promptTokens, 10)
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, req.promptTokens, 10)
	return append(b, "}}\n"...)
}

// geminiRule is the 400 of a rule on one field of a request message,
// worded as Google's request checks word it: "* Type.field: rule\n".
func geminiRule(typ, field, format string, args ...any) *geminiError {
	return geminiBad("* %s.%s: %s\n", typ, field, fmt.Sprintf(format, args...))
}

// parseGeminiEmbed checks an embedContent body (batch false) or a
// batchEmbedContents body and computes its token figures.
func parseGeminiEmbed(model string, batch bool, body []byte) (*geminiEmbedRequest, *geminiError) {
	body, ge := geminiObject(body)
	if ge != nil {
		return nil, ge
	}
	req := &geminiEmbedRequest{model: model, batch: batch}
	if !batch {
		it, ge := parseEmbedContentRequest("EmbedContentRequest", "", model, false, body)
		if ge != nil {
			return nil, ge
		}
		req.items = []geminiEmbedItem{it}
	} else {
		const typ = "BatchEmbedContentsRequest"
		top, ge := gOpen("", typ, body, "model", "requests")
		if ge != nil {
			return nil, ge
		}
		if _, ge := gString("model", top.get("model")); ge != nil {
			return nil, ge
		}
		list, ge := gList("requests", geminiType+"EmbedContentRequest", top.get("requests"))
		if ge != nil {
			return nil, ge
		}
		switch {
		case len(list) == 0:
			return nil, geminiRule(typ, "requests", "requests is not specified")
		case len(list) > maxGeminiBatchEmbed:
			return nil, geminiRule(typ, "requests", "at most %d requests can be in one batch", maxGeminiBatchEmbed)
		}
		for i, raw := range list {
			it, ge := parseEmbedContentRequest(typ, fmt.Sprintf("requests[%d]", i), model, true, raw)
			if ge != nil {
				return nil, ge
			}
			req.items = append(req.items, it)
		}
	}
	for _, it := range req.items {
		req.promptTokens += textTokens(it.text)
	}
	return req, nil
}

// parseEmbedContentRequest reads one EmbedContentRequest at path p (""
// for the body itself) of a request of type typ. Within a batch the
// request must name the URL's model, with its "models/" prefix.
func parseEmbedContentRequest(typ, p, model string, inBatch bool, raw json.RawMessage) (geminiEmbedItem, *geminiError) {
	at := func(field string) string {
		if p == "" {
			return field
		}
		return p + "." + field
	}
	it := geminiEmbedItem{dims: geminiEmbedDims(model)}
	g, ge := gOpen(p, "EmbedContentRequest", raw, geminiEmbedFields...)
	if ge != nil {
		return it, ge
	}
	if g == nil {
		return it, geminiRule(typ, at("content"), "content is not specified")
	}
	name, ge := gString(g.path("model"), g.get("model"))
	if ge != nil {
		return it, ge
	}
	if inBatch {
		want := "models/" + model
		switch {
		case isAbsent(g.get("model")):
			return it, geminiRule(typ, at("model"), "model is not specified")
		case name != want:
			return it, geminiRule(typ, at("model"), "model %s does not match the model of the URL, %s",
				appendJSONString(nil, name), appendJSONString(nil, want))
		}
	}
	if isAbsent(g.get("content")) {
		return it, geminiRule(typ, at("content"), "content is not specified")
	}
	c, ge := gOpen(g.path("content"), "Content", g.get("content"), geminiContentFields...)
	if ge != nil {
		return it, ge
	}
	if _, ge := gString(c.path("role"), c.get("role")); ge != nil {
		return it, ge
	}
	parts, ge := gList(c.path("parts"), geminiType+"Part", c.get("parts"))
	if ge != nil {
		return it, ge
	}
	if len(parts) == 0 {
		return it, geminiRule(typ, c.path("parts"), "contents.parts must not be empty.")
	}
	var texts []string
	for j, praw := range parts {
		pp := fmt.Sprintf("%s[%d]", c.path("parts"), j)
		part, ge := gOpen(pp, "Part", praw, geminiPartFields...)
		if ge != nil {
			return it, ge
		}
		data, ge := partData(pp, part)
		if ge != nil {
			return it, ge
		}
		switch data {
		case "":
			return it, geminiRule(typ, pp+".data", "required oneof field 'data' must have one initialized field")
		case "text":
		default:
			return it, geminiRule(typ, pp+"."+snakeCase(data), "only text parts can be embedded")
		}
		s, ge := gString(part.path("text"), part.get("text"))
		if ge != nil {
			return it, ge
		}
		texts = append(texts, s)
	}
	it.text = strings.Join(texts, "")
	if it.text == "" {
		return it, geminiBad("The text content is empty.")
	}
	if _, ge := gEnum(g.path("taskType"), "TaskType", g.get("taskType"), geminiTaskTypes...); ge != nil {
		return it, ge
	}
	if _, ge := gString(g.path("title"), g.get("title")); ge != nil {
		return it, ge
	}
	n, ok, ge := gInt(g.path("outputDimensionality"), g.get("outputDimensionality"))
	if ge != nil {
		return it, ge
	}
	if ok && n != 0 {
		if n < 1 || n > int64(it.dims) {
			return it, geminiRule(typ, g.path("outputDimensionality"), "output_dimensionality must be in the range [1, %d] for models/%s.", it.dims, model)
		}
		it.dims = int(n)
	}
	return it, nil
}
