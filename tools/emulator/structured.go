package main

import (
	"encoding/json"
	"regexp"
	"unicode/utf8"
)

// jsonFormat asks for a reply that is a JSON document.
type jsonFormat struct {
	schema json.RawMessage // nil: any JSON object
	strict bool            // every property is generated, not only the required ones
	answer bool            // JSON mode: the text reply as {"answer": text}
}

var formatNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// parseJSONSchemaFormat reads the fields of a json_schema format: name,
// schema, strict and description. p names the object holding them.
func parseJSONSchemaFormat(p string, o *jsonObject, schemaRequired bool) (*jsonFormat, *apiError) {
	if isAbsent(o.get("name")) {
		return nil, invalidRequest(p+".name", "missing_required_parameter", "Missing required parameter: '%s.name'.", p)
	}
	name, _, aerr := oaString(p+".name", o.get("name"))
	if aerr != nil {
		return nil, aerr
	}
	if !formatNameRe.MatchString(name) {
		return nil, invalidRequest(p+".name", "invalid_value", "Invalid '%s.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' with at most 64 characters.", p)
	}
	if _, _, aerr := oaString(p+".description", o.get("description")); aerr != nil {
		return nil, aerr
	}
	jf := &jsonFormat{}
	if jf.strict, _, aerr = oaBool(p+".strict", o.get("strict")); aerr != nil {
		return nil, aerr
	}
	raw := o.get("schema")
	if isAbsent(raw) {
		if schemaRequired {
			return nil, invalidRequest(p+".schema", "missing_required_parameter", "Missing required parameter: '%s.schema'.", p)
		}
		return jf, nil
	}
	if _, aerr := oaObject(p+".schema", raw); aerr != nil {
		return nil, aerr
	}
	jf.schema = compactJSON(raw)
	return jf, nil
}

// replyPlan is the generated answer of a successful call.
type replyPlan struct {
	text    string // the reply: plain text, or a JSON document (cut short when capped)
	tokens  int64  // output tokens
	capped  bool   // the output cap cut the reply short
	doc     []byte // the whole JSON document of a structured reply, nil for plain text
	invalid bool   // the document deliberately violates the schema
}

// planText plans a reply whose plain text would be base: base itself, or
// the JSON document for format ({"answer": base} in JSON mode), cut to
// maxOut tokens when hasMax and the cap is smaller.
func planText(base string, maxOut int64, hasMax bool, format *jsonFormat, invalid bool) replyPlan {
	p := replyPlan{text: base}
	if format != nil {
		switch {
		case invalid:
			p.doc = violatingDocument(format.schema, format.strict)
		case format.answer:
			p.doc = answerDocument(base)
		default:
			p.doc = generateDocument(format.schema, format.strict)
		}
		p.text, p.invalid = string(p.doc), invalid
	}
	p.tokens = textTokens(p.text)
	if hasMax && maxOut < p.tokens {
		p.text, p.tokens, p.capped = cutUTF8(p.text, 4*maxOut), maxOut, true
	}
	return p
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a character.
func cutUTF8(s string, n int64) string {
	if int64(len(s)) <= n {
		return s
	}
	i := int(n)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// invalidJSON decides whether the k-th arrival of a body (per key and
// endpoint) gets a document that violates its schema: the first
// --invalid-json-first arrivals do, later ones with --invalid-json-rate.
func (c *config) invalidJSON(d bodyDigest, k uint64) bool {
	if k < uint64(c.invalidJSONFirst) {
		return true
	}
	return c.invalidJSONRate > 0 && unit(draw(c.seed, d, k, saltInvalidJSON)) < c.invalidJSONRate
}

// parseResponseFormat reads the chat completions response_format.
func parseResponseFormat(raw json.RawMessage) (*jsonFormat, *apiError) {
	o, aerr := oaObject("response_format", raw)
	if aerr != nil || o == nil {
		return nil, aerr
	}
	if isAbsent(o.get("type")) {
		return nil, invalidRequest("response_format.type", "missing_required_parameter", "Missing required parameter: 'response_format.type'.")
	}
	typ, _, aerr := oaEnum("response_format.type", o.get("type"), "text", "json_object", "json_schema")
	if aerr != nil {
		return nil, aerr
	}
	switch typ {
	case "json_object":
		return &jsonFormat{answer: true}, nil
	case "json_schema":
		if isAbsent(o.get("json_schema")) {
			return nil, invalidRequest("response_format.json_schema", "missing_required_parameter", "Missing required parameter: 'response_format.json_schema'.")
		}
		js, aerr := oaObject("response_format.json_schema", o.get("json_schema"))
		if aerr != nil {
			return nil, aerr
		}
		return parseJSONSchemaFormat("response_format.json_schema", js, false)
	}
	return nil, nil
}
