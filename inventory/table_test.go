package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/icugate/icugate/config"
)

// chineseExport is a CMMS export as a Chinese hospital's system writes it:
// a title row, Chinese headers, Chinese kinds, scrapped devices, vendor
// and model instead of a profile, dates with slashes.
const chineseExport = "设备台账（重症医学科）,,,,,,,,\r\n" +
	"资产编号,设备名称,设备类型,生产厂家,型号,序列号,床位,IP地址,从站地址,下次保养日期,设备状态\r\n" +
	"ZC-0001,有创呼吸机,呼吸机,Generic,V-500 (Modbus gateway),SN-A1,gicu-01,10.1.0.1,1,2027/3/31,在用\r\n" +
	"ZC-0002,多参数监护仪,监护仪,Generic,M-300（Modbus）,SN-A2,gicu-01,10.1.0.1,2,2027年4月1日,在用\r\n" +
	"ZC-0003,监护仪（旧）,监护仪,Generic,M-300 (Modbus),SN-A3,gicu-02,10.1.0.2,1,,报废\r\n" +
	"ZC-0004,体外膜肺氧合,体外膜肺氧合,Generic,E-10 console,SN-A4,central-store,10.1.0.4,1,2026-12-01,在用\r\n"

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The same Chinese export in every encoding a hospital sends: UTF-8,
// UTF-8 with a BOM (Excel's "CSV UTF-8"), GBK (Excel's "CSV" on Chinese
// Windows) read automatically or by -encoding gbk, and UTF-16LE with tabs
// (Excel's "Unicode text").
func TestEncodingsOfAChineseExport(t *testing.T) {
	t.Parallel()
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(strings.ReplaceAll(chineseExport, ",", "\t")))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		data     []byte
		enc      Encoding
		encoding string
		delim    rune
	}{
		{"utf-8", []byte(chineseExport), EncodingAuto, "UTF-8", ','},
		{"utf-8 with BOM", append([]byte{0xEF, 0xBB, 0xBF}, chineseExport...), EncodingAuto, "UTF-8 with BOM", ','},
		{"gbk detected", gbk(t, chineseExport), EncodingAuto, "GB18030 (GBK)", ','},
		{"gbk forced", gbk(t, chineseExport), EncodingGBK, "GB18030 (GBK)", ','},
		{"semicolons", []byte(strings.ReplaceAll(chineseExport, ",", ";")), EncodingAuto, "UTF-8", ';'},
		{"utf-16 tabs", utf16, EncodingAuto, "UTF-16LE", '\t'},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := writeTestSite(t, nil, "")
			plan, err := Prepare(Import{Site: site, Source: "台账.csv", Data: c.data, Encoding: c.enc, Now: testNow})
			if err != nil {
				t.Fatalf("Prepare:\n%v", err)
			}
			if plan.Table.Encoding != c.encoding || plan.Table.Delimiter != c.delim || plan.Table.HeaderRow != 2 {
				t.Errorf("read as %s, delimiter %q, header row %d", plan.Table.Encoding, plan.Table.Delimiter, plan.Table.HeaderRow)
			}
			var got []string
			for i, d := range plan.Devices {
				got = append(got, d.ID+" "+d.Kind+" "+d.Profile+" "+d.Serial+" "+d.PMDue+" row "+itoa(plan.Rows[i]))
			}
			want := []string{
				"ZC-0001 ventilator generic-ventilator-modbus SN-A1 2027-03-31 row 3",
				"ZC-0002 monitor generic-monitor-modbus SN-A2 2027-04-01 row 4",
				"ZC-0004 ecmo generic-ecmo-modbus SN-A4 2026-12-01 row 6",
			}
			if !slices.Equal(got, want) {
				t.Errorf("devices:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if plan.Skipped["status 报废"] != 1 || !slices.Equal(plan.Ignored, []string{"设备名称"}) {
				t.Errorf("skipped %v, ignored %v", plan.Skipped, plan.Ignored)
			}
		})
	}
}

// Problems in a GBK file are reported with its Chinese headers, and a GBK
// file forced to UTF-8 is refused with the way out.
func TestGBKProblems(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, nil, "")
	bad := strings.Replace(chineseExport, "gicu-01,10.1.0.1,2", "三号床,10.1.0.1,2", 1)
	_, err := Prepare(Import{Site: site, Source: "台账.csv", Data: gbk(t, bad), Now: testNow})
	got := problemLines(t, err)
	want := `台账.csv row 4, column "床位": bed or pool "三号床" does not exist in ` + site + ` (it has central-store, gicu-01, gicu-02, gicu-03, gicu-04, ricu-01, ricu-02); map CMMS locations under locations: in the mapping file`
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	_, err = Prepare(Import{Site: site, Source: "台账.csv", Data: gbk(t, chineseExport), Encoding: EncodingUTF8, Now: testNow})
	got = problemLines(t, err)
	if len(got) != 1 || !strings.Contains(got[0], "台账.csv: not UTF-8 (line 1 has bytes that are not)") || !strings.Contains(got[0], "-encoding gbk") {
		t.Errorf("problems: %v", got)
	}
}

