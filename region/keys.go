package region

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/icugate/icugate/report"
)

// KeysFile is the YAML registry of the region's hospitals: each with its
// district and its report-signing public keys. A hospital with one gateway
// is listed with its key (or listed twice, one entry per key, while it
// rotates keys); a hospital with several gateways (buildings, campuses)
// lists its parts, each with its own key:
//
//	hospitals:
//	  - id: H001
//	    name: First Hospital
//	    district: D01
//	    public_key_file: keys/H001.pub.pem   # relative to this file
//	  - id: H002
//	    name: Second Hospital
//	    district: D02
//	    parts:
//	      - id: main                          # keeps the hospital's own topic
//	        public_key_file: keys/H002.pub.pem
//	      - id: east
//	        name: East campus
//	        public_key_file: keys/H002-east.pub.pem
//	        next_public_key_file: keys/H002-east-2027.pub.pem  # while rotating
type KeysFile struct {
	Hospitals []KeyEntry `yaml:"hospitals"`
}

// KeyEntry is one hospital: its key, or its parts.
type KeyEntry struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// District is the id of one of the region config's districts.
	District      string `yaml:"district"`
	PublicKey     string `yaml:"public_key"`
	PublicKeyFile string `yaml:"public_key_file"`
	// Parts, when listed, are the hospital's gateways; the hospital then
	// has no key of its own.
	Parts []PartEntry `yaml:"parts"`
}

// PartEntry is one part of a hospital: one gateway with its own key.
type PartEntry struct {
	// ID is the gateway's report.part (MainPart keeps the hospital's
	// topics).
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// The part's key, inline PEM or a file.
	PublicKey     string `yaml:"public_key"`
	PublicKeyFile string `yaml:"public_key_file"`
	// The part's next key while it rotates: both verify.
	NextPublicKey     string `yaml:"next_public_key"`
	NextPublicKeyFile string `yaml:"next_public_key_file"`
}

// RegisteredHospital is what the registry holds about one hospital.
type RegisteredHospital struct {
	ID       string
	Name     string
	District string
	// Parts are the hospital's gateways in file order; a hospital listed
	// with its own key has one, MainPart.
	Parts []RegisteredPart
}

// RegisteredPart is one gateway of a hospital.
type RegisteredPart struct {
	ID   string
	Name string
}

// HasPart reports whether part is one of the hospital's parts.
func (h *RegisteredHospital) HasPart(part string) bool {
	return slices.ContainsFunc(h.Parts, func(p RegisteredPart) bool { return p.ID == part })
}

// Registry maps key ids to the hospital part they sign for, and holds the
// hospitals' districts. It is immutable once built; a reload builds a new
// one and swaps it in.
type Registry struct {
	byKeyID   map[string]registered
	hospitals map[string]*RegisteredHospital
	ids       []string
	districts []District
}

type registered struct {
	hospital, part string
	pub            ed25519.PublicKey
}

// Lookup returns the key with id, the hospital and the part it belongs to.
func (r *Registry) Lookup(keyID string) (hospital, part string, pub ed25519.PublicKey, ok bool) {
	k, ok := r.byKeyID[keyID]
	return k.hospital, k.part, k.pub, ok
}

// Hospitals lists the registered hospital ids, sorted.
func (r *Registry) Hospitals() []string { return r.ids }

// Hospital returns a registered hospital.
func (r *Registry) Hospital(id string) (*RegisteredHospital, bool) {
	h, ok := r.hospitals[id]
	return h, ok
}

// Name returns a hospital's registered name.
func (r *Registry) Name(id string) string {
	if h, ok := r.hospitals[id]; ok {
		return h.Name
	}
	return ""
}

// Districts are the region's districts the registry was checked against.
func (r *Registry) Districts() []District { return r.districts }

// Keys is how many keys are registered.
func (r *Registry) Keys() int { return len(r.byKeyID) }

