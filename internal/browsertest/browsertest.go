// Package browsertest starts headless Chromium for the dashboard's browser
// tests (Debian's chromium package; scripts/install-chromium.sh installs
// it). With CI=true a missing browser fails the test instead of skipping.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path returns the Chromium executable: $ICUGATE_CHROMIUM, or chromium on
// PATH. Missing, it fails the test under CI=true and skips it otherwise.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ICUGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (CI=true): run scripts/install-chromium.sh")
	}
	t.Skip("chromium not found: run scripts/install-chromium.sh to run the dashboard's browser tests")
	return ""
}

// New starts a headless Chromium with a fresh profile, sized like a ward
// workstation (1366x768), and returns a tab's context, valid for timeout.
// The browser is stopped when the test ends. The flags keep Chromium off
// the network: this machine's network is closed, and a browser that tries
// to reach Google at start is slow and noisy.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	exe := Path(t)
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1366, 768),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	// Start the browser and its tab on ctx itself: a tab first used under
	// a shorter-lived context derived from ctx would close with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	return ctx
}
