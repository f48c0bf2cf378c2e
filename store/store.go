// Package store keeps what must survive a restart of the gateway and is not
// a time series: maintenance flags and assignments changed at run time,
// accumulated usage, sequence numbers, the regional report waiting for
// delivery, and the audit trail of every mutating API call. It is one bbolt
// file (state.db in the data directory), opened by one gateway at a time.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store keeps what must survive a restart of the gateway and is not a
// time series: maintenance flags and assignments changed at run time,
// accumulated usage, report sequence numbers, and the audit trail of every
// mutating API call. It is a single bbolt file: small, transactional and
// crash-safe (copy-on-write with checksummed meta pages), so a kill -9 at
// any moment leaves either the old or the new value, never a torn one.
type Store struct {
	db *bolt.DB
	// migratedFrom is the format an existing database had when Open
	// migrated it; -1 when it needed none (or was new).
	migratedFrom int
}

// MigratedFrom reports the format Open migrated an existing database
// from, for the start-up log; ok is false when no migration ran.
func (s *Store) MigratedFrom() (format int, ok bool) { return s.migratedFrom, s.migratedFrom >= 0 }

// Buckets of the store.
var (
	bucketMaintenance = []byte("maintenance")
	bucketAssignment  = []byte("assignment")
	bucketUsage       = []byte("usage")
	bucketMeta        = []byte("meta")
	bucketAudit       = []byte("audit")
)

// Open opens (creating) the state file at path, migrating a database of
// an earlier format (format.go) and refusing one of a newer format with an
// error wrapping ErrNewerFormat, before anything in it changes.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	// The format is read first from a read-only open, so that a database
	// of a newer format is refused without a byte of it changing.
	_, statErr := os.Stat(path)
	existed := statErr == nil
	f, err := peekFormat(path, lockWait)
	if err == nil && f > Format {
		err = &NewerFormatError{Path: path, Found: f, Known: Format}
	}
	if err != nil {
		return nil, openError(path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if err != nil {
		return nil, openError(path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMaintenance, bucketAssignment, bucketUsage, bucketMeta, bucketAudit} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return migrate(tx, path)
	})
	if err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	from := -1
	if existed && f < Format {
		from = f
	}
	return &Store{db: db, migratedFrom: from}, nil
}

// lockWait is how long Open waits for another process to release the
// database (a backup of a stopped gateway holds it for moments).
const lockWait = 2 * time.Second

