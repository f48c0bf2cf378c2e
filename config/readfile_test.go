package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithin runs Load and fails the test if it does not return within d:
// the files these tests hand it used to be read forever.
// hangAfter is how long a Load may take before it counts as hung. It
// guards against reading forever, not for speed: a 4 MiB site takes about
// 7 s under the race detector on a loaded 2-core machine.
const hangAfter = time.Minute

func loadWithin(t *testing.T, d time.Duration, path string) (*Site, error) {
	t.Helper()
	type result struct {
		s   *Site
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Load(path)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(d):
		t.Fatalf("Load(%s) still reading after %v", path, d)
		return nil, nil
	}
}

// siteAt copies testdata/good.yaml into a temporary directory, padded with
// comment lines to exactly size bytes (0: unpadded), with profiles_dir
// pointing at profiles (testdata/profiles when ""). It returns the site's
// path.
func siteAt(t *testing.T, size int, profiles string) string {
	t.Helper()
	good, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if profiles == "" {
		if profiles, err = filepath.Abs("testdata/profiles"); err != nil {
			t.Fatal(err)
		}
	}
	data := append(good, fmt.Sprintf("profiles_dir: %q\n", profiles)...)
	if size > 0 {
		pad := size - len(data)
		line := "# " + strings.Repeat("x", 77) + "\n"
		for pad > len(line) {
			data = append(data, line...)
			pad -= len(line)
		}
		data = append(data, "#"+strings.Repeat("x", pad-2)+"\n"...)
		if len(data) != size {
			t.Fatalf("padded to %d bytes, want %d", len(data), size)
		}
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSiteSizeLimit(t *testing.T) {
	if _, err := loadWithin(t, hangAfter, siteAt(t, maxFileSize, "")); err != nil {
		t.Fatalf("a site of exactly %d bytes: %v", maxFileSize, err)
	}
	big := siteAt(t, maxFileSize+1, "")
	_, err := loadWithin(t, hangAfter, big)
	if want := big + ": larger than 4 MiB; is this the right file?"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a site one byte over the limit: %v, want %q", err, want)
	}
	var probs *Problems
	if errors.As(err, &probs) {
		t.Fatalf("an oversized site is not a list of problems: %v", err)
	}
}

func TestProfileSizeLimit(t *testing.T) {
	// The site's profiles, with mon.yaml replaced by a file far too large:
	// the problem is the profile file's, not the site line's.
	dir := t.TempDir()
	shipped, _ := filepath.Glob("testdata/profiles/*.yaml")
	for _, f := range shipped {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644)
	}
	prof := filepath.Join(dir, "mon.yaml")
	if err := os.WriteFile(prof, bytes.Repeat([]byte("# not a profile\n"), maxFileSize/16+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadWithin(t, hangAfter, siteAt(t, 0, dir))
	got := problemsOf(t, err)
	if len(got) != 1 || got[0].File != prof || got[0].Line != 0 || got[0].Message != "larger than 4 MiB; is this the right file?" {
		t.Fatalf("problems:\n%v\nwant only %s: larger than 4 MiB; is this the right file?", err, prof)
	}
	if _, err := LoadProfile(prof); err == nil || !strings.Contains(err.Error(), prof+": larger than 4 MiB") {
		t.Fatalf("LoadProfile: %v", err)
	}
}

func TestSiteMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	_, err := loadWithin(t, hangAfter, dir)
	if want := dir + ": a directory, not a regular file"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a directory: %v, want %q", err, want)
	}
	// A symlink to a regular file is how many deployments point at the
	// current config; it is read as the file.
	link := filepath.Join(dir, "current.yaml")
	if err := os.Symlink(siteAt(t, 0, ""), link); err != nil {
		t.Fatalf("make a symlink: %v", err)
	}
	if _, err := loadWithin(t, hangAfter, link); err != nil {
		t.Fatalf("a symlink to a valid site: %v", err)
	}
}

// TestLargestSiteFitsTheLimit backs the limit's claim with a site of
// 10,000 devices (2,500 ICU beds with 4 devices each), more than any
// hospital holds: written in the style of configs/ (one line per device)
// it is about 1.7 MiB; written out the longest way (one key per line,
// defaults spelled out, a comment per bed) about 2.4 MiB. Both fit with
// room to spare, and the long one loads.
func TestLargestSiteFitsTheLimit(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("loads a 10,000-device site (-short; never skipped under CI=true)")
	}
	compact, devices := largeSite(t, false)
	long, _ := largeSite(t, true)
	t.Logf("%d devices: %d bytes (%.1f MiB) one line per device, %d bytes (%.1f MiB) written out; limit %d MiB",
		devices, len(compact), float64(len(compact))/(1<<20), len(long), float64(len(long))/(1<<20), maxFileSize>>20)
	if devices != 10_000 || len(compact) > maxFileSize/2 || len(long) > maxFileSize*3/4 {
		t.Fatalf("%d devices in %d and %d bytes: a realistic site should be well under the %d-byte limit", devices, len(compact), len(long), maxFileSize)
	}
	path := filepath.Join(t.TempDir(), "big-site.yaml")
	if err := os.WriteFile(path, long, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(s.Devices) != devices {
		t.Fatalf("loaded %d devices, want %d", len(s.Devices), devices)
	}
}

// largeSite writes a site of 10,000 devices on the shipped profiles, one
// line per device like configs/, or written out at length.
func largeSite(t *testing.T, long bool) ([]byte, int) {
	t.Helper()
	profiles, err := filepath.Abs("../configs/profiles")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "hospital:\n  id: big-hospital\n  name: The Largest Hospital\n  level: tertiary\n  total_beds: 20000\n  region: region-east\nprofiles_dir: %q\nunits:\n", profiles)
	const units, bedsPerUnit = 50, 50
	for u := 1; u <= units; u++ {
		fmt.Fprintf(&b, "  - id: icu-%02d\n    name: Intensive Care Unit %02d\n    class: general\n    beds:\n", u, u)
		for i := 1; i <= bedsPerUnit; i++ {
			fmt.Fprintf(&b, "      - icu-%02d-bed-%03d\n", u, i)
		}
	}
	b.WriteString("devices:\n")
	devices := 0
	for u := 1; u <= units; u++ {
		for i := 1; i <= bedsPerUnit; i++ {
			bed := fmt.Sprintf("icu-%02d-bed-%03d", u, i)
			if long {
				fmt.Fprintf(&b, "  # Bed %s: monitor, ventilator, CRRT and ECMO behind one converter.\n", bed)
			}
			for unitID, kind := range []string{"monitor", "ventilator", "crrt", "ecmo"} {
				devices++
				addr := fmt.Sprintf("10.20.%d.%d:502", u, i)
				if long {
					fmt.Fprintf(&b, "  - id: %s-%s\n    kind: %s\n    profile: generic-%s-modbus\n    at: %s\n    serial: \"SN-%08d\"\n"+
						"    modbus:\n      address: \"%s\"\n      unit_id: %d\n      interval: 1s\n      timeout: 1s\n",
						bed, kind, kind, kind, bed, devices, addr, unitID+1)
				} else {
					fmt.Fprintf(&b, "  - {id: %s-%s, kind: %s, profile: generic-%s-modbus, at: %s, serial: \"SN-%08d\", modbus: {address: \"%s\", unit_id: %d}}\n",
						bed, kind, kind, kind, bed, devices, addr, unitID+1)
				}
			}
		}
	}
	return b.Bytes(), devices
}
