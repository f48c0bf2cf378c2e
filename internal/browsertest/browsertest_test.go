package browsertest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestNewRendersAPageAndStops: the browser starts, runs script in a page
// at the workstation's size, and its processes are gone when the test
// ends.
func TestNewRendersAPageAndStops(t *testing.T) {
	exe := Path(t)
	if st, err := os.Stat(exe); err != nil || st.IsDir() {
		if _, err := exec.LookPath(exe); err != nil {
			t.Fatalf("Path returned %q, which is not an executable", exe)
		}
	}
	var profile string
	t.Run("browse", func(t *testing.T) {
		ctx := New(t, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<title>ward</title><p id="x">ok</p>`)); err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
		if err != nil {
			t.Fatal(err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if title != "ward" || width != 1366 {
			t.Errorf("title %q width %d; want ward and 1366", title, width)
		}
		if profile = userDataDir(t); profile == "" {
			t.Fatal("no chromium process runs with this test's profile")
		}
	})
	if out, _ := exec.Command("pgrep", "-f", "--", "--user-data-dir="+profile).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("chromium processes with profile %s still running after the test: %s", profile, out)
	}
}

// userDataDir finds the profile directory of this test's browser from
// its command line.
func userDataDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("pgrep", "-a", "-f", "--", "--user-data-dir=").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if dir, ok := strings.CutPrefix(f, "--user-data-dir="); ok && strings.Contains(dir, "TestNewRendersAPageAndStops") {
				return dir
			}
		}
	}
	return ""
}
