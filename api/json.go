package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
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
	enc := json.NewEncoder(&buf)
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

// decodeStrict decodes the request body into v: one JSON object, no
// unknown fields, nothing after it, at most max bytes. Its errors say what
// is wrong and where (field, byte offset).
func decodeStrict(w http.ResponseWriter, r *http.Request, max int64, v any) *requestError {
	where := r.Method + " " + r.URL.Path
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &requestError{http.StatusUnsupportedMediaType, "unsupported content type",
				fmt.Sprintf("%s: body must be application/json, got %q", where, ct)}
		}
	}
	body := http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Exactly one value: anything but the end of the body is an error.
		if _, terr := dec.Token(); terr != io.EOF {
			err = terr
			if err == nil {
				err = fmt.Errorf("unexpected data after the JSON object at byte %d", dec.InputOffset())
			}
		}
	}
	if err == nil {
		return nil
	}
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &requestError{http.StatusRequestEntityTooLarge, "request body too large",
			fmt.Sprintf("%s: body exceeds %d bytes", where, tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return &requestError{http.StatusBadRequest, "empty body", where + ": expected a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{http.StatusBadRequest, "bad JSON", where + ": body ends in the middle of the JSON object"}
	case errors.As(err, &syn):
		return &requestError{http.StatusBadRequest, "bad JSON", fmt.Sprintf("%s: %v (at byte %d)", where, syn, syn.Offset)}
	case errors.As(err, &typ):
		what := "the body"
		if typ.Field != "" {
			what = fmt.Sprintf("field %q", typ.Field)
		}
		return &requestError{http.StatusBadRequest, "bad JSON", fmt.Sprintf("%s: %s must be %s, got JSON %s (at byte %d)", where, what, jsonKind(typ.Type), typ.Value, typ.Offset)}
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	return &requestError{http.StatusBadRequest, "bad JSON", fmt.Sprintf("%s: %v", where, err)}
}
