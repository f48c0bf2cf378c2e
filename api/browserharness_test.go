package api

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/icugate/icugate/internal/browsertest"
)

// The dashboard is tested in real headless Chromium (Debian package
// chromium; scripts/install-chromium.sh installs it), driven by chromedp
// against a test server over a real engine. Screenshots go to
// $ICUGATE_ARTIFACTS/dashboard (default $TMPDIR/icugate-artifacts; each
// path is logged), and also to testdata/screenshots/ with
// -update-screenshots.

var updateScreenshots = flag.Bool("update-screenshots", false, "also write dashboard screenshots to testdata/screenshots/")

// browser is a headless Chromium tab on a test server of f.
type browser struct {
	t   *testing.T
	f   *fixture
	ts  *httptest.Server
	url string
	ctx context.Context

	mu   sync.Mutex
	errs []string // uncaught exceptions and console errors of the page
}

func newBrowser(t *testing.T, f *fixture) *browser {
	t.Helper()
	ts := httptest.NewServer(f.h)
	t.Cleanup(ts.Close)
	ctx := browsertest.New(t, 60*time.Second)
	b := &browser{t: t, f: f, ts: ts, url: ts.URL, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != "error" {
				return
			}
			msg = "console.error:"
			for _, a := range ev.Args {
				msg += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		b.mu.Lock()
		b.errs = append(b.errs, msg)
		b.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errs {
			t.Errorf("page error: %s", e)
		}
	})
	return b
}

// do runs steps, failing the test with what was being done and what the
// page showed.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.dump())
	}
}

// click clicks the element sel with the mouse, once it is visible. A live
// update may replace the element between finding and clicking it; the
// click is then tried again on the new element.
func (b *browser) click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var err error
		for range 5 {
			err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
			if err == nil || !strings.Contains(err.Error(), "node") {
				return err
			}
			time.Sleep(50 * time.Millisecond) // a pause before retrying: the page offers no event for "update done"
		}
		return err
	})
}

// dump describes the page for a failure message.
func (b *browser) dump() string {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.querySelector("#banner").textContent + "\n" + document.querySelector("main").innerHTML.slice(0, 3000)`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return v
}

// waitFor waits until the JavaScript predicate holds.
func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, predicate, err)
	}
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// noHorizontalScroll fails the test when the page is wider than the
// viewport: the ward must be readable without side-scrolling.
func (b *browser) noHorizontalScroll(viewport string) {
	b.t.Helper()
	if got := b.eval(`document.documentElement.scrollWidth + " " + window.innerWidth`); func() bool {
		var sw, iw int
		fmt.Sscan(got, &sw, &iw)
		return sw > iw
	}() {
		b.t.Errorf("at %s the page scrolls sideways (scrollWidth, innerWidth = %s)", viewport, got)
	}
}

// screenshot saves the viewport as a PNG artifact.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	// From the top: a full-page capture of a scrolled page draws the
	// sticky header in the middle.
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("ICUGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "icugate-artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	if *updateScreenshots {
		if err := os.MkdirAll(filepath.Join("testdata", "screenshots"), 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "screenshots", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// hash moves within the page (no load event, so not Navigate).
func (b *browser) hash(h string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", h))
}

func decodeBody(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("%s: %s", res.Request.URL, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func bedIs(bed, state string) string {
	return fmt.Sprintf(`li.bed[data-bed=%q][data-state=%q]`, bed, state)
}
