package main

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Deterministic JSON documents for a JSON Schema: the smallest valid
// document the emulator can think of, and one that violates the schema.
//
//   - object: the required properties (all properties when strict), in the
//     order of "properties", then required names without a property schema;
//     more properties are added to reach minProperties
//   - string: const, else the first enum value, else minLength "a"s
//   - integer, number: minimum (or just above exclusiveMinimum) if given,
//     else 0, kept within maximum / exclusiveMaximum and multipleOf
//   - boolean: false; null: null
//   - array: minItems items, from prefixItems and then items
//   - anyOf, oneOf: the first branch; allOf: the branches merged
//   - $ref: JSON pointers into the schema, e.g. #/$defs/X or #/definitions/X
//   - no type: inferred from the keywords present, else null ({} at the top)

// maxSchemaDepth bounds recursion through nested and recursive schemas.
const maxSchemaDepth = 48

type schemaGen struct {
	root   json.RawMessage
	strict bool
}

// generateDocument returns the minimal valid document for schema (nil:
// any JSON object).
func generateDocument(schema json.RawMessage, strict bool) []byte {
	if schema == nil {
		return []byte("{}")
	}
	g := &schemaGen{root: schema, strict: strict}
	return g.gen(nil, schema, 0, true)
}

// violatingDocument returns a document that does not conform to schema:
// the minimal document without its first required property or, when the
// schema requires none, with a value of the wrong type (in its first
// property, or as the whole document).
func violatingDocument(schema json.RawMessage, strict bool) []byte {
	if schema == nil {
		return []byte("[]")
	}
	g := &schemaGen{root: schema, strict: strict}
	s := g.resolve(schema, 0)
	if s != nil && g.typeOf(s, true) == "object" {
		props, _ := parseObject(s.get("properties"))
		if req := stringList(s.get("required")); len(req) > 0 {
			return g.object(nil, s, 0, req[0], "")
		}
		if props != nil && len(props.keys) > 0 {
			return g.object(nil, s, 0, "", props.keys[0])
		}
	}
	return wrongValue(g, s, true)
}

// resolve follows $ref, allOf and anyOf/oneOf down to a schema object. It
// returns nil for boolean schemas and anything that is not an object.
func (g *schemaGen) resolve(raw json.RawMessage, depth int) *jsonObject {
outer:
	for ; depth < maxSchemaDepth; depth++ {
		o, ok := parseObject(raw)
		if !ok {
			return nil
		}
		if ref, ok := rawString(o.get("$ref")); ok {
			target, found := g.pointer(ref)
			if !found {
				return &jsonObject{values: map[string]json.RawMessage{}}
			}
			raw = target
			continue
		}
		if branches := rawList(o.get("allOf")); len(branches) > 0 {
			return g.mergeAllOf(o, branches, depth)
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			if branches := rawList(o.get(k)); len(branches) > 0 {
				raw = branches[0]
				continue outer
			}
		}
		return o
	}
	return nil
}

// mergeAllOf combines a schema with its allOf branches: properties and
// required names are united, other keywords come from the first place
// that has them.
func (g *schemaGen) mergeAllOf(o *jsonObject, branches []json.RawMessage, depth int) *jsonObject {
	m := &jsonObject{values: map[string]json.RawMessage{}}
	props := &jsonObject{values: map[string]json.RawMessage{}}
	var required []string
	add := func(s *jsonObject) {
		if s == nil {
			return
		}
		for _, k := range s.keys {
			switch k {
			case "allOf", "anyOf", "oneOf", "$ref":
			case "properties":
				if p, ok := parseObject(s.get(k)); ok {
					for _, pk := range p.keys {
						if _, dup := props.values[pk]; !dup {
							props.keys = append(props.keys, pk)
							props.values[pk] = p.get(pk)
						}
					}
				}
			case "required":
				required = append(required, stringList(s.get(k))...)
			default:
				if _, dup := m.values[k]; !dup {
					m.keys = append(m.keys, k)
					m.values[k] = s.get(k)
				}
			}
		}
	}
	var ownKeys []string
	for _, k := range o.keys {
		if k != "allOf" {
			ownKeys = append(ownKeys, k)
		}
	}
	add(g.resolve(orderedJSON(o.values, ownKeys), depth+1))
	for _, b := range branches {
		add(g.resolve(b, depth+1))
	}
	if len(props.keys) > 0 {
		m.keys = append(m.keys, "properties")
		m.values["properties"] = orderedJSON(props.values, props.keys)
	}
	if len(required) > 0 {
		seen := map[string]bool{}
		var uniq []string
		for _, r := range required {
			if !seen[r] {
				seen[r] = true
				uniq = append(uniq, r)
			}
		}
		b, _ := json.Marshal(uniq)
		m.keys = append(m.keys, "required")
		m.values["required"] = b
	}
	return m
}

// orderedJSON renders an object with its keys in the given order.
func orderedJSON(values map[string]json.RawMessage, keys []string) json.RawMessage {
	b := []byte{'{'}
	n := 0
	for _, k := range keys {
		v, ok := values[k]
		if !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}')
}

