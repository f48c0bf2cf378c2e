package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the database to w while the store
// stays in use: bbolt's online copy, one read transaction, while writers
// carry on (they are not blocked; the copy is the database as of the
// transaction's start). size, when not nil, is told the copy's length in
// bytes before anything is written (for a Content-Length); its error
// stops the backup. The copy is of format Format, as the store is once
// open.
func (s *Store) Backup(w io.Writer, size func(n int64) error) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if size != nil {
			if err := size(tx.Size()); err != nil {
				return err
			}
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// ErrInUse is wrapped by the errors of Snapshot and Install when a
// gateway holds the database.
var ErrInUse = errors.New("state.db is in use by a running icugate")

// Snapshot writes a consistent copy of the database at path, which no
// gateway holds, to w, without changing or migrating it, and returns its
// format. It fails at once with an error wrapping ErrInUse when a gateway
// holds the database: then ask the gateway for the copy (GET
// /api/v1/backup, Store.Backup).
func Snapshot(path string, w io.Writer) (format int, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("state store: %w", err)
	}
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err != nil {
		return 0, fmt.Errorf("state store %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if format, err = readFormat(tx); err != nil {
			return err
		}
		_, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("state store %s: %w", path, err)
	}
	return format, nil
}

// Verify checks the database file at path (a backup's copy) without
// changing it: it must open, and every bucket, key and value must be
// readable (each page is where its parent says); its format is returned. A
// format newer than Format is for the caller to refuse.
func Verify(path string) (format int, err error) {
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("%s is not a usable state.db: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if err := walk(tx); err != nil {
			return err
		}
		var err error
		format, err = readFormat(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s is not a usable state.db: %w", path, err)
	}
	return format, nil
}

// walk reads every bucket, key and value of tx. bbolt panics on a page
// that is not what its parent says (tx.Check too, in a goroutine of its
// own that no one can recover); here the panic is in this goroutine and
// becomes an error.
func walk(tx *bolt.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("damaged page: %v", v)
		}
	}()
	var visit func(b *bolt.Bucket) error
	visit = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return visit(b.Bucket(k))
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return visit(b) })
}

// BeforeRestore is appended to the path of a database that Install
// replaced: the copy kept in case the restore was a mistake.
const BeforeRestore = ".before-restore"

// Install makes the database file src the database at path, atomically:
// the file at path, if any, stays as path+BeforeRestore, and src is
// renamed over path (src must be in path's directory), with the owner of
// the file it replaces (else of the directory). It takes the lock
// a running gateway holds on path, the one bbolt takes, and fails with an
// error wrapping ErrInUse while a gateway holds it. It refuses to replace
// an earlier path+BeforeRestore. Nothing changes when it fails.
func Install(path, src string) error {
	kept := path + BeforeRestore
	if _, err := os.Lstat(kept); err == nil {
		return fmt.Errorf("%s is there from an earlier restore: move it away (or delete it) first, so that it is not overwritten", kept)
	}
	live, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		live = nil
	case err != nil:
		return fmt.Errorf("state store %s: %w", path, err)
	default:
		defer live.Close()
		// The lock bbolt takes: flock on the file, exclusive. The kernel
		// drops it with the descriptor (Close), also if we die.
		if err := syscall.Flock(int(live.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return fmt.Errorf("%s: %w: stop it first (systemctl stop icugate), then restore", path, ErrInUse)
			}
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if err := sameOwner(src, live); err != nil {
			return err
		}
		// A hard link keeps the replaced database without a moment in
		// which path does not exist (a gateway starting then would
		// create an empty one).
		if err := os.Link(path, kept); err != nil {
			return fmt.Errorf("keep %s as %s: %w", path, kept, err)
		}
	}
	if live == nil {
		if err := sameOwner(src, nil); err != nil {
			return err
		}
	}
	if err := os.Rename(src, path); err != nil {
		if live != nil {
			os.Remove(kept)
		}
		return fmt.Errorf("install %s as %s: %w", src, path, err)
	}
	return syncDir(filepath.Dir(path))
}

// sameOwner gives the file at path the owner and group of ref, or of
// path's directory when ref is nil: a restore run as root must leave a
// state.db the gateway's user can open. Only root can give a file away;
// for anyone else a file they own already is all they can make.
func sameOwner(path string, ref *os.File) error {
	var fi os.FileInfo
	var err error
	if ref != nil {
		fi, err = ref.Stat()
	} else {
		fi, err = os.Stat(filepath.Dir(path))
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give %s the owner of the state.db it replaces (uid %d, gid %d): %w; run restore as root or as that user",
			path, st.Uid, st.Gid, err)
	}
	return nil
}

// syncDir makes a directory's entries (renamed, linked files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
