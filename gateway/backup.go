package gateway

import (
	"context"
	"errors"
	"io"

	"github.com/icugate/icugate/store"
)

// BackupState serves a consistent copy of state.db while the gateway runs
// (GET /api/v1/backup, for `icugate backup`): the running gateway holds
// the store's lock, so no other process can copy it. The copy is one
// bbolt read transaction; the engine goes on writing meanwhile.
func (b Backend) BackupState(ctx context.Context, w io.Writer, start func(size int64, format int) error) error {
	if b.g.store == nil {
		return errors.New("the state store is not open yet")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := b.g.store.Backup(w, func(n int64) error { return start(n, store.Format) })
	return err
}
