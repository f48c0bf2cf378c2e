package mqtt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePayload feeds arbitrary payloads to the decoder of a profile
// with every value type. It must never panic, and whatever it accepts must
// be complete, finite, in range and usable by the state rules.
func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(goodPayload))
	f.Add([]byte(`{"ts":1795600800,"serial":"x","status":{"running":0,"fault_code":3},"sensors":[{"temp":1}],"flags":65535}`))
	f.Add([]byte(`{"serial":"\ud800","status":[],"sensors":{"0":{"temp":"NaN"}}}`))
	files, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	p := testProfile(f)
	d := newDecoder(p, true)
	sc := &scratch{} // shared across inputs, as the driver's handler does
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, b := d.decode(payload)
		reused, rb := d.decodeWith(payload, sc)
		if (b == nil) != (rb == nil) || (b != nil && b.reason != rb.reason) ||
			(b == nil && !slices.Equal(got.values, reused.values)) || got.serial != reused.serial || got.time != reused.time {
			t.Fatalf("decoding with reused buffers differs: %+v %v, fresh %+v %v", reused, rb, got, b)
		}
		if b != nil {
			if b.reason == "" || b.err == nil {
				t.Fatalf("refusal without reason or detail: %+v", b)
			}
			return
		}
		if len(got.values) != len(p.Values) {
			t.Fatalf("%d values, want %d", len(got.values), len(p.Values))
		}
		for i, v := range p.Values {
			n := got.values[i].Num
			if math.IsNaN(n) || math.IsInf(n, 0) {
				t.Fatalf("value %s = %v accepted", v.Name, n)
			}
			if len(v.Range) == 2 && (n < v.Range[0] || n > v.Range[1]) {
				t.Fatalf("value %s = %v outside range %v accepted", v.Name, n, v.Range)
			}
		}
		if _, err := p.Rules.Derive(got.values); err != nil {
			t.Fatalf("accepted values the state rules reject: %v", err)
		}
	})
}

// FuzzScanMatchesEncodingJSON checks the one-pass scanner against
// encoding/json: the same documents are valid, and the value at every
// wanted path is the same.
func FuzzScanMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(goodPayload))
	f.Add([]byte(`{"status":{"running":true},"status":{"fault_code":1}}`))
	f.Add([]byte(`{"serial":"a\u00e9\ud83d\ude00\ud800x\\u","sensors":[{"temp":-0.5e3}],"flags":1E2}`))
	f.Add([]byte(` [1, 2.5, "x", null, true, false, {}] `))
	p := testProfile(f)
	d := newDecoder(p, true)
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !utf8.Valid(payload) || jsonDepth(payload) > maxDepth {
			return
		}
		vals := make([]jval, len(p.Values)+1)
		_, err := scanJSON(payload, d.root, vals)
		var doc any
		refErr := json.Unmarshal(payload, &doc)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("scanner err %v, encoding/json err %v for %q", err, refErr, payload)
		}
		if err != nil {
			return
		}
		for i, v := range p.Values {
			want, ok := refLookup(doc, strings.Split(v.Path, "."))
			if got := vals[i]; !sameValue(got, want, ok) {
				t.Fatalf("path %s: scanner %+v, encoding/json %#v (present %v)", v.Path, got, want, ok)
			}
		}
	})
}

// refLookup walks a dotted path in an encoding/json tree: the reference
// semantics of a profile path.
func refLookup(doc any, path []string) (any, bool) {
	cur := doc
	for _, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) || strconv.Itoa(i) != seg {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func sameValue(got jval, want any, present bool) bool {
	if !present {
		return got.kind == kindAbsent
	}
	switch w := want.(type) {
	case nil:
		return got.kind == kindNull
	case bool:
		return got.kind == kindBool && (got.num == 1) == w
	case float64:
		return got.kind == kindNumber && got.num == w
	case string:
		return got.kind == kindString && got.str == w
	case []any:
		return got.kind == kindArray
	case map[string]any:
		return got.kind == kindObject
	}
	return false
}

// jsonDepth returns the deepest nesting of objects and arrays, scanning
// bytes only (strings and escapes skipped): the reference for the scanner's
// depth limit in the differential fuzz test.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > maxDepth {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}