// LoadRegistry reads a keys file and checks it against the region's
// districts (none: hospitals name no district). Every problem is
// reported, as "file:line: field: message"; a registry with any problem
// is refused whole, so a reload with a typo keeps the old registry.
func LoadRegistry(path string, districts []District) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	return ParseRegistry(data, path, districts)
}

// ParseRegistry is LoadRegistry of data read from path (key files are
// relative to path's directory).
func ParseRegistry(data []byte, path string, districts []District) (*Registry, error) {
	var kf KeysFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	r, ps := build(kf, filepath.Dir(path), districts)
	if len(ps) > 0 {
		return nil, fmt.Errorf("keys file %s:\n%w", path, ps.errIn(path, parseNode(data)))
	}
	return r, nil
}

// NewRegistry builds a registry from a keys file made in code; relative
// key files are resolved against dir. Problems are named by field path.
func NewRegistry(kf KeysFile, dir string, districts []District) (*Registry, error) {
	r, ps := build(kf, dir, districts)
	if len(ps) > 0 {
		return nil, ps.err()
	}
	return r, nil
}

// builder accumulates a registry and its problems.
type builder struct {
	r     *Registry
	ps    problems
	dir   string
	known map[string]bool // district ids
	// first is each hospital's first entry index; parted marks hospitals
	// listed with parts.
	first  map[string]int
	parted map[string]bool
}

func build(kf KeysFile, dir string, districts []District) (*Registry, problems) {
	b := &builder{
		r:   &Registry{byKeyID: map[string]registered{}, hospitals: map[string]*RegisteredHospital{}, districts: districts},
		dir: dir, known: map[string]bool{}, first: map[string]int{}, parted: map[string]bool{},
	}
	for _, d := range districts {
		b.known[d.ID] = true
	}
	for i := range kf.Hospitals {
		b.entry(i, &kf.Hospitals[i])
	}
	if len(districts) > 0 {
		for id, h := range b.r.hospitals {
			if h.District == "" {
				b.ps.addf([]any{"hospitals", b.first[id]}, "hospital %s names no district: add district: (one of %s), so its beds count where they are", id, b.districtList())
			}
		}
	}
	for id := range b.r.hospitals {
		b.r.ids = append(b.r.ids, id)
	}
	sort.Strings(b.r.ids)
	sort.SliceStable(b.ps, func(i, j int) bool { return lessPath(b.ps[i].at, b.ps[j].at) })
	return b.r, b.ps
}

// lessPath orders problems by the entry they concern (map order made them
// come in any order).
func lessPath(a, b []any) bool {
	for k := 0; k < len(a) && k < len(b); k++ {
		ai, aok := a[k].(int)
		bi, bok := b[k].(int)
		if aok && bok && ai != bi {
			return ai < bi
		}
	}
	return len(a) < len(b)
}

func (b *builder) districtList() string {
	ids := make([]string, 0, len(b.r.districts))
	for _, d := range b.r.districts {
		ids = append(ids, d.ID)
	}
	return strings.Join(ids, ", ")
}

func (b *builder) entry(i int, e *KeyEntry) {
	at := func(more ...any) []any { return append([]any{"hospitals", i}, more...) }
	if err := report.CheckTopicPart("id", e.ID); err != nil {
		b.ps.add(err.Error(), at("id")...)
		return
	}
	h, seen := b.r.hospitals[e.ID]
	switch {
	case seen && (len(e.Parts) > 0 || b.parted[e.ID]):
		b.ps.addf(at("id"), "hospital %s is already hospitals[%d]: a hospital with parts is listed once (put every gateway under its parts)", e.ID, b.first[e.ID])
		return
	case !seen:
		h = &RegisteredHospital{ID: e.ID}
		b.r.hospitals[e.ID] = h
		b.first[e.ID] = i
	}
	if h.Name == "" {
		h.Name = e.Name
	}
	b.district(h, e, at)
	if e.Parts == nil {
		// One gateway: the hospital's key is its part main.
		if !seen {
			h.Parts = []RegisteredPart{{ID: report.MainPart}}
		}
		b.key(e.ID, report.MainPart, e.ID, e.PublicKey, e.PublicKeyFile, true, at())
		return
	}
	b.parted[e.ID] = true
	if e.PublicKey != "" || e.PublicKeyFile != "" {
		b.ps.addf(at(), "hospital %s lists parts and a key of its own: put the key on its part (id: %s keeps the hospital's topic)", e.ID, report.MainPart)
	}
	if len(e.Parts) == 0 {
		b.ps.addf(at("parts"), "hospital %s lists no parts: list its gateways, or remove parts: and give its key", e.ID)
	}
	for j := range e.Parts {
		b.part(h, j, &e.Parts[j], at)
	}
}

