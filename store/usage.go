package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UsageRetentionDays is how many local days of daily usage the store
// keeps, today included: two years, so that a year can be compared with
// the one before. Older days are pruned once a day (PruneUsageDays). A
// device-year takes about 51 KB of pages (measured by
// BenchmarkUsageDaysGrowth; see docs/usage-reports.md): 130 devices kept
// two years, about 13 MB.
const UsageRetentionDays = 731

// bucketUsageDays holds one DayUsage per day, device and unit, keyed
// "YYYY-MM-DD/device/unit" (unit "" for the hospital's store): in order
// of day first, so a range of days is one cursor walk and pruning cuts
// from the front. Ids cannot contain "/" (config's id rule).
var bucketUsageDays = []byte("usage_days")

// DayUsage is the time one device spent in each state on one local day
// (the gateway's time zone) while it sat in one unit. A device moved
// between units during a day has one record per unit. Times are seconds
// the gateway observed; the rest of the day it was not running.
type DayUsage struct {
	// Day (YYYY-MM-DD), Device and Unit are the record's key, not stored
	// in its value. Unit is "" for the hospital's store.
	Day    string `json:"-"`
	Device string `json:"-"`
	Unit   string `json:"-"`
	// Kind is the device's kind, kept so that a device removed from the
	// config still counts toward its kind.
	Kind        string  `json:"kind"`
	InUse       float64 `json:"in_use,omitempty"`
	Standby     float64 `json:"standby,omitempty"`
	Offline     float64 `json:"offline,omitempty"`
	Fault       float64 `json:"fault,omitempty"`
	Maintenance float64 `json:"maintenance,omitempty"`
}

// Observed is the seconds the record covers, all states together.
func (u *DayUsage) Observed() float64 {
	return u.InUse + u.Standby + u.Offline + u.Fault + u.Maintenance
}

func (u *DayUsage) key() []byte { return []byte(u.Day + "/" + u.Device + "/" + u.Unit) }

// value is the stored JSON: seconds to the millisecond (a float's last
// digits are noise that would double the record's size).
func (u *DayUsage) value() ([]byte, error) {
	ms := func(s float64) float64 { return math.Round(s*1000) / 1000 }
	v := *u
	v.InUse, v.Standby, v.Offline, v.Fault, v.Maintenance = ms(v.InUse), ms(v.Standby), ms(v.Offline), ms(v.Fault), ms(v.Maintenance)
	return json.Marshal(&v)
}

// parseUsageKey splits a key of bucketUsageDays.
func parseUsageKey(k []byte) (day, device, unit string, ok bool) {
	parts := bytes.SplitN(k, []byte("/"), 3)
	if len(parts) != 3 || len(parts[0]) != len(time.DateOnly) {
		return "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), true
}

// SaveUsageDays stores accumulated seconds per state for every device
// (as SaveUsage) and the given daily records, replacing what was stored
// under their keys, in one transaction: the totals and the days never
// disagree after a kill.
func (s *Store) SaveUsageDays(totals map[string]map[string]float64, days []DayUsage) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
		for dev, u := range totals {
			buf, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(dev), buf); err != nil {
				return err
			}
		}
		if len(days) == 0 {
			return nil
		}
		db, err := tx.CreateBucketIfNotExists(bucketUsageDays)
		if err != nil {
			return err
		}
		// New days are appended at the end of the key space: pages that
		// split there need not keep room for inserts in the middle.
		db.FillPercent = 0.9
		for i := range days {
			buf, err := days[i].value()
			if err != nil {
				return err
			}
			if err := db.Put(days[i].key(), buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// UsageDays calls fn with every daily record from day from to day to
// (YYYY-MM-DD, both included), in order of day. keep, when not nil, is
// asked first with a record's key, so that records of other devices or
// units are skipped without being decoded. fn's error stops the walk and
// is returned.
func (s *Store) UsageDays(from, to string, keep func(day, device, unit string) bool, fn func(DayUsage) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsageDays)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(from)); k != nil; k, v = c.Next() {
			day, dev, unit, ok := parseUsageKey(k)
			if !ok {
				continue
			}
			if day > to {
				break
			}
			if keep != nil && !keep(day, dev, unit) {
				continue
			}
			u := DayUsage{Day: day, Device: dev, Unit: unit}
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("daily usage %s: %w", k, err)
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneUsageDays deletes the daily records of every day before day
// before (YYYY-MM-DD) and returns how many it deleted.
func (s *Store) PruneUsageDays(before string) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsageDays)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// Deleting through the cursor moves it to the next key.
		for k, _ := c.First(); k != nil && string(k) < before; {
			if err := c.Delete(); err != nil {
				return err
			}
			n++
			k, _ = c.Seek(k)
		}
		return nil
	})
	return n, err
}
