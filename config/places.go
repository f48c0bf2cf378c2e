package config

// HasPlace reports whether id is a bed of a unit or a pool of the site:
// somewhere a device can be assigned.
func (s *Site) HasPlace(id string) bool {
	for _, u := range s.Units {
		for _, b := range u.Beds {
			if b == id {
				return true
			}
		}
	}
	for _, p := range s.Pools {
		if p.ID == id {
			return true
		}
	}
	return false
}