// pointer resolves a local JSON pointer such as #/$defs/Item.
func (g *schemaGen) pointer(ref string) (json.RawMessage, bool) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	cur := g.root
	if frag == "" {
		return cur, true
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if o, ok := parseObject(cur); ok {
			v, found := o.values[tok]
			if !found {
				return nil, false
			}
			cur = v
			continue
		}
		list := rawList(cur)
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(list) {
			return nil, false
		}
		cur = list[i]
	}
	return cur, true
}

// typeOf is the type the generator produces for s: the first listed type,
// or one inferred from the keywords present.
func (g *schemaGen) typeOf(s *jsonObject, top bool) string {
	raw := s.get("type")
	if t, ok := rawString(raw); ok {
		return t
	}
	if types := stringList(raw); len(types) > 0 {
		return types[0]
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if s.get(k) != nil {
				return true
			}
		}
		return false
	}
	switch {
	case has("properties", "required", "additionalProperties", "minProperties", "patternProperties"):
		return "object"
	case has("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"):
		return "array"
	case has("minLength", "maxLength", "pattern", "format"):
		return "string"
	case has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
		return "number"
	case top:
		return "object"
	}
	return "null"
}

// gen appends the minimal document for raw.
func (g *schemaGen) gen(b []byte, raw json.RawMessage, depth int, top bool) []byte {
	if depth >= maxSchemaDepth {
		return append(b, "null"...)
	}
	s := g.resolve(raw, depth)
	if s == nil {
		if top {
			return append(b, "{}"...)
		}
		return append(b, "null"...)
	}
	if c := s.get("const"); c != nil {
		return append(b, compactJSON(c)...)
	}
	if e := rawList(s.get("enum")); len(e) > 0 {
		return append(b, compactJSON(e[0])...)
	}
	switch g.typeOf(s, top) {
	case "object":
		return g.object(b, s, depth, "", "")
	case "array":
		return g.array(b, s, depth)
	case "string":
		n, _ := schemaNumber(s.get("minLength"))
		return appendJSONString(b, strings.Repeat("a", int(min(max(n, 0), 1<<16))))
	case "integer":
		return strconv.AppendInt(b, integerValue(s), 10)
	case "number":
		return strconv.AppendFloat(b, numberValue(s), 'g', -1, 64)
	case "boolean":
		return append(b, "false"...)
	}
	return append(b, "null"...)
}

// object appends the minimal object for s, leaving out the property named
// drop and giving the property named wrong a value of the wrong type.
func (g *schemaGen) object(b []byte, s *jsonObject, depth int, drop, wrong string) []byte {
	props, _ := parseObject(s.get("properties"))
	if props == nil {
		props = &jsonObject{values: map[string]json.RawMessage{}}
	}
	required := stringList(s.get("required"))
	include := map[string]bool{}
	for _, r := range required {
		include[r] = true
	}
	if g.strict {
		for _, k := range props.keys {
			include[k] = true
		}
	}
	if wrong != "" {
		include[wrong] = true
	}
	var names []string
	for _, k := range props.keys {
		if include[k] {
			names = append(names, k)
		}
	}
	for _, r := range required {
		if _, ok := props.values[r]; !ok && !contains(names, r) {
			names = append(names, r)
		}
	}
	if minProps, ok := schemaNumber(s.get("minProperties")); ok {
		for _, k := range props.keys {
			if float64(len(names)) >= minProps {
				break
			}
			if !contains(names, k) {
				names = append(names, k)
			}
		}
	}
	b = append(b, '{')
	n := 0
	for _, k := range names {
		if k == drop {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, k)
		b = append(b, ':')
		ps, ok := props.values[k]
		if !ok {
			// A required name without a property schema follows
			// additionalProperties when that is a schema.
			ps = s.get("additionalProperties")
			if _, isObj := parseObject(ps); !isObj {
				ps = json.RawMessage("true")
			}
		}
		if k == wrong {
			b = append(b, wrongValue(g, g.resolve(ps, depth+1), false)...)
			continue
		}
		b = g.gen(b, ps, depth+1, false)
	}
	return append(b, '}')
}

// array appends minItems items: from prefixItems (or a draft-7 items list)
// first, then from items (or additionalItems).
func (g *schemaGen) array(b []byte, s *jsonObject, depth int) []byte {
	n, _ := schemaNumber(s.get("minItems"))
	count := int(min(max(n, 0), 1<<12))
	prefix := rawList(s.get("prefixItems"))
	rest := s.get("items")
	if list := rawList(rest); jsonKind(rest) == "an array" {
		prefix, rest = list, s.get("additionalItems")
	}
	if rest == nil {
		rest = json.RawMessage("true")
	}
	b = append(b, '[')
	for i := 0; i < count; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if i < len(prefix) {
			b = g.gen(b, prefix[i], depth+1, false)
		} else {
			b = g.gen(b, rest, depth+1, false)
		}
	}
	return append(b, ']')
}

