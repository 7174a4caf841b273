package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

const (
	specURL = "file:///openai-openapi.json"
	// specSchema checks /v1/chat/completions bodies; the document must have it.
	specSchema = "CreateChatCompletionRequest"
	// specResponsesSchema checks /v1/responses bodies when the document has it.
	specResponsesSchema = "CreateResponse"
)

// specValidator checks request bodies against schemas of an OpenAPI 3.1
// document: CreateChatCompletionRequest and, when present, CreateResponse,
// CreateEmbeddingRequest and CreateBatchRequest.
type specValidator struct {
	schemas map[string]*jsonschema.Schema
	printer *message.Printer
}

func loadSpec(path string) (*specValidator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := &specValidator{schemas: map[string]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	for _, name := range []string{specSchema, specResponsesSchema, specEmbeddingsSchema, specBatchSchema} {
		// The Responses schema is compiled with oneOf read as anyOf (see
		// oneOfAsAnyOf).
		sch, err := compileSpecSchema(data, name, name == specResponsesSchema)
		if err != nil {
			if name != specSchema {
				// Only the chat completions schema is essential; a document
				// without a Responses (or embeddings) schema that compiles
				// leaves /v1/responses (or /v1/embeddings) bodies unchecked.
				continue
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		v.schemas[name] = sch
	}
	return v, nil
}

// compileSpecSchema compiles #/components/schemas/name of an OpenAPI
// document, from a copy of its own: nullable is honoured, the draft
// 2019-09 recursion rewritten and, with anyOf, every oneOf read as anyOf.
func compileSpecSchema(data []byte, name string, anyOf bool) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if !hasSchema(doc, name) {
		return nil, fmt.Errorf("no schema %s", name)
	}
	doc = honourNullable(doc)
	fixRecursiveRefs(doc)
	if anyOf {
		oneOfAsAnyOf(doc)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseRegexpEngine(lenientRegexp)
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(specURL + "#/components/schemas/" + name)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", name, err)
	}
	return sch, nil
}

// oneOfAsAnyOf turns every oneOf into anyOf. The Responses input item
// variants overlap (a message with input_text parts is both an
// EasyInputMessage and an InputMessage), so a strict oneOf would refuse
// ordinary requests.
func oneOfAsAnyOf(v any) {
	switch t := v.(type) {
	case []any:
		for _, c := range t {
			oneOfAsAnyOf(c)
		}
	case map[string]any:
		for _, c := range t {
			oneOfAsAnyOf(c)
		}
		if o, ok := t["oneOf"]; ok {
			if _, clash := t["anyOf"]; !clash {
				delete(t, "oneOf")
				t["anyOf"] = o
			}
		}
	}
}

// hasSchema reports whether the document defines #/components/schemas/name.
func hasSchema(doc any, name string) bool {
	m, _ := doc.(map[string]any)
	comps, _ := m["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	_, ok := schemas[name]
	return ok
}

// honourNullable rewrites the OpenAPI 3.0 "nullable: true" keyword, which
// the document still uses in places, into its JSON Schema meaning. Other
// OpenAPI extras (discriminator, x-*) are left for the validator to ignore.
func honourNullable(v any) any {
	switch t := v.(type) {
	case []any:
		for i := range t {
			t[i] = honourNullable(t[i])
		}
		return t
	case map[string]any:
		for k, c := range t {
			t[k] = honourNullable(c)
		}
		if n, ok := t["nullable"].(bool); !ok || !n {
			return t
		}
		delete(t, "nullable")
		switch typ := t["type"].(type) {
		case string:
			t["type"] = []any{typ, "null"}
		case []any:
			t["type"] = append(typ, "null")
		default:
			return map[string]any{"anyOf": []any{t, map[string]any{"type": "null"}}}
		}
		if enum, ok := t["enum"].([]any); ok {
			t["enum"] = append(enum, nil)
		}
		return t
	}
	return v
}

// fixRecursiveRefs rewrites the draft 2019-09 recursion keywords a few
// schemas use ("$recursiveAnchor": true with "$recursiveRef": "#" inside),
// which the 2020-12 metaschema rejects, into a plain "$ref" to the schema
// that carries the anchor. A "$recursiveRef" outside such a schema accepts
// anything.
func fixRecursiveRefs(doc any) {
	m, _ := doc.(map[string]any)
	comps, _ := m["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	var walk func(v any, target string)
	walk = func(v any, target string) {
		switch t := v.(type) {
		case []any:
			for _, c := range t {
				walk(c, target)
			}
		case map[string]any:
			if a, ok := t["$recursiveAnchor"].(bool); ok {
				delete(t, "$recursiveAnchor")
				if !a {
					target = ""
				}
			}
			if _, ok := t["$recursiveRef"]; ok {
				delete(t, "$recursiveRef")
				if target != "" {
					t["$ref"] = target
				}
			}
			for _, c := range t {
				walk(c, target)
			}
		}
	}
	for name, s := range schemas {
		target := ""
		if sm, ok := s.(map[string]any); ok {
			if a, _ := sm["$recursiveAnchor"].(bool); a {
				target = "#/components/schemas/" + name
			}
		}
		walk(s, target)
	}
}

// lenientRegexp compiles patterns with Go's regexp; a pattern Go cannot
// express is not enforced rather than failing the whole document.
func lenientRegexp(s string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return anyString(s), nil
	}
	return re, nil
}

type anyString string

func (a anyString) String() string          { return string(a) }
func (a anyString) MatchString(string) bool { return true }

// validate returns nil for a body conforming to the named schema (or when
// the document lacks that schema), or a 400 naming the failing location and
// the reasons.
func (s *specValidator) validate(schema string, body []byte) *apiError {
	sch := s.schemas[schema]
	if sch == nil {
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return errInvalidJSON()
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return invalidRequest("", "", "Request body could not be checked against %s: %v", schema, err)
	}
	loc, reasons := s.deepest(ve)
	param := paramPath(loc)
	where := param
	if where == "" {
		where = "(request body)"
	}
	aerr := invalidRequest(param, "", "Invalid request body: '%s' does not match the %s schema: %s.", where, schema, strings.Join(reasons, "; "))
	aerr.outcome = outSpecViolation
	return aerr
}

// deepest picks the leaf errors with the deepest instance location, after
// discarding alternatives (oneOf/anyOf branches) that plainly do not apply:
// those rejected on a discriminating property such as "role" or "type",
// and those rejected only for being of another type altogether.
func (s *specValidator) deepest(ve *jsonschema.ValidationError) ([]string, []string) {
	var loc []string
	var reasons []string
	seen := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range relevantCauses(e) {
				walk(c)
			}
			return
		}
		switch {
		case reasons == nil || len(e.InstanceLocation) > len(loc):
			loc = e.InstanceLocation
			reasons = nil
			seen = map[string]bool{}
		case len(e.InstanceLocation) < len(loc) || !slices.Equal(e.InstanceLocation, loc):
			return
		}
		r := e.ErrorKind.LocalizedString(s.printer)
		if !seen[r] {
			seen[r] = true
			reasons = append(reasons, r)
		}
	}
	walk(ve)
	const maxReasons = 6
	if len(reasons) > maxReasons {
		reasons = append(reasons[:maxReasons], "...")
	}
	return loc, reasons
}

func relevantCauses(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
	case *kind.OneOf:
		if k.Subschemas != nil {
			return e.Causes // several branches matched; all are relevant
		}
	default:
		return e.Causes
	}
	causes := e.Causes
	for _, drop := range []func(*jsonschema.ValidationError, []string) bool{discriminatorMismatch, onlyTypeMismatch} {
		var kept []*jsonschema.ValidationError
		for _, c := range causes {
			if !drop(c, e.InstanceLocation) {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			causes = kept
		}
	}
	return causes
}

// leaves calls f for every leaf error below e.
func leaves(e *jsonschema.ValidationError, f func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		f(e)
	}
	for _, c := range e.Causes {
		leaves(c, f)
	}
}

// discriminatorMismatch reports whether a branch failed because a direct
// property of the value at base has the wrong constant (e.g. role or type).
func discriminatorMismatch(c *jsonschema.ValidationError, base []string) bool {
	found := false
	leaves(c, func(l *jsonschema.ValidationError) {
		switch l.ErrorKind.(type) {
		case *kind.Const, *kind.Enum:
			if len(l.InstanceLocation) == len(base)+1 && slices.Equal(l.InstanceLocation[:len(base)], base) {
				found = true
			}
		}
	})
	return found
}

// onlyTypeMismatch reports whether a branch failed only because the value
// at base is of another type.
func onlyTypeMismatch(c *jsonschema.ValidationError, base []string) bool {
	only := true
	leaves(c, func(l *jsonschema.ValidationError) {
		if _, ok := l.ErrorKind.(*kind.Type); !ok || !slices.Equal(l.InstanceLocation, base) {
			only = false
		}
	})
	return only
}

// paramPath renders an instance location the way OpenAI names parameters:
// ["messages","0","content"] -> "messages[0].content".
func paramPath(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}
