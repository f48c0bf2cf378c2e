package outbox

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	modelSeed  = flag.Uint64("outbox.seed", 0, "seed of TestRandomOperationsAgainstModel (0: a new one each run)")
	modelRuns  = flag.Int("outbox.runs", 4, "sequences TestRandomOperationsAgainstModel runs")
	modelSteps = flag.Int("outbox.steps", 250, "operations per sequence")
)

// Random sequences of appends (both classes, batches of 1 to 64), deliveries,
// acknowledgements, rewinds, clean reopens and crashes, with damage before
// a reopen (the newest segment cut at a random byte, a byte flipped in a
// random frame, FRONT deleted), each step checked against the model:
// nothing acknowledged comes back unless a crash or a lost FRONT allows it,
// nothing confirmed is lost except what damage destroyed or the budget
// dropped (oldest telemetry first, counted), every damaged index is counted
// exactly once, order holds, and the disk stays within its budget.
func TestRandomOperationsAgainstModel(t *testing.T) {
	t.Parallel()
	seed := *modelSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun: go test ./outbox/ -run RandomOperations -outbox.seed=%d)", seed, seed)
	for k := range *modelRuns {
		s := seed + uint64(k)
		t.Run(fmt.Sprint(s), func(t *testing.T) { runModel(t, s, *modelSteps) })
	}
}

// run is one random sequence.
type run struct {
	t      *testing.T
	rng    *rand.Rand
	seed   uint64
	step   int
	root   string
	dir    string
	gen    int
	budget int64
	pState int // percent of records that are state
	maxPad int
	o      *Outbox
	m      *model
	trace  []string // the latest operations, for the failure message
}

func (r *run) note(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf("%d: ", r.step)+fmt.Sprintf(format, args...))
	if len(r.trace) > 12 {
		r.trace = r.trace[1:]
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed>>32|1))
	r := &run{
		t: t, rng: rng, seed: seed, root: t.TempDir(),
		budget: []int64{160 << 10, 512 << 10}[rng.IntN(2)],
		pState: 5 + rng.IntN(50),
		maxPad: []int{100, 1000, 3000}[rng.IntN(3)],
		m:      newModel(),
	}
	r.dir = filepath.Join(r.root, "0")
	r.o = r.open()
	defer func() { r.o.Close() }()
	for r.step = 1; r.step <= steps; r.step++ {
		switch p := rng.IntN(100); {
		case p < 45:
			r.appendSome()
		case p < 63:
			r.next()
		case p < 78:
			r.ack()
		case p < 82:
			r.rewind()
		case p < 87:
			r.drain()
		case p < 93:
			r.reopen(false)
		default:
			r.reopen(true)
		}
		r.check()
	}
	r.drain()
}

func (r *run) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d step %d: %s\nlatest operations:\n%s\nrerun: go test ./outbox/ -run RandomOperations -outbox.seed=%d -outbox.runs=1",
		r.seed, r.step, fmt.Sprintf(format, args...), strings.Join(r.trace, "\n"), r.seed)
}

func (r *run) open() *Outbox {
	o, err := Open(Options{Dir: r.dir, MaxSize: r.budget})
	if err != nil {
		r.fatalf("open: %v", err)
	}
	return o
}

func (r *run) disk() [2]diskLog {
	return [2]diskLog{
		State:     readDiskLog(r.t, filepath.Join(r.dir, State.String())),
		Telemetry: readDiskLog(r.t, filepath.Join(r.dir, Telemetry.String())),
	}
}

func (r *run) appendSome() {
	n := 1 + r.rng.IntN(8)
	switch r.rng.IntN(3) {
	case 0:
		n = 1
	case 1:
		n = 9 + r.rng.IntN(56)
	}
	recs := make([]Record, n)
	for k := range recs {
		c, tag := Telemetry, 't'
		if r.rng.IntN(100) < r.pState {
			c, tag = State, 's'
		}
		pad := make([]byte, r.rng.IntN(r.maxPad+1))
		for i := range pad {
			pad[i] = 'a' + byte(r.rng.IntN(26))
		}
		recs[k] = Record{Class: c, Data: fmt.Appendf(nil, "%c%07d %s", tag, r.m.nextOrd+k, pad)}
	}
	if err := r.o.Append(context.Background(), recs...); err != nil {
		r.fatalf("append %d: %v", n, err)
	}
	r.m.appended(recs)
	r.note("append %d records", n)
}