// Bytes that are neither UTF-8 nor GBK are reported at their cell.
func TestBytesOfNoEncoding(t *testing.T) {
	t.Parallel()
	data := append([]byte("asset_id,serial,profile,location,address\nA-1,"), 0xFF, 0x20)
	data = append(data, ",generic-monitor-modbus,gicu-01,10.0.0.1\n"...)
	table, ps := ReadTable("x.csv", data, EncodingAuto, DefaultMapping())
	if len(ps) != 1 || ps[0].String() != `x.csv row 2, column "serial": holds bytes that are neither UTF-8 nor GBK (shown as �): check the file's encoding (-encoding)` {
		t.Fatalf("problems %v (table %+v)", ps, table)
	}
}

// Quoted values may hold delimiters, quotes and line breaks; rows are
// still counted as a spreadsheet shows them, blank lines included.
func TestQuotedValuesAndRowNumbers(t *testing.T) {
	t.Parallel()
	text := "asset_id,serial,location,profile\n" +
		"A-1,\"SN,1\",gicu-01,generic-monitor-modbus\n" +
		"\n" +
		"A-2,\"line one\nline two\",gicu-01,generic-monitor-modbus\n" +
		"A-3,\"say \"\"hi\"\"\",gicu-01,generic-monitor-modbus\n" +
		",,,\n" +
		"A-4,x\"y,gicu-01,generic-monitor-modbus\n" +
		"A-5,S5,gicu-01,generic-monitor-modbus\n"
	table, ps := ReadTable("q.csv", []byte(text), EncodingAuto, DefaultMapping())
	var rows []string
	for _, r := range table.Rows {
		rows = append(rows, itoa(r.Num)+":"+r.Cells[0]+"="+r.Cells[1])
	}
	want := []string{"2:A-1=SN,1", "4:A-2=line one\nline two", "5:A-3=say \"hi\"", "8:A-5=S5"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
	if len(ps) != 1 || ps[0].Row != 7 {
		t.Errorf("problems %v, want one at row 7", ps)
	}
}

// A quote that is never closed swallows the rest of the file: reported
// where it starts, and nothing after it is taken as rows.
func TestUnclosedQuote(t *testing.T) {
	t.Parallel()
	text := "asset_id,serial,location,profile\nA-1,\"SN1,gicu-01,x\nA-2,S2,gicu-01,x\n"
	table, ps := ReadTable("q.csv", []byte(text), EncodingAuto, DefaultMapping())
	if len(table.Rows) != 0 || len(ps) != 1 || ps[0].Row != 2 || !strings.Contains(ps[0].Message, "never closed") {
		t.Fatalf("rows %v problems %v", table.Rows, ps)
	}
}

// The first import into a site that lists a devices file not yet written:
// every device is new.
func TestFirstImportIntoAnAbsentFile(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, nil, "")
	plan, err := prepare(t, site, header+"V-1,S1,ventilator,generic-ventilator-modbus,gicu-01,,10.0.0.1,1,,\n", nil)
	if err != nil {
		t.Fatalf("Prepare:\n%v", err)
	}
	if plan.CurrentBroken == nil || !strings.Contains(plan.CurrentBroken.Error(), "devices.yaml does not exist yet") || len(plan.Diff.Added) != 1 || plan.Diff.Unchanged != 2 {
		t.Errorf("broken %v, diff %+v", plan.CurrentBroken, plan.Diff)
	}
	if _, err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(site); err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(site), "devices.yaml.bak")); !os.IsNotExist(err) {
		t.Error("a backup of a file that did not exist")
	}
}

// A site without device_files: the import says what line to add, and with
// -o writes a file the site must then include.
func TestSiteWithoutDeviceFiles(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, func(s string) string { return strings.Replace(s, "device_files: [devices.yaml]\n", "", 1) }, "")
	csv := header + "V-1,S1,ventilator,generic-ventilator-modbus,gicu-01,,10.0.0.1,1,,\n"
	_, err := prepare(t, site, csv, nil)
	if err == nil || !strings.Contains(err.Error(), "has no device_files: add the line\n    device_files: [devices.yaml]\nat the top level of "+site) {
		t.Fatalf("err = %v", err)
	}
	target := filepath.Join(filepath.Dir(site), "icu-devices.yaml")
	plan, err := Prepare(Import{Site: site, Source: "devices.csv", Data: []byte(csv), Target: target, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Included || IncludeLine(site, target) != "device_files: [icu-devices.yaml]" {
		t.Errorf("included %v, line %q", plan.Included, IncludeLine(site, target))
	}
}

// UTF-16 without a BOM (NUL in every ASCII character) is refused with the
// way out, and -o naming the site file itself is refused.
func TestRefusedInputs(t *testing.T) {
	t.Parallel()
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(header))
	if err != nil {
		t.Fatal(err)
	}
	_, ps := ReadTable("u.csv", utf16, EncodingAuto, DefaultMapping())
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "NUL bytes, as UTF-16 without a BOM does") {
		t.Errorf("problems %v", ps)
	}
	site := writeTestSite(t, nil, "")
	_, err = Prepare(Import{Site: site, Source: "x.csv", Data: []byte(header), Target: site, Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "is the site file itself") {
		t.Errorf("err = %v", err)
	}
}
