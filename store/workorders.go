package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWorkOrders holds each device's maintenance work orders: a nested
// bucket per device, sequence → WorkOrder.
var bucketWorkOrders = []byte("work_orders")

// maxWorkOrders is how many work orders the store keeps per device.
const maxWorkOrders = 200

// WorkOrder is one period a device was out of service for maintenance.
type WorkOrder struct {
	Device         string     `json:"device"`
	Reason         string     `json:"reason,omitempty"`
	Ticket         string     `json:"ticket,omitempty"`
	By             string     `json:"by"`
	Start          time.Time  `json:"start"`
	ExpectedReturn *time.Time `json:"expected_return,omitempty"`
	// End and EndedBy are set once maintenance ended.
	End     *time.Time `json:"end,omitempty"`
	EndedBy string     `json:"ended_by,omitempty"`
}

// recordWorkOrder keeps the history in step with a flag change prev → f.
func recordWorkOrder(tx *bolt.Tx, device string, prev, f MaintenanceFlag) error {
	all, err := tx.CreateBucketIfNotExists(bucketWorkOrders)
	if err != nil {
		return err
	}
	b, err := all.CreateBucketIfNotExists([]byte(device))
	if err != nil {
		return err
	}
	lastKey, lastRaw := b.Cursor().Last()
	var last *WorkOrder
	if lastKey != nil {
		var wo WorkOrder
		if json.Unmarshal(lastRaw, &wo) == nil && wo.End == nil {
			last = &wo
		}
	}
	put := func(key []byte, wo WorkOrder) error {
		buf, err := json.Marshal(wo)
		if err != nil {
			return err
		}
		return b.Put(key, buf)
	}
	switch {
	case f.On && last != nil && prev.On:
		// Still in maintenance: the open work order's details change.
		last.Reason, last.Ticket, last.ExpectedReturn = f.Reason, f.Ticket, f.ExpectedReturn
		return put(lastKey, *last)
	case f.On:
		if last != nil { // an order left open by a damaged flag: close it
			end := f.At
			last.End, last.EndedBy = &end, f.By
			if err := put(lastKey, *last); err != nil {
				return err
			}
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := put(seqKey(seq), WorkOrder{Device: device, Reason: f.Reason, Ticket: f.Ticket, By: f.By,
			Start: f.At, ExpectedReturn: f.ExpectedReturn}); err != nil {
			return err
		}
		if seq > maxWorkOrders {
			return b.Delete(seqKey(seq - maxWorkOrders))
		}
		return nil
	case last != nil:
		end := f.At
		last.End, last.EndedBy = &end, f.By
		return put(lastKey, *last)
	}
	return nil
}

// WorkOrders returns up to n of device's work orders, newest first.
func (s *Store) WorkOrders(device string, n int) ([]WorkOrder, error) {
	var out []WorkOrder
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketWorkOrders)
		if all == nil {
			return nil
		}
		b := all.Bucket([]byte(device))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var wo WorkOrder
			if err := json.Unmarshal(v, &wo); err != nil {
				return fmt.Errorf("work order of %s: %w", device, err)
			}
			out = append(out, wo)
		}
		return nil
	})
	return out, err
}
