package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes the devices file: the whole new file goes to a temporary
// file beside it and is synced, the previous file is kept as Target+".bak",
// and only then is the new one renamed into place. A gateway reloading at
// any moment reads the old file or the new one, never a part; if anything
// fails, the previous file is left as it was. It returns the backup's
// path, or "" when there was no previous file.
func (p *Plan) Write() (backup string, err error) {
	return writeDevicesFile(p.Target, p.Content)
}

func writeDevicesFile(path string, content []byte) (backup string, err error) {
	mode := fs.FileMode(0o644)
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	default:
		return "", fmt.Errorf("read the current %s: %w", path, err)
	}
	tmp, err := writeTemp(path, content, mode)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if old != nil {
		backup = path + ".bak"
		bak, err := writeTemp(backup, old, mode)
		if err != nil {
			return "", fmt.Errorf("keep the previous file: %w", err)
		}
		if err := os.Rename(bak, backup); err != nil {
			os.Remove(bak)
			return "", fmt.Errorf("keep the previous file as %s: %w", backup, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("replace %s: %w", path, err)
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return backup, nil
}

// writeTemp writes content to a new temporary file in path's directory,
// synced to disk, and returns its name.
func writeTemp(path string, content []byte, mode fs.FileMode) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(content); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}
