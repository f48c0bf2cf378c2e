package inventory

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadTable feeds the CSV reader any bytes: it must not panic, every
// row it returns has the header's width and a row number past the
// header's, in order, and every problem names the file.
func FuzzReadTable(f *testing.F) {
	for _, s := range []string{
		header + "V-1,S1,ventilator,generic-ventilator-modbus,gicu-01,,10.0.0.1,1,,\n",
		"\xEF\xBB\xBFasset_id;location;profile\r\nA;b;c\r\n",
		"\xFF\xFEa\x00\t\x00b\x00\n\x00",
		"资产编号,床位,型号\n\"a,b\",\"x\ny\",\"\"\"\"\n",
		"title\n\nasset_id,location,profile\nA,\"unclosed\n",
		"a,b\n1,2,3\n4\n,,\n",
		"",
		"\xd7\xca\xb2\xfa\xb1\xe0\xba\xc5,\xb4\xb2\xce\xbb\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, enc := range []Encoding{EncodingAuto, EncodingUTF8, EncodingGBK} {
			table, ps := ReadTable("f.csv", data, enc, DefaultMapping())
			last := table.HeaderRow
			for _, r := range table.Rows {
				if len(r.Cells) != len(table.Header) {
					t.Fatalf("row %d has %d cells, header %d", r.Num, len(r.Cells), len(table.Header))
				}
				if r.Num <= last {
					t.Fatalf("row %d after row %d", r.Num, last)
				}
				last = r.Num
				for _, c := range r.Cells {
					if !utf8.ValidString(c) || c != strings.TrimSpace(c) {
						t.Fatalf("cell %q not valid, trimmed text", c)
					}
				}
			}
			for _, p := range ps {
				if p.File != "f.csv" || p.Row < 0 {
					t.Fatalf("problem %+v", p)
				}
			}
		}
	})
}
