package api

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDashboardIsServed(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do(t, "GET", "/", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script type="module" src="app.js">`) {
		t.Fatalf("GET /: %d %.200s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/app.js", "/ward.js", "/style.css"} {
		w := f.do(t, "GET", p, "")
		if w.Code != 200 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
		if strings.HasSuffix(p, ".js") && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("%s served as %q", p, w.Header().Get("Content-Type"))
		}
	}
}

// The dashboard must work offline: every import is a local module that
// exists, and nothing refers to another origin.
func TestDashboardIsSelfContained(t *testing.T) {
	imports := regexp.MustCompile(`(?m)^import .* from "([^"]+)";`)
	remote := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	err := fs.WalkDir(webFS, "web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webFS, path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, m := range imports.FindAllStringSubmatch(src, -1) {
			if !strings.HasPrefix(m[1], "./") {
				t.Errorf("%s imports %q: only local modules", path, m[1])
				continue
			}
			if _, err := fs.Stat(webFS, "web/"+strings.TrimPrefix(m[1], "./")); err != nil {
				t.Errorf("%s imports missing %s", path, m[1])
			}
		}
		if m := remote.FindString(src); m != "" {
			t.Errorf("%s refers to another origin: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every label the code asks for exists in English and Chinese.
func TestDashboardLabelsInBothLanguages(t *testing.T) {
	src, err := fs.ReadFile(webFS, "web/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	zhAt := strings.Index(text, "\n  zh: {")
	if zhAt < 0 {
		t.Fatal("no zh dictionary")
	}
	key := regexp.MustCompile(`(?m)^\s+"([a-z_]+(?:\.[a-z_]+)*)": `)
	keys := func(s string) []string {
		var k []string
		for _, m := range key.FindAllStringSubmatch(s, -1) {
			k = append(k, m[1])
		}
		return k
	}
	en, zh := keys(text[:zhAt]), keys(text[zhAt:])
	for _, k := range en {
		if !slices.Contains(zh, k) {
			t.Errorf("label %q has no Chinese", k)
		}
	}
	for _, k := range zh {
		if !slices.Contains(en, k) {
			t.Errorf("label %q has no English", k)
		}
	}
	// Literal keys used in the code, and the dynamic ones built from
	// states, kinds and classes.
	used := regexp.MustCompile(`\bt\(\s*"([a-z_.]+)"`)
	want := map[string]bool{}
	entries, _ := fs.ReadDir(webFS, "web")
	for _, e := range entries {
		b, _ := fs.ReadFile(webFS, "web/"+e.Name())
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") { // a prefix, completed below
				want[m[1]] = true
			}
		}
	}
	for _, s := range deviceStateNames {
		want["state."+s], want["mark."+s] = true, true
	}
	for _, s := range bedStateNames {
		want["bed."+s] = true
	}
	for _, c := range classNames {
		want["class."+c] = true
	}
	for _, k := range []string{"ventilator", "monitor", "ecmo", "crrt"} {
		want["kind."+k], want["kshort."+k] = true, true
	}
	for _, c := range []string{"open", "connecting", "closed"} {
		want["conn."+c] = true
	}
	for k := range want {
		if !slices.Contains(en, k) {
			t.Errorf("label %q used but not defined", k)
		}
	}
	// The glossary's wording (shared/seeds/README.md).
	for _, term := range []string{"重症医学床位", "可转换ICU床位", "综合ICU床位", "专科ICU床位", "呼吸机", "监护仪", "床医比", "床护比", "床位占比"} {
		if !strings.Contains(text[zhAt:], term) {
			t.Errorf("Chinese labels lack the glossary term %s", term)
		}
	}
}
