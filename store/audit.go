package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	// From and To bound the time, inclusive; zero: open.
	From, To time.Time
	// Who, Device and Action match exactly.
	Who, Device, Action string
	// Limit is the most entries returned (the newest); 0: no limit.
	Limit int
}

func (f *AuditFilter) match(e *AuditEntry) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From),
		!f.To.IsZero() && e.Time.After(f.To),
		f.Who != "" && e.Who != f.Who,
		f.Device != "" && e.Device != f.Device,
		f.Action != "" && e.Action != f.Action:
		return false
	}
	return true
}

// FindAudit returns the audit entries that f selects, newest first. It
// walks the trail from its newest entry and stops at f.Limit or at the
// first entry older than f.From (entries are appended in time order).
func (s *Store) FindAudit(f AuditFilter) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			if !f.From.IsZero() && e.Time.Before(f.From) {
				break
			}
			if !f.match(&e) {
				continue
			}
			out = append(out, e)
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}