// bounds reads the numeric limits of s. Draft-4 boolean exclusive limits
// qualify minimum and maximum.
type bounds struct {
	lo, hi       float64
	hasLo, hasHi bool
	exLo, exHi   bool
	multipleOf   float64
}

func readBounds(s *jsonObject) bounds {
	var bd bounds
	if v, ok := schemaNumber(s.get("minimum")); ok {
		bd.lo, bd.hasLo = v, true
		bd.exLo = strings.TrimSpace(string(s.get("exclusiveMinimum"))) == "true"
	}
	if v, ok := schemaNumber(s.get("exclusiveMinimum")); ok && (!bd.hasLo || v >= bd.lo) {
		bd.lo, bd.hasLo, bd.exLo = v, true, true
	}
	if v, ok := schemaNumber(s.get("maximum")); ok {
		bd.hi, bd.hasHi = v, true
		bd.exHi = strings.TrimSpace(string(s.get("exclusiveMaximum"))) == "true"
	}
	if v, ok := schemaNumber(s.get("exclusiveMaximum")); ok && (!bd.hasHi || v <= bd.hi) {
		bd.hi, bd.hasHi, bd.exHi = v, true, true
	}
	if v, ok := schemaNumber(s.get("multipleOf")); ok && v > 0 {
		bd.multipleOf = v
	}
	return bd
}

// integerValue is the minimum (the next integer above an exclusive one) if
// given, else 0, else the largest integer below a negative maximum; then
// the nearest multiple of multipleOf within the bounds.
func integerValue(s *jsonObject) int64 {
	bd := readBounds(s)
	var lo, hi int64 = math.MinInt64, math.MaxInt64
	if bd.hasLo {
		lo = clampInt(math.Ceil(bd.lo))
		if bd.exLo && float64(lo) == bd.lo {
			lo++
		}
	}
	if bd.hasHi {
		hi = clampInt(math.Floor(bd.hi))
		if bd.exHi && float64(hi) == bd.hi {
			hi--
		}
	}
	v := int64(0)
	switch {
	case bd.hasLo:
		v = lo
	case hi < 0:
		v = hi
	}
	if m := bd.multipleOf; m >= 1 && m == math.Trunc(m) {
		step := int64(m)
		if r := v % step; r != 0 {
			up := v - r // towards zero
			if v > 0 {
				up += step
			}
			if up < lo {
				up += step
			}
			if up > hi {
				up -= step
			}
			v = up
		}
	}
	return v
}

func clampInt(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// numberValue is the minimum (one above an exclusive one, or halfway to
// the maximum when that is closer) if given, else 0, else a value at or
// below a negative maximum; then rounded up to a multiple of multipleOf.
func numberValue(s *jsonObject) float64 {
	bd := readBounds(s)
	v := 0.0
	switch {
	case bd.hasLo:
		v = bd.lo
		if bd.exLo {
			v = bd.lo + 1
			if bd.hasHi && v >= bd.hi {
				v = (bd.lo + bd.hi) / 2
			}
		}
	case bd.hasHi && (bd.hi < 0 || (bd.hi == 0 && bd.exHi)):
		v = bd.hi
		if bd.exHi {
			v = bd.hi - 1
		}
	}
	if m := bd.multipleOf; m > 0 {
		if q := v / m; q != math.Trunc(q) {
			v = math.Ceil(q) * m
		}
	}
	return v
}

// wrongValue is a value whose type s does not allow (an untyped schema is
// taken to be of the type the generator infers for it).
func wrongValue(g *schemaGen, s *jsonObject, top bool) []byte {
	allowed := map[string]bool{}
	if s != nil {
		raw := s.get("type")
		if t, ok := rawString(raw); ok {
			allowed[t] = true
		}
		for _, t := range stringList(raw) {
			allowed[t] = true
		}
		if len(allowed) == 0 {
			allowed[g.typeOf(s, top)] = true
		}
	} else if top {
		allowed["object"] = true
	}
	if allowed["number"] {
		allowed["integer"] = true
	}
	candidates := []struct{ typ, doc string }{
		{"string", `"invalid"`}, {"boolean", "false"}, {"integer", "0"}, {"array", "[]"}, {"object", "{}"},
	}
	if allowed["object"] {
		candidates[0], candidates[3] = candidates[3], candidates[0]
	}
	for _, c := range candidates {
		if !allowed[c.typ] {
			return []byte(c.doc)
		}
	}
	return []byte(`"invalid"`)
}

// schemaNumber reads a numeric keyword.
func schemaNumber(raw json.RawMessage) (float64, bool) {
	if k := jsonKind(raw); k != "an integer" && k != "a decimal number" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	return v, err == nil
}

// rawList decodes a JSON array; anything else is an empty list.
func rawList(raw json.RawMessage) []json.RawMessage {
	if jsonKind(raw) != "an array" {
		return nil
	}
	var l []json.RawMessage
	json.Unmarshal(raw, &l)
	return l
}

// stringList decodes an array of strings, skipping other elements.
func stringList(raw json.RawMessage) []string {
	var out []string
	for _, r := range rawList(raw) {
		if s, ok := rawString(r); ok {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
