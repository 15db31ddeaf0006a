package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strconv"

	"github.com/possync/possync/record"
)

// The plan's hash (Plan.Hash, format version 1.1) is "sha256:" and the hex sha256 of:
//
//   - the head: the document without its changes (an empty changes array) and without what the hash leaves
//     out (the hash itself, when the plan was made and evaluated, the pipeline file's path, the shortcut, the
//     guards' verdicts and messages), as json.MarshalIndent(head, "", "  ") writes it;
//   - then, per change in order: the length of its ID in decimal, ":", the ID; when it has annotations, "a"
//     and the annotations as one compact JSON object (keys sorted, values as the document writes them);
//     then "\n".
//
// A change's ID (ChangeID) is a digest of its action, key and fields (names, before and after values)
// against the plan's lineage and serial, so the sequence of IDs covers every change's content and the hash
// need not encode the changes: the planner hashes a streamed plan of millions of changes from their IDs
// alone (the apply needs the IDs anyway). Read checks each change's ID against its content before the hash,
// so a plan file cannot be edited without failing one or the other. Format 1.0 hashed the whole document's
// JSON instead; Read refuses a 1.0 plan with a request to make it again.

// Hasher computes a plan's hash from its head and its changes, added one at a time in order, holding none
// of them: the planner hashes a plan whose changes it streams from its database.
type Hasher struct {
	sum   hash.Hash
	buf   []byte
	js    record.JSON
	keys  []string
	n     int
	total int
}

// NewHasher returns a Hasher of p's hash, with p's head hashed (p.Changes is ignored); the changes follow by
// Add.
func (p *Plan) NewHasher() (*Hasher, error) {
	head, err := headDocument(p, true)
	if err != nil {
		return nil, fmt.Errorf("hash the plan: %w", err)
	}
	h := &Hasher{sum: sha256.New(), buf: make([]byte, 0, 64<<10), js: record.JSON{EscapeHTML: true}, total: p.Summary.Total()}
	h.sum.Write(head)
	return h, nil
}

// Add hashes the next change: its ID and its annotations (c is not kept). The ID must be ChangeID's of its
// content, which Add does not check (Read does).
func (h *Hasher) Add(c *Change) error {
	b := strconv.AppendInt(h.buf, int64(len(c.ID)), 10)
	b = append(append(b, ':'), c.ID...)
	if len(c.Annotations) > 0 {
		h.keys = h.keys[:0]
		for k := range c.Annotations {
			h.keys = append(h.keys, k)
		}
		slices.Sort(h.keys)
		b = append(b, "a{"...)
		var err error
		for i, k := range h.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(h.js.AppendString(b, k), ':')
			if b, err = h.js.AppendValue(b, c.Annotations[k]); err != nil {
				h.buf = b[:0]
				return fmt.Errorf("hash change %s: annotation %s: %w", c.ID, k, err)
			}
		}
		b = append(b, '}')
	}
	b = append(b, '\n')
	h.n++
	if len(b) >= 60<<10 {
		h.sum.Write(b)
		b = b[:0]
	}
	h.buf = b
	return nil
}

// Sum returns the hash ("sha256:" and 64 hex digits). It fails when the changes added do not add up to the
// plan's summary.
func (h *Hasher) Sum() (string, error) {
	if h.n != h.total {
		return "", fmt.Errorf("plan: %d changes for a summary of %d", h.n, h.total)
	}
	h.sum.Write(h.buf)
	h.buf = h.buf[:0]
	return "sha256:" + hex.EncodeToString(h.sum.Sum(nil)), nil
}

// ComputeHash returns the hash of p (see Plan.Hash), over p.Changes as they are (their IDs are not checked
// against their content: Read does that).
// It is empty when the plan cannot be hashed: its changes do not add up to its summary (an edited file).
func (p *Plan) ComputeHash() string {
	h, err := p.HashOf(sliceChanges(p.Changes))
	if err != nil {
		return ""
	}
	return h
}

// HashOf returns the hash p has with the changes each yields in place of p.Changes. It fails with each's
// error, or when the changes do not add up to p's summary.
func (p *Plan) HashOf(each Changes) (string, error) {
	h, err := p.NewHasher()
	if err != nil {
		return "", err
	}
	if err := each(h.Add); err != nil {
		return "", err
	}
	return h.Sum()
}
