package region

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/icugate/icugate/report"
)

// KeysFile is the YAML registry of hospitals and their report-signing
// public keys. A hospital may be listed with several keys (one entry
// each) while it rotates keys.
//
//	hospitals:
//	  - id: H001
//	    name: First Hospital
//	    public_key_file: keys/H001.pub.pem   # relative to this file
//	  - id: H002
//	    public_key: |
//	      -----BEGIN PUBLIC KEY-----
//	      ...
type KeysFile struct {
	Hospitals []KeyEntry `yaml:"hospitals"`
}

// KeyEntry is one hospital key.
type KeyEntry struct {
	ID            string `yaml:"id"`
	Name          string `yaml:"name"`
	PublicKey     string `yaml:"public_key"`
	PublicKeyFile string `yaml:"public_key_file"`
}

// Registry maps key ids to hospitals. It is immutable once built; a
// reload builds a new one and swaps it in.
type Registry struct {
	byKeyID map[string]registered
	names   map[string]string
	ids     []string
}

type registered struct {
	hospital string
	pub      ed25519.PublicKey
}

// Lookup returns the key with id and the hospital it belongs to.
func (r *Registry) Lookup(keyID string) (hospital string, pub ed25519.PublicKey, ok bool) {
	k, ok := r.byKeyID[keyID]
	return k.hospital, k.pub, ok
}

// Hospitals lists the registered hospital ids, sorted.
func (r *Registry) Hospitals() []string { return r.ids }

// Name returns a hospital's registered name.
func (r *Registry) Name(id string) string { return r.names[id] }

// LoadRegistry reads a keys file. Every problem is reported, with the
// entry it concerns; a registry with any problem is refused whole, so a
// reload with a typo keeps the old registry.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	var kf KeysFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return NewRegistry(kf, filepath.Dir(path))
}

// NewRegistry builds a registry from entries; relative key files are
// resolved against dir.
func NewRegistry(kf KeysFile, dir string) (*Registry, error) {
	r := &Registry{byKeyID: map[string]registered{}, names: map[string]string{}}
	var errs []error
	for i, e := range kf.Hospitals {
		where := fmt.Sprintf("hospitals[%d] (%s)", i, e.ID)
		if err := report.CheckTopicPart("id", e.ID); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		pem := []byte(e.PublicKey)
		switch {
		case e.PublicKey != "" && e.PublicKeyFile != "":
			errs = append(errs, fmt.Errorf("%s: set public_key or public_key_file, not both", where))
			continue
		case e.PublicKeyFile != "":
			p := e.PublicKeyFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			pem = b
		case e.PublicKey == "":
			errs = append(errs, fmt.Errorf("%s: no public_key or public_key_file", where))
			continue
		}
		pub, err := report.ParsePublicKey(pem)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		id := report.KeyID(pub)
		if prev, dup := r.byKeyID[id]; dup {
			errs = append(errs, fmt.Errorf("%s: key %s already registered for %s", where, id, prev.hospital))
			continue
		}
		r.byKeyID[id] = registered{hospital: e.ID, pub: pub}
		if _, seen := r.names[e.ID]; !seen || e.Name != "" {
			r.names[e.ID] = e.Name
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for id := range r.names {
		r.ids = append(r.ids, id)
	}
	sort.Strings(r.ids)
	return r, nil
}
