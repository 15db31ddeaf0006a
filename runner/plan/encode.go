package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/possync/possync/record"
)

// The plan document is json.MarshalIndent(plan, "", "  ") (a test holds Write to it), but written change by
// change: a plan of millions of changes is never one buffer, and a change is encoded without reflection.

// encoder writes changes as json.MarshalIndent writes them inside the document (prefix "    ", indent "  ").
type encoder struct {
	js  record.JSON
	buf []byte
}

// change appends c, indented as an element of the document's changes array, to e.buf (reset first).
func (e *encoder) change(c *Change) ([]byte, error) {
	b := append(e.buf[:0], "{\n"...)
	var err error
	b = e.member(b, 3, "id")
	b = e.js.AppendString(b, c.ID)
	b = append(b, ",\n"...)
	b = e.member(b, 3, "action")
	b = e.js.AppendString(b, string(c.Action))
	b = append(b, ",\n"...)
	b = e.member(b, 3, "key")
	if b, err = e.object(b, 3, c.Key); err != nil {
		return nil, err
	}
	if len(c.Fields) > 0 {
		b = append(b, ",\n"...)
		b = e.member(b, 3, "fields")
		b = append(b, "[\n"...)
		for i, f := range c.Fields {
			b = indent(b, 4)
			b = append(b, "{\n"...)
			b = e.member(b, 5, "name")
			b = e.js.AppendString(b, f.Name)
			b = append(b, ",\n"...)
			b = e.member(b, 5, "before")
			if b, err = e.scalar(b, f.Before); err != nil {
				return nil, err
			}
			b = append(b, ",\n"...)
			b = e.member(b, 5, "after")
			if b, err = e.scalar(b, f.After); err != nil {
				return nil, err
			}
			b = append(b, '\n')
			b = append(indent(b, 4), '}')
			if i < len(c.Fields)-1 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		b = append(indent(b, 3), ']')
	}
	if len(c.Annotations) > 0 {
		b = append(b, ",\n"...)
		b = e.member(b, 3, "annotations")
		if b, err = e.object(b, 3, c.Annotations); err != nil {
			return nil, err
		}
	}
	b = append(b, '\n')
	b = append(indent(b, 2), '}')
	e.buf = b
	return b, nil
}

// errNotScalar marks a value the fast path does not write (nested objects or arrays).
var errNotScalar = fmt.Errorf("not a scalar")

func (e *encoder) scalar(b []byte, v any) ([]byte, error) {
	switch v.(type) {
	case nil, string, int64, int, float64, bool, json.Number, time.Time:
		return e.js.AppendValue(b, v)
	}
	return nil, errNotScalar
}

// object appends a map of scalars with sorted keys, its members at depth+1.
func (e *encoder) object(b []byte, depth int, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	if len(m) == 0 {
		return append(b, "{}"...), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, "{\n"...)
	var err error
	for i, k := range keys {
		b = e.member(b, depth+1, k)
		if b, err = e.scalar(b, m[k]); err != nil {
			return nil, err
		}
		if i < len(keys)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	return append(indent(b, depth), '}'), nil
}

func (e *encoder) member(b []byte, depth int, name string) []byte {
	b = indent(b, depth)
	b = e.js.AppendString(b, name)
	return append(b, ": "...)
}

func indent(b []byte, depth int) []byte {
	for range depth {
		b = append(b, "  "...)
	}
	return b
}

// encodeChange returns c as it appears in the document: by the fast path, or by encoding/json for values
// the fast path does not write.
func (e *encoder) encodeChange(c *Change) ([]byte, error) {
	b, err := e.change(c)
	if err == nil {
		return b, nil
	}
	if err != errNotScalar {
		return nil, fmt.Errorf("change %s: %w", c.ID, err)
	}
	b, err = json.MarshalIndent(c, "    ", "  ")
	if err != nil {
		return nil, fmt.Errorf("change %s: %w", c.ID, err)
	}
	e.buf = b
	return b, nil
}

// Changes yields a plan's changes in order, calling yield once per change; it stops at yield's first error.
type Changes func(yield func(*Change) error) error

// sliceChanges yields the changes of a slice.
func sliceChanges(cs []Change) Changes {
	return func(yield func(*Change) error) error {
		for i := range cs {
			if err := yield(&cs[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// headDocument is p's document without its changes (an empty array), json.MarshalIndent(p, "", "  "); with
// forHash, without the fields the hash leaves out.
func headDocument(p *Plan, forHash bool) ([]byte, error) {
	head := *p
	head.Changes = []Change{}
	if forHash {
		head.Hash, head.CreatedAt, head.EvaluatedAt, head.Pipeline.File, head.Shortcut = "", time.Time{}, time.Time{}, "", ""
		head.Guards = hashGuards(p.Guards)
	}
	return json.MarshalIndent(head, "", "  ")
}

// writeDocument writes p as json.MarshalIndent(p, "", "  ") does, followed by a newline, with the changes
// each yields (p.Changes is ignored); with forHash, the fields the hash leaves out are cleared first. A plan
// whose summary counts no change must yield none.
func writeDocument(w io.Writer, p *Plan, forHash bool, each Changes) error {
	hb, err := headDocument(p, forHash)
	if err != nil {
		return err
	}
	const empty = "\n  \"changes\": [],\n"
	i := bytes.LastIndex(hb, []byte(empty))
	if i < 0 {
		return fmt.Errorf("plan document layout: no changes member")
	}
	if p.Summary.Total() == 0 {
		_, err := w.Write(append(hb, '\n'))
		return err
	}
	if _, err := w.Write(hb[:i]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n  \"changes\": ["); err != nil {
		return err
	}
	enc := &encoder{js: record.JSON{EscapeHTML: true}}
	sep := "\n    "
	n := 0
	err = each(func(c *Change) error {
		b, err := enc.encodeChange(c)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		sep = ",\n    "
		n++
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if n != p.Summary.Total() {
		return fmt.Errorf("plan document: %d changes for a summary of %d", n, p.Summary.Total())
	}
	if _, err := io.WriteString(w, "\n  ],\n"); err != nil {
		return err
	}
	_, err = w.Write(append(hb[i+len(empty):], '\n'))
	return err
}

// Write saves the plan as indented JSON, atomically (temporary file, then rename).
func Write(path string, p *Plan) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeDocument(w, p, false, sliceChanges(p.Changes)); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}
