package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/icugate/icugate/rules"
)

// FuzzLoad feeds arbitrary bytes as a site file: Load must never panic,
// and must either return a site or problems that each name a file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/broken/*.yaml")
	seeds = append(seeds, "testdata/good.yaml", "testdata/many-mistakes.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// In testdata, so relative profile paths find the test profiles.
		site, err := loadSite("testdata/fuzz.yaml", data)
		if err == nil {
			if site == nil {
				t.Fatal("nil site without error")
			}
			_ = site.Summary()
			return
		}
		var probs *Problems
		if !errors.As(err, &probs) || len(probs.List) == 0 {
			t.Fatalf("error %v is not a non-empty *Problems", err)
		}
		for _, p := range probs.List {
			if p.File == "" || p.Message == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

// FuzzParseProfile feeds arbitrary bytes as a profile: parsing, checking
// and compiling must never panic, and a profile that passes must derive a
// condition from zero values without panicking either.
func FuzzParseProfile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/profiles/*.yaml")
	more, _ := filepath.Glob("../configs/profiles/*.yaml")
	for _, s := range append(seeds, more...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c collector
		p := parseProfile(&c, "fuzz.yaml", data)
		if c.err() != nil || p == nil {
			return
		}
		_, _ = p.Rules.Derive(make([]rules.Sample, len(p.Values)))
		for state := range p.Simulate {
			if s, err := p.SimulatedSamples(state); err == nil {
				_, _ = p.Rules.Derive(s)
			}
		}
	})
}
