package mqtt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON kinds of a scanned value; kindAbsent means the path was not there.
const (
	kindAbsent = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// jval is one JSON value found at a wanted path. Objects and arrays keep
// only their kind (a profile value never is one).
type jval struct {
	kind uint8
	num  float64 // numbers; bools as 0/1
	str  string
}

// pathNode is a trie of the dotted paths a profile wants. slots are the
// result positions whose path ends here; sub are all slots at or below,
// cleared when a value is (re)entered so that a duplicate key replaces the
// whole earlier value, as encoding/json does.
type pathNode struct {
	children map[string]*pathNode
	slots    []int
	sub      []int
}

func (n *pathNode) add(path []string, slot int) {
	n.sub = append(n.sub, slot)
	if len(path) == 0 {
		n.slots = append(n.slots, slot)
		return
	}
	if n.children == nil {
		n.children = map[string]*pathNode{}
	}
	c := n.children[path[0]]
	if c == nil {
		c = &pathNode{}
		n.children[path[0]] = c
	}
	c.add(path[1:], slot)
}

// scanner validates a whole JSON document (the grammar of RFC 8259, as
// encoding/json accepts it) in one pass and records the values at the
// wanted paths, without building a tree: the decoding of a status message
// allocates only the strings it keeps. The input must be valid UTF-8.
// Nesting deeper than maxDepth is refused with errTooDeep as soon as it is
// reached, which also bounds the scanner's recursion.
type scanner struct {
	b     []byte
	i     int
	depth int
	out   []jval
	names *interner // nil: every kept string is a new copy
}

var (
	errSyntax  = errors.New("invalid JSON")
	errTooDeep = errors.New("JSON nested too deep")
)

// scanJSON fills out (len = slots) and returns the kind of the top value.
func scanJSON(b []byte, root *pathNode, out []jval) (uint8, error) {
	return scanJSONInterned(b, root, out, nil)
}

// scanJSONInterned is scanJSON taking kept strings without escapes from
// names, when not nil.
func scanJSONInterned(b []byte, root *pathNode, out []jval, names *interner) (uint8, error) {
	s := scanner{b: b, out: out, names: names}
	kind, err := s.value(root)
	if err != nil {
		return 0, err
	}
	s.ws()
	if s.i != len(b) {
		return 0, fmt.Errorf("%w: data after the top-level value at offset %d", errSyntax, s.i)
	}
	return kind, nil
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
}

func (s *scanner) value(n *pathNode) (uint8, error) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, s.fail("unexpected end")
	}
	if n != nil {
		for _, slot := range n.sub {
			s.out[slot] = jval{}
		}
	}
	var v jval
	var err error
	switch c := s.b[s.i]; {
	case c == '{':
		v.kind, err = kindObject, s.object(n)
	case c == '[':
		v.kind, err = kindArray, s.array(n)
	case c == '"':
		v.kind = kindString
		v.str, err = s.string(n != nil && len(n.slots) > 0)
	case c == 't':
		v.kind, v.num, err = kindBool, 1, s.literal("true")
	case c == 'f':
		v.kind, err = kindBool, s.literal("false")
	case c == 'n':
		v.kind, err = kindNull, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		v.kind = kindNumber
		v.num, err = s.number()
	default:
		return 0, s.fail("unexpected character")
	}
	if err != nil {
		return 0, err
	}
	if n != nil {
		for _, slot := range n.slots {
			s.out[slot] = v
		}
	}
	return v.kind, nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return fmt.Errorf("%w: more than %d levels at offset %d", errTooDeep, maxDepth, s.i)
	}
	return nil
}

func (s *scanner) object(n *pathNode) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("want an object key")
		}
		key, escaped, err := s.stringRaw()
		if err != nil {
			return err
		}
		var c *pathNode
		if n != nil && n.children != nil {
			if escaped {
				c = n.children[unescape(key)]
			} else {
				c = n.children[string(key)] // no allocation for a map index
			}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("want ':'")
		}
		s.i++
		if _, err := s.value(c); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("want ',' or '}'")
		}
	}
}

func (s *scanner) array(n *pathNode) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for k := 0; ; k++ {
		var c *pathNode
		if n != nil && n.children != nil {
			c = n.children[strconv.Itoa(k)]
		}
		if _, err := s.value(c); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("want ',' or ']'")
		}
	}
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("bad literal")
	}
	s.i += len(word)
	return nil
}

// number checks the JSON number grammar and parses it; like encoding/json
// it refuses a number that overflows float64.
func (s *scanner) number() (float64, error) {
	start, plain := s.i, true
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return 0, s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		plain = false
		s.i++
		if s.digits() == 0 {
			return 0, s.fail("bad fraction")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		plain = false
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return 0, s.fail("bad exponent")
		}
	}
	if lit := s.b[start:s.i]; plain && len(lit) <= 15 {
		// An integer of at most 15 digits is exact in a float64: the
		// common case (codes, counters, Unix times) needs no ParseFloat
		// and no allocation.
		neg := lit[0] == '-'
		if neg {
			lit = lit[1:]
		}
		var v int64
		for _, c := range lit {
			v = v*10 + int64(c-'0')
		}
		if neg {
			return -float64(v), nil
		}
		return float64(v), nil
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %s does not fit a float64", errSyntax, s.b[start:s.i])
	}
	return f, nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// string checks a string and, when keep, returns its unescaped content.
func (s *scanner) string(keep bool) (string, error) {
	raw, escaped, err := s.stringRaw()
	switch {
	case err != nil || !keep:
		return "", err
	case escaped:
		return unescape(raw), nil
	case s.names != nil:
		return s.names.get(raw), nil
	}
	return string(raw), nil
}

// stringRaw checks a string and returns its bytes between the quotes, still
// escaped, and whether it has escapes.
func (s *scanner) stringRaw() ([]byte, bool, error) {
	s.i++ // opening quote
	start, escaped := s.i, false
	for {
		if s.i >= len(s.b) {
			return nil, false, s.fail("unterminated string")
		}
		switch c := s.b[s.i]; {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, s.fail("unterminated escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) || !isHex4(s.b[s.i+1:s.i+5]) {
					return nil, false, s.fail("bad \\u escape")
				}
				s.i += 5
			default:
				return nil, false, s.fail("bad escape")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		default:
			s.i++
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// unescape decodes a string already checked by scanner.string; lone
// surrogates become U+FFFD, as in encoding/json.
func unescape(raw []byte) string {
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r := hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = hex4(raw[i+3 : i+7])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			sb.WriteRune(r)
		default: // " \ /
			sb.WriteByte(raw[i])
		}
	}
	return sb.String()
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
