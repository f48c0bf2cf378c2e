package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the alerts: the alerts firing now (id → state), one queue of
// notifications per receiver (a nested bucket per receiver, sequence →
// notification), and the alert history (sequence → entry).
var (
	bucketAlerts       = []byte("alerts")
	bucketAlertQueues  = []byte("alert_queues")
	bucketAlertHistory = []byte("alert_history")
)

// maxAlertHistory is how many alert history entries the store keeps.
const maxAlertHistory = 5000

// AlertCommit is one set of alert changes written in a single transaction:
// an alert's new state, the notifications it causes and its history entry
// land together or not at all, so a kill at any moment neither loses a
// notification nor leaves one that a restart would make again.
type AlertCommit struct {
	// Put sets the state of alerts by id; Delete removes alerts.
	Put    map[string][]byte
	Delete []string
	// Queue appends notifications to each named receiver's queue, in
	// order.
	Queue map[string][][]byte
	// History appends entries to the alert history, in order.
	History [][]byte
}

// QueuedNotification is one notification waiting for its receiver.
type QueuedNotification struct {
	Seq  uint64
	Data []byte
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

func (s *Store) alertBuckets(tx *bolt.Tx) (alerts, queues, history *bolt.Bucket, err error) {
	for _, p := range []struct {
		name []byte
		b    **bolt.Bucket
	}{{bucketAlerts, &alerts}, {bucketAlertQueues, &queues}, {bucketAlertHistory, &history}} {
		if tx.Writable() {
			*p.b, err = tx.CreateBucketIfNotExists(p.name)
			if err != nil {
				return nil, nil, nil, err
			}
		} else {
			*p.b = tx.Bucket(p.name)
		}
	}
	return alerts, queues, history, nil
}

// CommitAlerts applies c in one transaction.
func (s *Store) CommitAlerts(c AlertCommit) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		alerts, queues, history, err := s.alertBuckets(tx)
		if err != nil {
			return err
		}
		for id, v := range c.Put {
			if err := alerts.Put([]byte(id), v); err != nil {
				return fmt.Errorf("alert %s: %w", id, err)
			}
		}
		for _, id := range c.Delete {
			if err := alerts.Delete([]byte(id)); err != nil {
				return fmt.Errorf("alert %s: %w", id, err)
			}
		}
		for rcv, list := range c.Queue {
			q, err := queues.CreateBucketIfNotExists([]byte(rcv))
			if err != nil {
				return fmt.Errorf("queue of receiver %s: %w", rcv, err)
			}
			for _, v := range list {
				seq, err := q.NextSequence()
				if err != nil {
					return err
				}
				if err := q.Put(seqKey(seq), v); err != nil {
					return fmt.Errorf("queue of receiver %s: %w", rcv, err)
				}
			}
		}
		for _, v := range c.History {
			seq, err := history.NextSequence()
			if err != nil {
				return err
			}
			if err := history.Put(seqKey(seq), v); err != nil {
				return err
			}
			if seq > maxAlertHistory {
				if err := history.Delete(seqKey(seq - maxAlertHistory)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// FiringAlerts returns the state of every alert recorded as firing, by id.
func (s *Store) FiringAlerts() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

// QueueHead returns up to n notifications waiting for receiver, oldest
// first.
func (s *Store) QueueHead(receiver string, n int) ([]QueuedNotification, error) {
	var out []QueuedNotification
	err := s.db.View(func(tx *bolt.Tx) error {
		qs := tx.Bucket(bucketAlertQueues)
		if qs == nil {
			return nil
		}
		q := qs.Bucket([]byte(receiver))
		if q == nil {
			return nil
		}
		c := q.Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			out = append(out, QueuedNotification{Seq: binary.BigEndian.Uint64(k), Data: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// QueueLen returns how many notifications wait for each receiver that has
// a queue.
func (s *Store) QueueLen() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		qs := tx.Bucket(bucketAlertQueues)
		if qs == nil {
			return nil
		}
		return qs.ForEachBucket(func(k []byte) error {
			out[string(k)] = qs.Bucket(k).Stats().KeyN
			return nil
		})
	})
	return out, err
}

// Delivered removes notification seq from receiver's queue: the receiver
// took it.
func (s *Store) Delivered(receiver string, seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		qs, err := tx.CreateBucketIfNotExists(bucketAlertQueues)
		if err != nil {
			return err
		}
		q := qs.Bucket([]byte(receiver))
		if q == nil {
			return nil
		}
		return q.Delete(seqKey(seq))
	})
}

// AlertHistory returns the last n history entries, newest first.
func (s *Store) AlertHistory(n int) ([][]byte, error) {
	var out [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlertHistory)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			out = append(out, append([]byte(nil), v...))
		}
		return nil
	})
	return out, err
}
