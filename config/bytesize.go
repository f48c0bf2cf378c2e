package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a size in bytes, written in YAML as a number or with a unit:
// "512MB", "2GiB", "64KB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
type ByteSize int64

// UnmarshalYAML parses a size with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// n.Value is empty for a list or mapping; say what was given
		// rather than quote nothing.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot use a %s here: want a size such as 256MB or 1GiB", n.Line, nodeKind(n))}}
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		// A TypeError lets yaml.v3 go on decoding and report the rest.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*b = v
	return nil
}

// ParseByteSize parses "512MB", "1GiB", "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	orig := s
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	// ParseFloat also accepts NaN, which no comparison below would catch.
	if err != nil || n < 0 || math.IsNaN(n) {
		return 0, fmt.Errorf("invalid size %q: want a non-negative number with an optional unit such as 256MB or 1GiB", orig)
	}
	// Converting a float at or beyond 2^63 (Inf included) to int64 gives
	// MinInt64 on amd64: a negative budget the outbox would take as already
	// exceeded. 2^63 is exact as a float64, so the comparison is too.
	size := n * float64(mult)
	if size >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large, the maximum is %d bytes (about 9.2EB)", orig, int64(math.MaxInt64))
	}
	return ByteSize(size), nil
}

// nodeKind names a YAML node's kind as the user wrote it.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "scalar"
}
