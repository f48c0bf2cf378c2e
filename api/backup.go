package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// StateBackup is implemented by a backend that keeps a state store (the
// gateway's state.db) and can copy it while running. A running gateway
// holds the store's lock, so another process cannot open it; `icugate
// backup` asks the gateway for the copy on GET /api/v1/backup instead.
type StateBackup interface {
	// BackupState writes a consistent copy of the state store to w: the
	// store as of one moment, while the gateway goes on writing. It calls
	// start with the copy's length in bytes and its format before writing
	// anything, and writes nothing if start fails. The copy is not
	// interrupted by ctx; it ends when w fails.
	BackupState(ctx context.Context, w io.Writer, start func(size int64, format int) error) error
}

// Backup headers and limits.
const (
	// StateFormatHeader carries the format of the state.db copy.
	StateFormatHeader = "X-Icugate-State-Format"
	// backupWriteTime bounds sending one copy: a state.db of tens of MB
	// over a slow link takes longer than other answers may.
	backupWriteTime = 10 * time.Minute
)

// getBackup serves a consistent copy of the state store (GET
// /api/v1/backup) as application/octet-stream with its Content-Length,
// for `icugate backup` while the gateway runs. It needs the admin role
// when tokens are configured: the copy holds the audit trail and every
// change made at run time. Every call, refused or not, goes in the audit
// trail ("backup").
//
// It is mounted outside the bounded routes: http.TimeoutHandler would
// hold the whole copy in memory and cut it after RequestTimeout.
func (s *Server) getBackup(w http.ResponseWriter, r *http.Request) {
	id, rerr := s.identify(r)
	if rerr == nil {
		rerr = s.needRole(r, id, RoleAdmin, "taking a backup of the state store")
	}
	who := id.name
	if who == "" {
		who = anonymous
	}
	audit := func(status int, detail, result string) {
		s.backend.Audit(AuditEntry{Time: s.now(), Who: who, Remote: r.RemoteAddr, Action: "backup",
			Detail: detail, Status: status, Result: result})
	}
	if rerr != nil {
		s.metrics.refused.WithLabelValues("backup", rerr.what).Inc()
		if rerr.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="icugate"`)
		}
		writeError(w, rerr.code, rerr.what, rerr.reason)
		audit(rerr.code, "", rerr.what+": "+rerr.reason)
		return
	}
	sb, ok := s.backend.(StateBackup)
	if !ok {
		writeError(w, http.StatusNotImplemented, "no state store", "this backend keeps no state store to back up")
		return
	}
	// Not supported by httptest recorders; harmless then.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupWriteTime))
	cw := &countingWriter{w: w}
	var size int64 = -1
	err := sb.BackupState(r.Context(), cw, func(n int64, format int) error {
		size = n
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(n, 10))
		h.Set("Content-Disposition", `attachment; filename="state.db"`)
		h.Set("Cache-Control", "no-store")
		h.Set(StateFormatHeader, strconv.Itoa(format))
		w.WriteHeader(http.StatusOK)
		return nil
	})
	switch {
	case err != nil && size < 0:
		writeError(w, http.StatusInternalServerError, "backup failed", err.Error())
		audit(http.StatusInternalServerError, "", err.Error())
	case err != nil:
		// The status is sent; the client sees fewer bytes than
		// Content-Length said and discards the copy.
		s.log.Warn("backup cut short", "who", who, "remote", r.RemoteAddr, "sent", cw.n, "size", size, "err", err)
		audit(http.StatusOK, fmt.Sprintf("bytes=%d of %d", cw.n, size), "cut short: "+err.Error())
	default:
		audit(http.StatusOK, fmt.Sprintf("bytes=%d", cw.n), "ok")
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