func (r *run) next() {
	if r.m.inFlight {
		if _, err := r.o.Next(10, 1<<20); err == nil {
			r.fatalf("Next succeeded with a batch in flight")
		}
		return
	}
	maxEntries, maxBytes := 1+r.rng.IntN(100), 1+r.rng.IntN(32<<10)
	b, err := r.o.Next(maxEntries, maxBytes)
	if err != nil {
		r.fatalf("next: %v", err)
	}
	avail := r.disk()[Telemetry].available()
	skipped := func(x *mrec) {
		if _, ok := avail[x.id]; ok {
			r.fatalf("telemetry %s passed undelivered although it is on disk", x.id)
		}
	}
	r.note("Next(%d, %d): %d entries", maxEntries, maxBytes, len(b.Entries))
	if msg := r.m.deliver(b, maxEntries, maxBytes, skipped); msg != "" {
		r.fatalf("%s", msg)
	}
}

func (r *run) ack() {
	if !r.m.inFlight {
		return
	}
	avail := r.disk()[Telemetry].available()
	if err := r.o.Ack(r.m.batch); err != nil {
		r.fatalf("ack: %v", err)
	}
	r.m.ack(func(x *mrec) bool { _, ok := avail[x.id]; return x.class == Telemetry && !ok })
	r.note("ack")
}

func (r *run) rewind() {
	r.o.Rewind()
	r.m.rewind()
	r.note("rewind")
}

// drain delivers and acknowledges everything; then nothing waits and
// every hole was passed.
func (r *run) drain() {
	r.ack()
	for range 10000 {
		r.next()
		if !r.m.inFlight {
			break
		}
		r.ack()
	}
	s := r.o.Stats()
	if s.Points() != 0 || len(r.m.queue[State])+len(r.m.queue[Telemetry]) != 0 {
		r.fatalf("drained, yet %d points wait and the model has %d+%d", s.Points(), len(r.m.queue[State]), len(r.m.queue[Telemetry]))
	}
	if s.Quarantined < r.m.holes[State] || s.Quarantined > r.m.holes[State]+r.m.holes[Telemetry] {
		r.fatalf("drained: %d quarantined, want %d state holes plus up to %d telemetry holes (the rest dropped)", s.Quarantined, r.m.holes[State], r.m.holes[Telemetry])
	}
}

// reopen closes the outbox (or crashes it: the directory as it stands
// between two calls is what kill -9 leaves, every write being fsynced),
// may damage the directory, and opens it again.
func (r *run) reopen(crash bool) {
	if crash {
		r.gen++
		dst := filepath.Join(r.root, fmt.Sprint(r.gen))
		copyTree(r.t, r.dir, dst)
		r.o.Close()
		r.dir = dst
	} else if err := r.o.Close(); err != nil {
		r.fatalf("close: %v", err)
	}
	r.note("close (crash %v)", crash)
	before := r.disk()
	var frontLost [2]bool
	if r.rng.IntN(100) < 60 {
		c := Class(r.rng.IntN(2))
		dir := filepath.Join(r.dir, c.String())
		switch r.rng.IntN(3) {
		case 0:
			r.cutNewest(before[c])
		case 1:
			r.flipFrame(before[c])
		case 2:
			frontLost[c] = os.Remove(filepath.Join(dir, frontFile)) == nil
			r.note("%s: FRONT deleted: %v", c, frontLost[c])
		}
	}
	after := r.disk()
	if msg := r.m.reopened(before, after, crash, frontLost); msg != "" {
		r.fatalf("%s", msg)
	}
	r.o = r.open()
	var torn uint64
	for _, d := range after {
		if d.torn() {
			torn++
		}
	}
	if s := r.o.Stats(); s.Torn != torn {
		r.fatalf("reopened: %d torn writes counted, the newest segments hold %d", s.Torn, torn)
	}
}