func openError(path string, err error) error {
	var nf *NewerFormatError
	switch {
	case errors.As(err, &nf):
		return err
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("state store %s is locked: is another icugate running with the same data directory? %w", path, err)
	}
	return fmt.Errorf("state store %s: %w", path, err)
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

// MaintenanceFlag is an engineer's out-of-service mark on a device; while
// on, it is the device's open work order (why, which ticket, when it is
// expected back).
type MaintenanceFlag struct {
	On bool      `json:"on"`
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Reason, Ticket and ExpectedReturn describe the work order; absent in
	// flags written by versions before work orders.
	Reason         string     `json:"reason,omitempty"`
	Ticket         string     `json:"ticket,omitempty"`
	ExpectedReturn *time.Time `json:"expected_return,omitempty"`
}

// Assignment is a device moved at run time.
type Assignment struct {
	At   string    `json:"at"`
	By   string    `json:"by"`
	Time time.Time `json:"time"`
}

// AuditEntry is one mutating API call: who did what, when, and the result.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`
	Remote string    `json:"remote"`
	Action string    `json:"action"`
	Device string    `json:"device,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Status is the HTTP status answered (entries written before it was
	// kept had it at the end of Detail, " status=NNN"; format 1 moved it
	// here).
	Status int    `json:"status,omitempty"`
	Result string `json:"result"`
}

func (s *Store) putJSON(bucket []byte, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(key), buf)
	})
}

func (s *Store) forEach(bucket []byte, fn func(key string, raw []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			return fn(string(k), v)
		})
	})
}

// SetMaintenance records a device's maintenance flag and, in the same
// transaction, its work-order history (WorkOrders): turning the flag on
// opens a work order, setting it again while on updates the open one, and
// turning it off closes it.
//
// An update of an open work order keeps who opened it and when.
func (s *Store) SetMaintenance(device string, f MaintenanceFlag) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMaintenance)
		var prev MaintenanceFlag
		if raw := b.Get([]byte(device)); raw != nil {
			if err := json.Unmarshal(raw, &prev); err != nil {
				prev = MaintenanceFlag{} // a damaged flag is replaced
			}
		}
		if prev.On && f.On {
			f.At, f.By = prev.At, prev.By
		}
		buf, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(device), buf); err != nil {
			return err
		}
		return recordWorkOrder(tx, device, prev, f)
	})
}

// Maintenance returns every recorded maintenance flag by device.
func (s *Store) Maintenance() (map[string]MaintenanceFlag, error) {
	out := map[string]MaintenanceFlag{}
	err := s.forEach(bucketMaintenance, func(k string, raw []byte) error {
		var f MaintenanceFlag
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("maintenance flag of %s: %w", k, err)
		}
		out[k] = f
		return nil
	})
	return out, err
}

// SetAssignment records a device moved at run time.
func (s *Store) SetAssignment(device string, a Assignment) error {
	return s.putJSON(bucketAssignment, device, a)
}

// Assignments returns every run-time assignment by device.
func (s *Store) Assignments() (map[string]Assignment, error) {
	out := map[string]Assignment{}
	err := s.forEach(bucketAssignment, func(k string, raw []byte) error {
		var a Assignment
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("assignment of %s: %w", k, err)
		}
		out[k] = a
		return nil
	})
	return out, err
}

// SaveUsage stores accumulated seconds per state for every device, in one
// transaction (SaveUsageDays also stores daily usage with them).
func (s *Store) SaveUsage(usage map[string]map[string]float64) error {
	return s.SaveUsageDays(usage, nil)
}

// Usage returns the accumulated seconds per state by device.
func (s *Store) Usage() (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	err := s.forEach(bucketUsage, func(k string, raw []byte) error {
		var u map[string]float64
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Errorf("usage of %s: %w", k, err)
		}
		out[k] = u
		return nil
	})
	return out, err
}

// NextSequence atomically increments and returns the named counter (e.g.
// the report sequence number), which therefore only grows across restarts.
func (s *Store) NextSequence(name string) (uint64, error) {
	if name == string(formatKey) {
		return 0, fmt.Errorf("sequence %q: the name is taken by the store's format", name)
	}
	var n uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		switch v := b.Get([]byte(name)); {
		case len(v) == 8:
			n = binary.BigEndian.Uint64(v)
		case v != nil:
			// Starting again at 1 would reuse numbers the region has
			// seen (it rejects replays): refuse rather than go back.
			return fmt.Errorf("sequence %s is damaged (%d bytes, want 8)", name, len(v))
		}
		n++
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], n)
		return b.Put([]byte(name), buf[:])
	})
	return n, err
}

// Audit appends one entry to the audit trail.
func (s *Store) Audit(e AuditEntry) error {
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], buf); err != nil {
			return err
		}
		// Keep the trail bounded: a client hammering the API with bad
		// calls must not fill the disk. The oldest entries go first.
		if seq > maxAudit {
			binary.BigEndian.PutUint64(k[:], seq-maxAudit)
			return b.Delete(k[:])
		}
		return nil
	})
}

// maxAudit is how many audit entries the store keeps (the log has all).
const maxAudit = 100_000

// AuditTrail returns the last n audit entries, oldest first.
func (s *Store) AuditTrail(n int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// PutPending keeps b as the value waiting under name (e.g. the signed
// report not yet delivered), replacing what waited before.
func (s *Store) PutPending(name string, b []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(pendingKey(name), b)
	})
}

// Pending returns the value waiting under name, or nil if none.
func (s *Store) Pending(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(pendingKey(name)); b != nil {
			out = append([]byte(nil), b...)
		}
		return nil
	})
	return out, err
}

// ClearPending removes the value waiting under name if still reports true
// for it, in one transaction: a newer value that replaced the delivered one
// meanwhile stays.
func (s *Store) ClearPending(name string, still func(b []byte) bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if raw := b.Get(pendingKey(name)); raw == nil || !still(raw) {
			return nil
		}
		return b.Delete(pendingKey(name))
	})
}

// pendingKey is where a pending value lives in the meta bucket; "report"
// gives "report.pending", the key earlier versions used.
func pendingKey(name string) []byte { return []byte(name + ".pending") }
