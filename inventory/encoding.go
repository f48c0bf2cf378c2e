package inventory

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// Encoding is how the bytes of a CSV file are to be read.
type Encoding string

// Encodings an import accepts (-encoding).
const (
	// EncodingAuto takes a BOM's word (UTF-8 or UTF-16), else UTF-8 when
	// the bytes are valid UTF-8, else GB18030: what Excel and CMMS
	// exports on Chinese Windows write ("ANSI" there is GBK, which
	// GB18030 extends).
	EncodingAuto Encoding = "auto"
	EncodingUTF8 Encoding = "utf-8"
	// EncodingGBK reads GBK and GB2312 files (as GB18030, their superset).
	EncodingGBK Encoding = "gbk"
)

// ParseEncoding reads an -encoding value; common spellings of each are
// accepted.
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-")) {
	case "", "auto":
		return EncodingAuto, nil
	case "utf-8", "utf8":
		return EncodingUTF8, nil
	case "gbk", "gb18030", "gb2312", "cp936", "ansi":
		return EncodingGBK, nil
	}
	return "", fmt.Errorf("unknown encoding %q: want auto, utf-8 or gbk", s)
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// decodeText turns a file's bytes into text and names the encoding it
// read. A BOM decides, whatever enc says: it is the file's own statement.
func decodeText(data []byte, enc Encoding) (text, name string, err error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		data, name, enc = data[len(bomUTF8):], "UTF-8 with BOM", EncodingUTF8
	case bytes.HasPrefix(data, bomUTF16LE):
		// Excel's "Unicode text" export: UTF-16LE, tab-separated.
		return decodeWith(unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), data, "UTF-16LE")
	case bytes.HasPrefix(data, bomUTF16BE):
		return decodeWith(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), data, "UTF-16BE")
	}
	switch enc {
	case EncodingGBK:
		return decodeWith(simplifiedchinese.GB18030, data, "GB18030 (GBK)")
	case EncodingUTF8:
		if name == "" {
			name = "UTF-8"
		}
		if !utf8.Valid(data) {
			line := 1 + bytes.Count(data[:invalidUTF8At(data)], []byte("\n"))
			return "", "", fmt.Errorf("not UTF-8 (line %d has bytes that are not); a file saved by Excel or a CMMS on Chinese Windows is GBK: use -encoding gbk or auto", line)
		}
		return string(data), name, nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		// No CSV holds NUL; UTF-16 does, one in every ASCII character.
		return "", "", fmt.Errorf("the file holds NUL bytes, as UTF-16 without a BOM does: save it from Excel as CSV UTF-8 (or Unicode text, which has a BOM)")
	}
	if utf8.Valid(data) {
		return string(data), "UTF-8", nil
	}
	return decodeWith(simplifiedchinese.GB18030, data, "GB18030 (GBK)")
}

func decodeWith(e encoding.Encoding, data []byte, name string) (string, string, error) {
	out, err := e.NewDecoder().Bytes(data)
	if err != nil {
		return "", "", fmt.Errorf("cannot read as %s: %w", name, err)
	}
	return string(out), name, nil
}

// invalidUTF8At is the offset of the first byte that is not UTF-8.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// encodeText turns text into the bytes of an export: UTF-8 with a BOM
// (so that Excel on Chinese Windows does not read it as GBK), or GBK.
func encodeText(text string, enc Encoding) ([]byte, error) {
	if enc == EncodingGBK {
		out, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("cannot write as GBK: %w", err)
		}
		return out, nil
	}
	return append(append([]byte(nil), bomUTF8...), text...), nil
}
