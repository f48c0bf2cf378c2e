package mqtt

import (
	"fmt"
	"testing"

	"github.com/icugate/icugate/rules"
)

// TestScratchSamplesAreOwnedByTheirObservation checks the ownership rule of
// Observation.Values: no two observations share a backing element, and an
// append to one cannot write into the next.
func TestScratchSamplesAreOwnedByTheirObservation(t *testing.T) {
	sc := &scratch{}
	var got [][]rules.Sample
	for i := range 3 * samplesPerSlab {
		v := sc.samples(3)
		if len(v) != 3 || cap(v) != 3 {
			t.Fatalf("samples(3) has len %d cap %d, want 3 and 3", len(v), cap(v))
		}
		for j := range v {
			if v[j] != (rules.Sample{}) {
				t.Fatalf("observation %d got a used sample %+v", i, v[j])
			}
			v[j] = rules.Sample{Num: float64(i), Str: fmt.Sprint(i)}
		}
		got = append(got, v)
	}
	_ = append(got[0], rules.Sample{Num: -1})
	for i, v := range got {
		for j := range v {
			if v[j].Num != float64(i) || v[j].Str != fmt.Sprint(i) {
				t.Fatalf("observation %d value %d = %+v: overwritten by another observation", i, j, v[j])
			}
		}
	}
}

// TestScratchForgetsThePreviousMessage checks that a value present in one
// message is not taken for a missing value of the next.
func TestScratchForgetsThePreviousMessage(t *testing.T) {
	d := newDecoder(testProfile(t), false)
	sc := &scratch{}
	if _, b := d.decodeWith([]byte(goodPayload), sc); b != nil {
		t.Fatalf("good payload refused: %v", b)
	}
	if _, b := d.decodeWith([]byte(`{"serial":"SN-1"}`), sc); b == nil || b.reason != ReasonMissingValue {
		t.Fatalf("payload without values after a good one: %v, want %s", b, ReasonMissingValue)
	}
}

func TestInternerSharesAndStaysBounded(t *testing.T) {
	var in interner
	a, b := in.get([]byte("SN-1")), in.get([]byte("SN-1"))
	if a != "SN-1" || b != "SN-1" {
		t.Fatalf("got %q and %q, want SN-1", a, b)
	}
	if n := testing.AllocsPerRun(100, func() { in.get([]byte("SN-1")) }); n != 0 {
		t.Fatalf("a seen string costs %v allocations, want 0", n)
	}
	for i := range 3 * maxInterned {
		in.get(fmt.Appendf(nil, "serial-%d", i))
	}
	if len(in.m) > maxInterned {
		t.Fatalf("interner holds %d strings, limit %d", len(in.m), maxInterned)
	}
	long := make([]byte, maxInternedBytes+1)
	for i := range long {
		long[i] = 'x'
	}
	if s := in.get(long); s != string(long) || len(in.m) > maxInterned {
		t.Fatalf("long string %q not returned as is", s)
	}
}
