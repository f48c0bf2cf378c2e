package outbox

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// A record as stored in a log entry:
//
//	crc32c(4) | seq(8) | appended unix nanos(8) | data
//
// The log library frames entries but does not checksum them; the CRC lets a
// bit flip inside an entry be detected and the entry quarantined instead of
// being written to InfluxDB as garbage. seq is the global append order across
// the two class logs, so delivery can merge them back into one order.
const headerLen = 4 + 8 + 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadRecord = errors.New("record checksum or length mismatch")

// encodeRecord frames data with a header whose seq and time are filled by
// seal once the commit order is known.
func encodeRecord(data []byte) []byte {
	b := make([]byte, headerLen+len(data))
	copy(b[headerLen:], data)
	return b
}

// seal writes seq and time into an encoded record and checksums it.
func seal(b []byte, seq uint64, appended int64) {
	binary.BigEndian.PutUint64(b[4:], seq)
	binary.BigEndian.PutUint64(b[12:], uint64(appended))
	binary.BigEndian.PutUint32(b[0:], crc32.Checksum(b[4:], castagnoli))
}

// decodeRecord checks and splits a stored record.
func decodeRecord(b []byte) (seq uint64, appended time.Time, data []byte, err error) {
	if len(b) < headerLen {
		return 0, time.Time{}, nil, errBadRecord
	}
	if binary.BigEndian.Uint32(b[0:]) != crc32.Checksum(b[4:], castagnoli) {
		return 0, time.Time{}, nil, errBadRecord
	}
	seq = binary.BigEndian.Uint64(b[4:])
	appended = time.Unix(0, int64(binary.BigEndian.Uint64(b[12:])))
	return seq, appended, b[headerLen:], nil
}

// entrySize is the bytes an entry of n data bytes takes in a segment file:
// the log library's uvarint length prefix plus the record.
func entrySize(n int) int64 {
	var buf [binary.MaxVarintLen64]byte
	return int64(binary.PutUvarint(buf[:], uint64(n)) + n)
}
