package influx

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/icugate/icugate/outbox"
)

// deadLetter is the file of points the server refused for themselves: one
// JSON object per line with the line protocol, the class and the server's
// reason, so an engineer can fix and replay them. It is fsynced before the
// point leaves the outbox: it is the point's only copy.
type deadLetter struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

type deadLetterLine struct {
	Time     time.Time `json:"time"`
	Class    string    `json:"class"`
	Status   int       `json:"status"`
	Reason   string    `json:"reason"`
	Line     string    `json:"line"`
	Appended time.Time `json:"appended"`
}

func openDeadLetter(path string) (*deadLetter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("influxdb: dead-letter file %s: %w", path, err)
	}
	return &deadLetter{path: path, f: f}, nil
}

func (d *deadLetter) add(e outbox.Entry, status int, reason string) error {
	b, err := json.Marshal(deadLetterLine{
		Time: time.Now().UTC(), Class: e.Class.String(), Status: status,
		Reason: reason, Line: string(e.Data), Appended: e.Appended.UTC(),
	})
	if err != nil {
		return fmt.Errorf("influxdb: dead-letter %s: %w", d.path, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("influxdb: dead-letter %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("influxdb: dead-letter %s: %w", d.path, err)
	}
	return nil
}

// Close closes the file.
func (d *deadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f.Close()
}