// cutNewest truncates the newest segment, mostly near its end (a torn
// write), sometimes anywhere.
func (r *run) cutNewest(d diskLog) {
	if len(d.files) == 0 {
		return
	}
	f := d.files[len(d.files)-1]
	cut := r.rng.IntN(f.size + 1)
	if r.rng.IntN(2) == 0 {
		cut = max(0, f.size-1-r.rng.IntN(200))
	}
	r.note("cut %s at %d of %d bytes", f.path[len(r.dir):], cut, f.size)
	if err := os.Truncate(f.path, int64(cut)); err != nil {
		r.t.Fatal(err)
	}
}

// flipFrame flips one bit of a random frame (header or record).
func (r *run) flipFrame(d diskLog) {
	var files []diskFile
	for _, f := range d.files {
		if len(f.frames) > 0 {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return
	}
	f := files[r.rng.IntN(len(files))]
	fr := f.frames[r.rng.IntN(len(f.frames))]
	b, err := os.ReadFile(f.path)
	if err != nil {
		r.t.Fatal(err)
	}
	at := fr.off + r.rng.IntN(fr.end-fr.off)
	b[at] ^= 1 << r.rng.IntN(8)
	r.note("flip %s byte %d (frame %d of %d, index %d, %d..%d)", f.path[len(r.dir):], at, slices.Index(f.frames, fr), len(f.frames), fr.idx, fr.off, fr.end)
	if err := os.WriteFile(f.path, b, 0o640); err != nil {
		r.t.Fatal(err)
	}
}

// check compares the outbox's figures and disk with the model.
func (r *run) check() {
	d := r.disk()
	s := r.o.Stats()
	if want := d[State].bytes() + d[Telemetry].bytes(); s.Bytes != want {
		r.fatalf("Stats.Bytes %d, the segment files hold %d", s.Bytes, want)
	}
	// Over the budget, no telemetry may be left: a header-only segment
	// (the empty tail that Open kept after a torn write) holds none.
	if s.Bytes > r.budget+2*int64(len(segMagic)) && d[Telemetry].bytes() > int64(len(d[Telemetry].files)*len(segMagic)) {
		r.fatalf("%d bytes on disk, budget %d, and %d of them telemetry", s.Bytes, r.budget, d[Telemetry].bytes())
	}
	avail := [2]map[string]where{State: d[State].available(), Telemetry: d[Telemetry].available()}
	for _, x := range r.m.queue[State] {
		if _, ok := avail[State][x.id]; !ok {
			r.fatalf("waiting state %s is not on disk", x.id)
		}
	}
	// Telemetry goes oldest first: what is still on disk is the newest.
	// A batch in flight that the budget removed is counted when removed.
	var gone uint64
	kept := ""
	for _, x := range r.m.queue[Telemetry] {
		if _, ok := avail[Telemetry][x.id]; ok {
			kept = x.id
			continue
		}
		if kept != "" {
			r.fatalf("telemetry %s dropped while the older %s was kept", x.id, kept)
		}
		gone++
	}
	if lo := r.m.skips + gone; s.Dropped < lo || s.Dropped > lo+r.m.holes[Telemetry] {
		r.fatalf("%d dropped, the model has %d passed and %d gone (+ up to %d holes)", s.Dropped, r.m.skips, gone, r.m.holes[Telemetry])
	}
	if s.Quarantined > r.m.holes[State]+r.m.holes[Telemetry] {
		r.fatalf("%d quarantined, but only %d+%d damaged indexes", s.Quarantined, r.m.holes[State], r.m.holes[Telemetry])
	}
	if !r.m.inFlight {
		if got, want := s.Points()+s.Quarantined+s.Dropped, r.m.waiting(); got != want {
			r.fatalf("waiting %d + quarantined %d + dropped %d = %d, the model accounts for %d (%d+%d queued, %d+%d holes, %d passed)",
				s.Points(), s.Quarantined, s.Dropped, got, want, len(r.m.queue[State]), len(r.m.queue[Telemetry]), r.m.holes[State], r.m.holes[Telemetry], r.m.skips)
		}
	}
	if !s.Oldest.IsZero() && s.Oldest.After(time.Now()) {
		r.fatalf("oldest waiting point appended in the future: %v", s.Oldest)
	}
}

// copyTree copies a directory as it stands.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
