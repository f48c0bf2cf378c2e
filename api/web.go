package api

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// webFS holds the dashboard: plain HTML, CSS and JavaScript modules, no
// build step and nothing fetched from elsewhere, so it works offline
// behind the hospital firewall.
//
//go:embed web
var webFS embed.FS

// dashboard serves the embedded dashboard. The assets are small and change
// with the binary, so clients revalidate rather than cache.
func dashboard() (http.Handler, error) {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, fmt.Errorf("api: embedded dashboard: %w", err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed", r.Method+" "+r.URL.Path+": the dashboard is read-only; use /api/v1")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		if strings.HasSuffix(r.URL.Path, ".js") {
			// Modules must be served as JavaScript whatever the host's
			// mime tables say.
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	}), nil
}
