package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Checks of optional request parameters with OpenAI's error wording. Each
// returns present == false for an absent or null value.

// oaString reads an optional string parameter.
func oaString(param string, raw json.RawMessage) (s string, present bool, aerr *apiError) {
	if isAbsent(raw) {
		return "", false, nil
	}
	s, ok := rawString(raw)
	if !ok {
		return "", false, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected a string, but got %s instead.", param, jsonKind(raw))
	}
	return s, true, nil
}

// oaBool reads an optional boolean parameter.
func oaBool(param string, raw json.RawMessage) (v, present bool, aerr *apiError) {
	if isAbsent(raw) {
		return false, false, nil
	}
	switch strings.TrimSpace(string(raw)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected a boolean, but got %s instead.", param, jsonKind(raw))
}

// oaNumber reads an optional number parameter within [lo, hi].
func oaNumber(param string, raw json.RawMessage, lo, hi float64) (v float64, present bool, aerr *apiError) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	if k := jsonKind(raw); k != "an integer" && k != "a decimal number" {
		return 0, false, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected a decimal, but got %s instead.", param, k)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, false, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected a decimal, but got %s instead.", param, jsonKind(raw))
	}
	switch {
	case v < lo:
		return 0, false, invalidRequest(param, "decimal_below_min_value", "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got %g instead.", param, lo, v)
	case v > hi:
		return 0, false, invalidRequest(param, "decimal_above_max_value", "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got %g instead.", param, hi, v)
	}
	return v, true, nil
}

// oaInteger reads an optional integer parameter of at least lo, saturating
// at the int64 range.
func oaInteger(param string, raw json.RawMessage, lo int64) (v int64, present bool, aerr *apiError) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	if jsonKind(raw) != "an integer" {
		return 0, false, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected an integer, but got %s instead.", param, jsonKind(raw))
	}
	s := strings.TrimSpace(string(raw))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			v = math.MinInt64
		} else {
			v = math.MaxInt64
		}
	}
	if v < lo {
		return 0, false, invalidRequest(param, "integer_below_min_value", "Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", param, lo, v)
	}
	return v, true, nil
}

// oaObject reads an optional object parameter.
func oaObject(param string, raw json.RawMessage) (o *jsonObject, aerr *apiError) {
	if isAbsent(raw) {
		return nil, nil
	}
	o, ok := parseObject(raw)
	if !ok {
		return nil, invalidRequest(param, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", param, jsonKind(raw))
	}
	return o, nil
}

// oaEnum reads an optional string parameter restricted to values.
func oaEnum(param string, raw json.RawMessage, values ...string) (s string, present bool, aerr *apiError) {
	s, present, aerr = oaString(param, raw)
	if aerr != nil || !present {
		return s, present, aerr
	}
	for _, v := range values {
		if s == v {
			return s, true, nil
		}
	}
	return "", false, invalidRequest(param, "invalid_value", "Invalid value: '%s'. Supported values are: %s.", s, quoteList(values))
}

// quoteList renders 'a', 'b', and 'c' the way OpenAI's messages do.
func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + v + "'"
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	case 2:
		return q[0] + " and " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + ", and " + q[len(q)-1]
}

// compactJSON returns raw without insignificant whitespace.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
