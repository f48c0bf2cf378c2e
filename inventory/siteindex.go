package inventory

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/icugate/icugate/config"
)

// siteIndex is what rows are checked against: the site's beds and pools,
// the profiles in its profiles_dir, and the devices it keeps outside the
// file being imported.
type siteIndex struct {
	site   *config.Site
	places map[string]string // bed or pool id -> "bed of unit X" | "pool"
	// profiles are the profiles of profiles_dir by the name a device
	// gives (the file name without .yaml); a profile with problems is
	// absent, and the final site check reports it if a row names it.
	profiles map[string]*config.Profile
	kinds    map[string]bool     // kinds of those profiles
	byModel  map[string][]string // modelKey -> profile names
	// others are the site's devices outside the imported file, and
	// where each is (the site file or another devices file).
	others  []config.Device
	otherIn map[string]string
	// hints for problems, made once: a bad row may be one of 10,000
	placeHint, profileHint, kindHint string
}

func newSiteIndex(site *config.Site, target string) *siteIndex {
	x := &siteIndex{
		site: site, places: map[string]string{}, profiles: map[string]*config.Profile{},
		kinds: map[string]bool{}, byModel: map[string][]string{}, otherIn: map[string]string{},
	}
	for _, u := range site.Units {
		for _, b := range u.Beds {
			x.places[b] = "bed of unit " + u.ID
		}
	}
	for _, p := range site.Pools {
		x.places[p.ID] = "pool"
	}
	files, _ := filepath.Glob(filepath.Join(site.ProfilesDir, "*.yaml"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		p, err := config.LoadProfile(f)
		if err != nil {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		x.profiles[name] = p
		x.kinds[p.Kind] = true
		if p.Vendor != "" && p.Model != "" {
			k := modelKey(p.Vendor, p.Model)
			x.byModel[k] = append(x.byModel[k], name)
		}
	}
	inTarget := map[string]bool{}
	for _, f := range site.DeviceFiles {
		where := f.Path
		if samePath(f.Path, target) {
			for _, id := range f.Devices {
				inTarget[id] = true
			}
			continue
		}
		for _, id := range f.Devices {
			x.otherIn[id] = where
		}
	}
	x.placeHint = listSome(sortedKeys(x.places), 8)
	x.profileHint = listSome(sortedKeys(x.profiles), 12)
	x.kindHint = strings.Join(sortedKeys(x.kinds), ", ")
	for _, d := range site.Devices {
		if inTarget[d.ID] {
			continue
		}
		x.others = append(x.others, d)
		if _, ok := x.otherIn[d.ID]; !ok {
			x.otherIn[d.ID] = site.File
		}
	}
	return x
}

// modelKey is how vendor and model are compared: as headers are, so
// "M-300 (Modbus)", "M300（Modbus）" and "m-300 modbus" are one model.
func modelKey(vendor, model string) string { return normHeader(vendor) + "\x00" + normHeader(model) }

// listSome joins up to n names and says how many more there are.
func listSome(names []string, n int) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", … (" + itoa(len(names)-n) + " more)"
}

// samePath reports whether two paths name the same file.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
