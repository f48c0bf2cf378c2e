package api

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// apiError is the body of every error response: Error says what went
// wrong in a few words, Reason names what and where.
type apiError struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
	// Problems lists each problem of a rejected config (reload).
	Problems []string `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, "{\"error\":\"internal error\",\"reason\":%q}\n", "encode response: "+err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, code int, what, reason string) {
	writeJSON(w, code, apiError{Error: what, Reason: reason})
}

// jsonKind names what JSON a Go type expects, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	}
	return "a number"
}

// requestError is a client error with its status, message and reason.
type requestError struct {
	code   int
	what   string
	reason string
}

func (e *requestError) Error() string { return e.what + ": " + e.reason }

// decodeOptions make request bodies strict: besides what JSON itself
// forbids (and go-json-experiment/json rejects by default: invalid UTF-8,
// duplicate names), no unknown fields, and names match exactly. A body
// such as {"on":true,"On":false} or {"ON":true} is refused rather than
// read one way here and another way by whatever proxy or log sees it.
var decodeOptions = json.JoinOptions(json.RejectUnknownMembers(true), json.MatchCaseInsensitiveNames(false))

// decodeStrict decodes the request body into v: one JSON object, no
// unknown, duplicate or case-variant fields, nothing after it, at most
// max bytes. Its errors say what is wrong and where (field, byte offset).
func decodeStrict(w http.ResponseWriter, r *http.Request, max int64, v any) *requestError {
	where := r.Method + " " + r.URL.Path
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &requestError{http.StatusUnsupportedMediaType, "unsupported content type",
				fmt.Sprintf("%s: body must be application/json, got %q", where, ct)}
		}
	}
	// Read it all first: a body too large is a 413 whatever it holds.
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &requestError{http.StatusRequestEntityTooLarge, "request body too large",
			fmt.Sprintf("%s: body exceeds %d bytes", where, tooBig.Limit)}
	case err != nil:
		return &requestError{http.StatusBadRequest, "body not read", fmt.Sprintf("%s: %v", where, err)}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	if err := json.UnmarshalDecode(dec, v, decodeOptions); err != nil {
		return bodyError(where, v, err)
	}
	// Exactly one value: anything but the end of the body is an error.
	off := dec.InputOffset()
	if _, err := dec.ReadToken(); err != io.EOF {
		return &requestError{http.StatusBadRequest, "bad JSON",
			fmt.Sprintf("%s: unexpected data after the JSON object at byte %d", where, off)}
	}
	return nil
}

// bodyError turns a decoding error into a 400 naming the field and byte
// offset.
func bodyError(where string, v any, err error) *requestError {
	var (
		syn *jsontext.SyntacticError
		sem *json.SemanticError
	)
	bad := func(format string, args ...any) *requestError {
		return &requestError{http.StatusBadRequest, "bad JSON", where + ": " + fmt.Sprintf(format, args...)}
	}
	switch {
	case errors.Is(err, io.EOF):
		return &requestError{http.StatusBadRequest, "empty body", where + ": expected a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body ends in the middle of the JSON object")
	case errors.As(err, &syn) && syn.Err == jsontext.ErrDuplicateName:
		return bad("field %q appears twice (at byte %d)", clip(syn.JSONPointer.LastToken()), syn.ByteOffset)
	case errors.As(err, &syn):
		return bad("%v%s (at byte %d)", syn.Err, within(syn.JSONPointer), syn.ByteOffset)
	case errors.As(err, &sem) && sem.Err == json.ErrUnknownName:
		name, parent := sem.JSONPointer.LastToken(), sem.JSONPointer.Parent()
		if parent != "" {
			return bad("unknown field %q%s", clip(name), within(parent))
		}
		for _, known := range fieldNames(v) {
			if strings.EqualFold(name, known) {
				return bad("unknown field %q: field names are case-sensitive, this one is %q", clip(name), known)
			}
		}
		return bad("unknown field %q; known: %s", clip(name), quoteAll(fieldNames(v)))
	case errors.As(err, &sem) && sem.Err == nil && sem.GoType != nil:
		what := "the body"
		if sem.JSONPointer != "" {
			what = fmt.Sprintf("field %q", clip(strings.TrimPrefix(string(sem.JSONPointer), "/")))
		}
		return bad("%s must be %s, got JSON %s (at byte %d)", what, jsonKind(sem.GoType), kindName(sem.JSONKind), sem.ByteOffset)
	}
	return bad("%v", err)
}

// within names where in the body a problem is, when not at the top.
func within(p jsontext.Pointer) string {
	if p == "" {
		return ""
	}
	return fmt.Sprintf(" in %q", clip(string(p)))
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

// fieldNames lists the JSON names of v's struct fields, for error
// messages.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
