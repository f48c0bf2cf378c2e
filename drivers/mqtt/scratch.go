package mqtt

import "github.com/icugate/icugate/rules"

// scratch is the reusable decoding state of one goroutine. paho calls the
// publish handler on one goroutine (OrderMatters), so the driver keeps one
// scratch for it, and a message's decoding allocates almost nothing of its
// own: at thousands of messages a second every allocation shows up as GC
// work (BenchmarkThroughput).
type scratch struct {
	vals  []jval
	slab  []rules.Sample
	names interner
}

// The methods of a nil *scratch allocate afresh (one-off decoding).

// jvals returns n cleared scanner results, valid until the next call.
func (sc *scratch) jvals(n int) []jval {
	if sc == nil {
		return make([]jval, n)
	}
	if cap(sc.vals) < n {
		sc.vals = make([]jval, n)
	}
	v := sc.vals[:n]
	clear(v)
	return v
}

// samplesPerSlab is how many observations' values one allocation holds.
const samplesPerSlab = 64

// samples returns a new slice of n zero samples for an observation's
// Values. It is cut from a larger block, never handed out twice and never
// written by the scratch again: the observation owns it, as Offer requires.
// A block lives as long as any observation cut from it, a few KiB.
func (sc *scratch) samples(n int) []rules.Sample {
	if sc == nil {
		return make([]rules.Sample, n)
	}
	if n > len(sc.slab) {
		sc.slab = make([]rules.Sample, max(n, samplesPerSlab*n))
	}
	v := sc.slab[:n:n]
	sc.slab = sc.slab[n:]
	return v
}

func (sc *scratch) interner() *interner {
	if sc == nil {
		return nil
	}
	return &sc.names
}

// maxInterned bounds the interner; when it is full it starts over, so a
// device sending ever new strings costs allocations, never memory.
const maxInterned = 8192

// maxInternedBytes is the longest string interned; serial numbers and
// modes are short.
const maxInternedBytes = 64

// interner returns one shared copy of each short string value it has seen:
// serial numbers and operating modes repeat in every message of a device,
// and Go strings are immutable, so observations can share them.
type interner struct {
	m map[string]string
}

// get returns the string of b, shared with earlier calls when it can.
func (in *interner) get(b []byte) string {
	if len(b) > maxInternedBytes {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for a map index
		return s
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string)
	}
	s := string(b)
	in.m[s] = s
	return s
}
