package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Format is the layout of state.db this code writes: its buckets, keys and
// the shape of their values. It is kept under formatKey in the meta
// bucket. A database without it is format 0, everything written before
// formats were numbered.
//
// Every change to the layout that an older binary could misread gets a new
// format: a migration from the one before (migrations), fixtures of the
// old format under testdata/ that the tests open with the current code,
// and a line in docs/upgrades.md. An older binary meeting a newer format
// refuses to open it and changes nothing (ErrNewerFormat).
const Format = 1

// migrations[n] takes a database from format n to n+1 (one per format,
// which the array's length enforces). All of them, from the database's
// format up, run in the transaction that stamps the new format: a kill in
// the middle leaves the old format, whole.
var migrations = [Format]func(tx *bolt.Tx) error{
	0: migrate0to1,
}

// formatKey holds the format in the meta bucket, 8 bytes big-endian like
// the sequence counters there (NextSequence must not be given this name).
var formatKey = []byte("format")

// ErrNewerFormat is wrapped by the error of Open when state.db was written
// by a newer icugate than this one.
var ErrNewerFormat = errors.New("state.db is of a newer format")

// NewerFormatError says that a database was written by a newer icugate.
type NewerFormatError struct {
	Path  string
	Found int // the database's format
	Known int // the newest this binary reads
}

func (e *NewerFormatError) Error() string {
	return fmt.Sprintf("%s was written by a newer icugate (format %d; this binary knows up to %d): "+
		"upgrade icugate, or restore the backup taken before the upgrade (icugate restore); nothing was changed",
		e.Path, e.Found, e.Known)
}

// Is makes errors.Is(err, ErrNewerFormat) hold.
func (e *NewerFormatError) Is(target error) bool { return target == ErrNewerFormat }

// readFormat returns the format stamped in tx's database (0 when none).
func readFormat(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	switch v := b.Get(formatKey); {
	case v == nil:
		return 0, nil
	case len(v) != 8 || binary.BigEndian.Uint64(v) > 1<<31:
		return 0, fmt.Errorf("the format key is damaged (%x): restore a backup (icugate restore)", v)
	default:
		return int(binary.BigEndian.Uint64(v)), nil
	}
}

// peekFormat returns the format of the database at path, opened read-only
// so that nothing in it changes. It waits up to timeout for a gateway that
// holds the database (bbolt's read-only open needs a shared lock), then
// fails with an error wrapping bolt's ErrTimeout. A missing or empty file
// is format Format: Open creates it current.
func peekFormat(path string, timeout time.Duration) (int, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return Format, nil
	}
	if err != nil {
		return 0, err
	}
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var f int
	err = db.View(func(tx *bolt.Tx) error {
		f, err = readFormat(tx)
		return err
	})
	return f, err
}

// migrate brings tx's database to Format and stamps it. It refuses a
// newer format (Open checked already, read-only; this catches a newer
// binary that wrote in between).
func migrate(tx *bolt.Tx, path string) error {
	f, err := readFormat(tx)
	if err != nil {
		return err
	}
	if f > Format {
		return &NewerFormatError{Path: path, Found: f, Known: Format}
	}
	if f == Format {
		return nil
	}
	for n := f; n < Format; n++ {
		if err := migrations[n](tx); err != nil {
			return fmt.Errorf("migrating from format %d to %d: %w", n, n+1, err)
		}
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(Format))
	return tx.Bucket(bucketMeta).Put(formatKey, v[:])
}

// migrate0to1 brings what earlier versions wrote to format 1. What they
// wrote that format 1 reads as it is needs no step: maintenance flags
// without reason, ticket or expected return (absent fields), usage, run-
// time assignments, sequence counters, alerts, and the report waiting for
// delivery (always under "report.pending" in the meta bucket).
//
// Two steps:
//   - A maintenance flag set before work orders existed has no open work
//     order; without one, turning the flag off would record no history of
//     that period. It gets its open work order (who and since when, from
//     the flag).
//   - An audit entry written before entries kept their HTTP status has it
//     at the end of its detail (" status=NNN"); it moves into Status.
//
// Damaged records are left as they are: the calls that read them say
// which one is damaged, and a migration must not stop a gateway from
// starting over one of them.
func migrate0to1(tx *bolt.Tx) error {
	if err := openMissingWorkOrders(tx); err != nil {
		return fmt.Errorf("work orders: %w", err)
	}
	if err := auditStatusFromDetail(tx); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	return nil
}

func openMissingWorkOrders(tx *bolt.Tx) error {
	type flagged struct {
		device string
		flag   MaintenanceFlag
	}
	var open []flagged
	err := tx.Bucket(bucketMaintenance).ForEach(func(k, v []byte) error {
		var f MaintenanceFlag
		if json.Unmarshal(v, &f) == nil && f.On && !hasOpenWorkOrder(tx, k) {
			open = append(open, flagged{string(k), f})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Written after the walk: bbolt does not allow changes during ForEach.
	for _, o := range open {
		if err := recordWorkOrder(tx, o.device, MaintenanceFlag{}, o.flag); err != nil {
			return fmt.Errorf("%s: %w", o.device, err)
		}
	}
	return nil
}

// hasOpenWorkOrder reports whether device's newest work order is open.
func hasOpenWorkOrder(tx *bolt.Tx, device []byte) bool {
	all := tx.Bucket(bucketWorkOrders)
	if all == nil {
		return false
	}
	b := all.Bucket(device)
	if b == nil {
		return false
	}
	_, raw := b.Cursor().Last()
	var wo WorkOrder
	return raw != nil && json.Unmarshal(raw, &wo) == nil && wo.End == nil
}

func auditStatusFromDetail(tx *bolt.Tx) error {
	b := tx.Bucket(bucketAudit)
	type rewrite struct {
		key []byte
		val []byte
	}
	var out []rewrite
	err := b.ForEach(func(k, v []byte) error {
		var e AuditEntry
		if json.Unmarshal(v, &e) != nil || e.Status != 0 {
			return nil
		}
		i := strings.LastIndex(e.Detail, " status=")
		if i < 0 {
			return nil
		}
		n, err := strconv.Atoi(e.Detail[i+len(" status="):])
		if err != nil {
			return nil
		}
		e.Status, e.Detail = n, e.Detail[:i]
		buf, err := json.Marshal(e)
		if err != nil {
			return err
		}
		out = append(out, rewrite{append([]byte(nil), k...), buf})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range out {
		if err := b.Put(r.key, r.val); err != nil {
			return err
		}
	}
	return nil
}