func (b *builder) district(h *RegisteredHospital, e *KeyEntry, at func(...any) []any) {
	switch {
	case e.District == "":
	case len(b.r.districts) == 0:
		b.ps.addf(at("district"), "hospital %s: district %q, but the region config lists no districts: add districts: to it, or remove district: here", e.ID, e.District)
	case !b.known[e.District]:
		b.ps.addf(at("district"), "hospital %s: district %q is not one of the region's districts (%s)", e.ID, e.District, b.districtList())
	case h.District != "" && h.District != e.District:
		b.ps.addf(at("district"), "hospital %s: district %s, but hospitals[%d] puts it in %s", e.ID, e.District, b.first[e.ID], h.District)
	default:
		h.District = e.District
	}
}

func (b *builder) part(h *RegisteredHospital, j int, p *PartEntry, at func(...any) []any) {
	pat := at("parts", j)
	if err := report.CheckPartID("part id", p.ID); err != nil {
		b.ps.add(err.Error(), append(pat, "id")...)
		return
	}
	if h.HasPart(p.ID) {
		b.ps.addf(append(pat, "id"), "hospital %s: duplicate part id %q: every gateway of a hospital needs its own part id (its report.part)", h.ID, p.ID)
		return
	}
	h.Parts = append(h.Parts, RegisteredPart{ID: p.ID, Name: p.Name})
	who := h.ID + " part " + p.ID
	b.key(h.ID, p.ID, who, p.PublicKey, p.PublicKeyFile, true, pat)
	b.key(h.ID, p.ID, who, p.NextPublicKey, p.NextPublicKeyFile, false, pat)
}

// key registers one key of a hospital's part, inline PEM or a file; who
// names the part in problems, required says whether having neither is
// one.
func (b *builder) key(hospital, part, who, inline, file string, required bool, at []any) {
	field, fileField := "public_key", "public_key_file"
	if !required {
		field, fileField = "next_public_key", "next_public_key_file"
	}
	pem := []byte(inline)
	switch {
	case inline != "" && file != "":
		b.ps.addf(at, "%s: set %s or %s, not both", who, field, fileField)
		return
	case file != "":
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(b.dir, p)
		}
		data, err := readKeyFile(p)
		if err != nil {
			b.ps.addf(append(at, fileField), "%s: %v", who, err)
			return
		}
		pem = data
		field = fileField
	case inline == "":
		if required {
			b.ps.addf(at, "%s: no %s or %s", who, field, fileField)
		}
		return
	}
	pub, err := report.ParsePublicKey(pem)
	if err != nil {
		b.ps.addf(append(at, field), "%s: %v", who, err)
		return
	}
	id := report.KeyID(pub)
	if prev, dup := b.r.byKeyID[id]; dup {
		b.ps.addf(append(at, field), "%s: key %s is already registered for %s part %s: every gateway needs its own key (icugate keygen)", who, id, prev.hospital, prev.part)
		return
	}
	b.r.byKeyID[id] = registered{hospital: hospital, part: part, pub: pub}
}

// maxKeyFile bounds a public key file: a PEM Ed25519 key is ~113 bytes,
// so anything large is the wrong file.
const maxKeyFile = 64 << 10

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a public key", path, maxKeyFile)
	}
	return data, nil
}
