package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4, checked as Bedrock checks it: the request's
// Authorization header,
//
//	AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/bedrock/aws4_request, SignedHeaders=h1;h2, Signature=hex
//
// must name the configured access key id, be scoped to the configured
// region and the bedrock service on the date of x-amz-date (within five
// minutes of now), and carry the signature that the configured secret
// gives the canonical request.

const (
	sigv4Algorithm  = "AWS4-HMAC-SHA256"
	sigv4Service    = "bedrock"
	sigv4Terminator = "aws4_request"
	amzDateFormat   = "20060102T150405Z"
	// maxClockSkew is how far x-amz-date may be from the emulator's clock.
	maxClockSkew = 5 * time.Minute
)

// sigv4Auth is a parsed Authorization header.
type sigv4Auth struct {
	keyID, date, region, service, terminator string
	signedHeaders                            []string
	signedHeadersRaw                         string
	signature                                string
}

// Messages of the authentication failures, as AWS words them.
const (
	msgBadToken     = "The security token included in the request is invalid."
	msgBadSignature = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func errMissingAuth() *bedrockError {
	return &bedrockError{status: http.StatusForbidden, typ: "MissingAuthenticationTokenException", outcome: outAuth,
		message: "Missing Authentication Token"}
}

func errIncompleteSignature(format string, args ...any) *bedrockError {
	return &bedrockError{status: http.StatusForbidden, typ: "IncompleteSignatureException", outcome: outAuth,
		message: fmt.Sprintf(format, args...)}
}

func errInvalidSignature(format string, args ...any) *bedrockError {
	return &bedrockError{status: http.StatusForbidden, typ: "InvalidSignatureException", outcome: outAuth,
		message: fmt.Sprintf(format, args...)}
}

func errUnrecognizedClient() *bedrockError {
	return &bedrockError{status: http.StatusForbidden, typ: "UnrecognizedClientException", outcome: outAuth,
		message: msgBadToken}
}

// sigv4KeyID is the access key id an Authorization header names, read
// leniently (it names the statistics key even when the header is bad);
// "" when it names none.
func sigv4KeyID(h string) string {
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, "/, ")
	if end < 0 {
		end = len(rest)
	}
	return rest[:end]
}

// parseSigV4 reads an Authorization header.
func parseSigV4(h string) (*sigv4Auth, *bedrockError) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, errMissingAuth()
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme != sigv4Algorithm {
		return nil, errIncompleteSignature("Unsupported authorization scheme %s: sign the request with %s.",
			appendJSONString(nil, scheme), sigv4Algorithm)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			params[k] = strings.TrimSpace(v)
		}
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(missing) > 0 {
		return nil, errIncompleteSignature("%s", strings.Join(missing, " "))
	}
	cred := strings.Split(params["Credential"], "/")
	if len(cred) != 5 {
		return nil, errIncompleteSignature("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'",
			params["Credential"])
	}
	a := &sigv4Auth{keyID: cred[0], date: cred[1], region: cred[2], service: cred[3], terminator: cred[4],
		signedHeadersRaw: params["SignedHeaders"], signature: params["Signature"]}
	a.signedHeaders = strings.Split(a.signedHeadersRaw, ";")
	for _, name := range a.signedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return nil, errIncompleteSignature("SignedHeaders must be lower-case header names separated by ';', got '%s'.", a.signedHeadersRaw)
		}
	}
	return a, nil
}

