package state

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Packed intents. An intent that holds only its change's ID (Intent.Change empty: the sink keeps the
// entries, connectors.EntryReconciler) is recorded with the other IDs of its part in one row (AddIntentIDs),
// not a row each: a first sync of 1M creates recorded 1M intent rows and deleted them again a moment later,
// 0.4-0.8 s of processor time on the apply's critical path (issue #15), where a row of 61,440 IDs costs a
// millisecond. Both stores keep such a row in their intents table with a NULL id (a possync that predates the
// form then fails to read the intents instead of ignoring them), an empty change, the run, the IDs in
// column ids (packIDs) and their number in column n. Intents reads them back one Intent per ID, in order.

// Forms of a packed ID list (its first byte).
const (
	// packedHex: the second byte is w; every ID is 2w lowercase hexadecimal digits (plan.ChangeID's form),
	// stored as its w bytes.
	packedHex = 'h'
	// packedText: each ID is its length (uvarint) and its bytes.
	packedText = 't'
)

// packIDs encodes ids as one value (see packedHex, packedText).
func packIDs(ids []string) []byte {
	if out, ok := packHex(ids); ok {
		return out
	}
	n := 1
	for _, id := range ids {
		n += binary.MaxVarintLen64 + len(id)
	}
	out := make([]byte, 1, n)
	out[0] = packedText
	for _, id := range ids {
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = append(out, id...)
	}
	return out
}

// packHex encodes ids in the packedHex form, if they all have it: 2w lowercase hexadecimal digits each (0 <
// w < 256). It reads each ID once (checking and decoding at once): a batch's IDs are scattered over the
// heap, and reading them is most of the cost.
func packHex(ids []string) ([]byte, bool) {
	if len(ids) == 0 {
		return nil, false
	}
	l := len(ids[0])
	if l == 0 || l%2 != 0 || l >= 512 {
		return nil, false
	}
	out := make([]byte, 2, 2+l/2*len(ids))
	out[0], out[1] = packedHex, byte(l/2)
	for _, id := range ids {
		if len(id) != l {
			return nil, false
		}
		for i := 0; i < l; i += 2 {
			hi, lo := unhex[id[i]], unhex[id[i+1]]
			if hi|lo > 0xf {
				return nil, false
			}
			out = append(out, hi<<4|lo)
		}
	}
	return out, true
}

// unhex maps a lowercase hexadecimal digit to its value, any other byte to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// unpackIDs decodes a value of packIDs, appending its IDs to dst.
func unpackIDs(dst []string, b []byte) ([]string, error) {
	if len(b) == 0 {
		return dst, errors.New("packed intent IDs: empty")
	}
	switch b[0] {
	case packedHex:
		if len(b) < 2 || b[1] == 0 || (len(b)-2)%int(b[1]) != 0 {
			return dst, errors.New("packed intent IDs: truncated")
		}
		w := int(b[1])
		for p := 2; p < len(b); p += w {
			dst = append(dst, hex.EncodeToString(b[p:p+w]))
		}
		return dst, nil
	case packedText:
		for p := 1; p < len(b); {
			l, k := binary.Uvarint(b[p:])
			if k <= 0 || l > uint64(len(b)-p-k) {
				return dst, errors.New("packed intent IDs: truncated")
			}
			p += k
			dst = append(dst, string(b[p:p+int(l)]))
			p += int(l)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("packed intent IDs: unknown form %q", b[0])
}

// settlePacked returns what is left of a packed row's IDs (ids, a value of packIDs) once the IDs in
// resolved settled: keep is nil when none is left, and changed false when none of them settled.
func settlePacked(ids []byte, resolved map[string]bool) (keep []string, changed bool, err error) {
	all, err := unpackIDs(nil, ids)
	if err != nil {
		return nil, false, err
	}
	for _, id := range all {
		if !resolved[id] {
			keep = append(keep, id)
		}
	}
	return keep, len(keep) != len(all), nil
}

// appendIntents appends the intents of one stored row: a row intent (id set), or a packed row's, one per ID
// of ids (id NULL), each with an empty change.
func appendIntents(out []Intent, id sql.NullString, runID, change string, ids []byte) ([]Intent, error) {
	if id.Valid {
		return append(out, Intent{ID: id.String, RunID: runID, Change: []byte(change)}), nil
	}
	all, err := unpackIDs(nil, ids)
	if err != nil {
		return out, fmt.Errorf("intents of run %s: %w", runID, err)
	}
	for _, x := range all {
		out = append(out, Intent{ID: x, RunID: runID})
	}
	return out, nil
}
