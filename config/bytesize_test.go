package config

import (
	"strings"
	"testing"
)

const sizeAdvice = ": want a non-negative number with an optional unit such as 256MB or 1GiB"

// TestParseByteSize covers every unit, edge values and the refusals.
func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"0B", 0},
		{"-0", 0},
		{"1", 1},
		{"1048576", 1 << 20},
		{"10B", 10},
		{"64KB", 64_000},
		{"2KiB", 2048},
		{"512MB", 512_000_000},
		{"3MiB", 3 << 20},
		{"1GB", 1_000_000_000},
		{"1GiB", 1 << 30},
		{"2TB", 2_000_000_000_000},
		{"1TiB", 1 << 40},
		{" 512 MB ", 512_000_000},
		{"0.5KiB", 512},
		{"1.5GB", 1_500_000_000},
		{"1e3KB", 1_000_000},
		{"1.5B", 1}, // a fraction of a byte is dropped
		{"8000000TB", 8_000_000_000_000_000_000},
	} {
		got, err := ParseByteSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", " ", "-1", "-1MB", "12XB", "512mb", "512 kb", "MB", "1 000", "ten", "1MB2"} {
		got, err := ParseByteSize(in)
		want := "invalid size " + quote(in) + sizeAdvice
		if err == nil || err.Error() != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want error %q", in, got, err, want)
		}
	}
}

func quote(s string) string { return `"` + strings.TrimSpace(s) + `"` }

// TestByteSizeOverflow: sizes beyond int64 and the float spellings NaN and
// Inf parse without error into a negative size (math.MinInt64 on amd64),
// which the outbox takes as a budget already exceeded.
func TestByteSizeOverflow(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"NaN", "Inf", "+Inf", "1e30", "9223372036854775808", "99999999999TB", "9300000TB"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestOutboxMaxSize covers outbox.max_size as Load reads it: units, a
// given 0, and problems at their line that leave the rest of the file
// checked.
func TestOutboxMaxSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{
		"512MB":   512_000_000,
		"2GiB":    2 << 30,
		"1048576": 1 << 20,
		"0":       0,
		`"64 KB"`: 64_000,
	} {
		s := loadClean(t, minimalSite+"outbox:\n  max_size: "+in+"\n")
		if s.Outbox.MaxSize != want {
			t.Errorf("max_size: %s = %d, want %d", in, s.Outbox.MaxSize, want)
		}
	}
	runSiteCases(t, []siteCase{
		{name: "unknown unit", site: minimalSite + "outbox:\n  dir: data\n  max_size: 12XB\n",
			want: []problem{{"", 8, `invalid size "12XB"` + sizeAdvice}}},
		{name: "negative", site: minimalSite + "outbox: {max_size: -1GB}\n",
			want: []problem{{"", 6, `invalid size "-1GB"` + sizeAdvice}}},
		{name: "lower-case unit", site: minimalSite + "outbox: {max_size: 256mb}\n",
			want: []problem{{"", 6, `invalid size "256mb"` + sizeAdvice}}},
		{name: "with other problems", site: minimalSite + "outbox: {max_size: lots}\nhold: -1s\nlog: {level: loud}\n",
			want: []problem{
				{"", 6, `invalid size "lots"` + sizeAdvice},
				{"", 7, "hold must not be negative (got -1s)"},
				{"", 8, `log.level "loud": want debug, info, warn or error`},
			}},
	})
}

// TestOutboxMaxSizeNotAScalar: a list or mapping for max_size is reported
// as an invalid size "", which does not say what was wrong.
func TestOutboxMaxSizeNotAScalar(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "list", site: minimalSite + "outbox: {max_size: [1]}\n",
			want: []problem{{"", 6, "cannot use a list here: want a size such as 256MB or 1GiB"}}},
	})
}