// verifySigV4 checks the signature of a Bedrock request whose body is
// body at time now. form tells which canonical URI the signature matched
// (see canonicalURIs).
func (cfg *config) verifySigV4(r *http.Request, rawPath string, body []byte, now time.Time) (form string, be *bedrockError) {
	a, be := parseSigV4(r.Header.Get("Authorization"))
	if be != nil {
		return "", be
	}
	if a.keyID != cfg.awsAccessKeyID {
		return "", errUnrecognizedClient()
	}
	tokens := r.Header.Values("X-Amz-Security-Token")
	switch {
	case cfg.awsSessionToken == "" && len(tokens) > 0:
		return "", errUnrecognizedClient()
	case cfg.awsSessionToken != "" && (len(tokens) != 1 || tokens[0] != cfg.awsSessionToken):
		return "", errUnrecognizedClient()
	}

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", errIncompleteSignature("Authorization header requires existence of a 'X-Amz-Date' header.")
	}
	at, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return "", errIncompleteSignature("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
	}
	switch {
	case a.date != amzDate[:8]:
		return "", errInvalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, amzDate[:8], amzDate)
	case a.region != cfg.awsRegion:
		return "", errInvalidSignature("Credential should be scoped to a valid region: '%s', not '%s'.", cfg.awsRegion, a.region)
	case a.service != sigv4Service:
		return "", errInvalidSignature("Credential should be scoped to correct service: '%s'.", sigv4Service)
	case a.terminator != sigv4Terminator:
		return "", errInvalidSignature("Credential should be scoped with a valid terminator: '%s', not '%s'.", sigv4Terminator, a.terminator)
	}
	now = now.UTC()
	if at.Before(now.Add(-maxClockSkew)) {
		return "", errInvalidSignature("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if at.After(now.Add(maxClockSkew)) {
		return "", errInvalidSignature("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			amzDate, now.Add(maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if !contains(a.signedHeaders, "host") {
		return "", errIncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if cfg.awsSessionToken != "" && !contains(a.signedHeaders, "x-amz-security-token") {
		return "", errIncompleteSignature("'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" && v != payload {
		return "", errInvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	var b strings.Builder
	for _, name := range a.signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(signedHeaderValue(r, name))
		b.WriteByte('\n')
	}
	headers := b.String()
	query := canonicalQuery(r.URL.RawQuery)
	scope := a.date + "/" + a.region + "/" + a.service + "/" + a.terminator
	key := sigv4SigningKey(cfg.awsSecretAccessKey, a.date, a.region, a.service)
	for _, u := range canonicalURIs(rawPath) {
		creq := r.Method + "\n" + u.uri + "\n" + query + "\n" + headers + "\n" + a.signedHeadersRaw + "\n" + payload
		sig := hex.EncodeToString(hmacSHA256(key, sigv4StringToSign(amzDate, scope, creq)))
		if subtle.ConstantTimeCompare([]byte(sig), []byte(strings.ToLower(a.signature))) == 1 {
			return u.form, nil
		}
	}
	return "", errInvalidSignature("%s", msgBadSignature)
}

// canonicalURI is one way of forming the canonical URI of a request.
type canonicalURI struct {
	uri  string
	form string // "as sent" or "encoded again"
}

// canonicalURIs lists the canonical URIs a signature may have been made
// with, from the path as it appears in the request line (already encoded
// once by the client):
//
//   - "as sent": the path itself. libcurl's --aws-sigv4 signs the path as it
//     appears in the request line, and so does a client that sends ':' in
//     a model id unencoded and signs it that way.
//   - "encoded again": each segment URI-encoded once more, as the
//     specification asks of every service but S3 and as the AWS SDKs do:
//     a model id sent as "...-v1%3A0" is signed as "...-v1%253A0".
//
// When the two are the same (a path of unreserved characters only) there
// is one.
func canonicalURIs(rawPath string) []canonicalURI {
	if rawPath == "" {
		rawPath = "/"
	}
	segs := strings.Split(rawPath, "/")
	for i, s := range segs {
		segs[i] = sigv4Escape(s)
	}
	out := []canonicalURI{{uri: rawPath, form: "as sent"}}
	if again := strings.Join(segs, "/"); again != rawPath {
		out = append(out, canonicalURI{uri: again, form: "encoded again"})
	}
	return out
}

// signedHeaderValue is the canonical value of a signed header: its values
// trimmed, runs of spaces made one, joined with commas. Go keeps Host, and
// may keep Content-Length and Transfer-Encoding, out of the header map.
func signedHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	default:
		vals = r.Header.Values(name)
		if len(vals) == 0 {
			switch {
			case name == "content-length" && r.ContentLength >= 0:
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			case name == "transfer-encoding":
				vals = r.TransferEncoding
			}
		}
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalQuery is the canonical query string of a raw query: each name
// and value decoded and URI-encoded as SigV4 encodes them, the pairs
// sorted by name, then value.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs [][2]string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		pairs = append(pairs, [2]string{sigv4Escape(looseUnescape(k)), sigv4Escape(looseUnescape(v))})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p[0] + "=" + p[1])
	}
	return b.String()
}

// looseUnescape decodes %XX escapes ('+' stays '+'); text that is not a
// valid escape is kept as it is.
func looseUnescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// sigv4Escape URI-encodes s as SigV4 does: every byte but the unreserved
// characters A-Z a-z 0-9 - _ . ~ becomes %XX, upper-case hex.
func sigv4Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// sigv4StringToSign is the string to sign for a canonical request.
func sigv4StringToSign(amzDate, scope, canonicalRequest string) []byte {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return []byte(sigv4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:]))
}

// sigv4SigningKey derives the signing key: HMAC-SHA256 of the date, the
// region, the service and "aws4_request" in turn, starting from "AWS4" and
// the secret.
func sigv4SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(sigv4Terminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}
