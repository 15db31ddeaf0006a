package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// csvKey is a record's key as the export orders it: text fields by their bytes, integer fields by value.
type csvKey []keyPart

type keyPart struct {
	text []byte
	num  int64
}

func compareKeys(a, b csvKey, numeric []bool) int {
	for i := range a {
		var c int
		if numeric[i] {
			c = cmpInt(a[i].num, b[i].num)
		} else {
			c = bytes.Compare(a[i].text, b[i].text)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergeRecordFiles writes out: the header and records of base, in order, except those whose key is in
// touched, merged by key with the records of changed (which has the same header). Both inputs must be in
// strictly increasing key order (DuckDB's ORDER BY of text by bytes and of integers by value); when they are
// not, or the headers differ, it returns an error wrapping errNoMerge and the caller writes the file in full.
func mergeRecordFiles(base, changed, out string, delim byte, keyIdx []int, numeric []bool, touched []csvKey) (err error) {
	bf, err := os.Open(base)
	if err != nil {
		return err
	}
	defer bf.Close()
	cf, err := os.Open(changed)
	if err != nil {
		return err
	}
	defer cf.Close()
	of, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := of.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	w := bufio.NewWriterSize(of, 1<<20)
	old := newCSVRecords(bf, delim, keyIdx, numeric, base)
	chg := newCSVRecords(cf, delim, keyIdx, numeric, changed)
	oh, err := old.header()
	if err != nil {
		return err
	}
	ch, err := chg.header()
	if err != nil {
		return err
	}
	if !bytes.Equal(oh, ch) {
		return fmt.Errorf("%w: the file's header is not the columns' header", errNoMerge)
	}
	if _, err := w.Write(oh); err != nil {
		return err
	}
	o, err := old.next()
	if err != nil {
		return err
	}
	n, err := chg.next()
	if err != nil {
		return err
	}
	t := 0
	for o != nil || n != nil {
		if o != nil {
			for t < len(touched) && compareKeys(touched[t], old.key, numeric) < 0 {
				t++
			}
			if t < len(touched) && compareKeys(touched[t], old.key, numeric) == 0 {
				if o, err = old.next(); err != nil {
					return err
				}
				continue
			}
		}
		takeOld := n == nil
		if o != nil && n != nil {
			c := compareKeys(old.key, chg.key, numeric)
			if c == 0 {
				return fmt.Errorf("%w: a changed record's key is also an unchanged line of the file", errNoMerge)
			}
			takeOld = c < 0
		}
		if takeOld {
			if _, err := w.Write(o); err != nil {
				return err
			}
			if o, err = old.next(); err != nil {
				return err
			}
		} else {
			if _, err := w.Write(n); err != nil {
				return err
			}
			if n, err = chg.next(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// csvRecords reads the records of a CSV file written by DuckDB's COPY (fields quoted with " when needed,
// quotes doubled, records ending in a newline), parsing each one's key fields only.
type csvRecords struct {
	r       *bufio.Reader
	name    string
	delim   byte
	keyIdx  []int
	numeric []bool
	rec     []byte
	// key is the current record's key; prev the previous one (for the order check).
	key, prev csvKey
	scratch   [][]byte
	started   bool
}

func newCSVRecords(r io.Reader, delim byte, keyIdx []int, numeric []bool, name string) *csvRecords {
	c := &csvRecords{r: bufio.NewReaderSize(r, 1<<20), name: name, delim: delim, keyIdx: keyIdx, numeric: numeric,
		key: make(csvKey, len(keyIdx)), prev: make(csvKey, len(keyIdx)), scratch: make([][]byte, len(keyIdx))}
	for i := range c.prev {
		c.prev[i].text = []byte{}
	}
	return c
}

// record reads the next whole record (a newline inside quotes continues it); nil at the end.
func (c *csvRecords) record() ([]byte, error) {
	c.rec = c.rec[:0]
	quotes := 0
	for {
		line, err := c.r.ReadSlice('\n')
		c.rec = append(c.rec, line...)
		quotes += bytes.Count(line, []byte{'"'})
		switch {
		case err == nil && quotes%2 == 0:
			return c.rec, nil
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(c.rec) == 0:
			return nil, nil
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: %s ends inside a record", errNoMerge, c.name)
		}
		return nil, err
	}
}

// header returns the first record.
func (c *csvRecords) header() ([]byte, error) {
	h, err := c.record()
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: %s is empty", errNoMerge, c.name)
	}
	return append([]byte(nil), h...), nil
}

// next returns the next record (valid until the next call) and parses its key into c.key; nil at the end.
// It fails (errNoMerge) when the record's key does not follow the previous one's.
func (c *csvRecords) next() ([]byte, error) {
	rec, err := c.record()
	if rec == nil || err != nil {
		return nil, err
	}
	if err := c.parseKey(rec); err != nil {
		return nil, err
	}
	if c.started && compareKeys(c.prev, c.key, c.numeric) >= 0 {
		return nil, fmt.Errorf("%w: %s is not in key order", errNoMerge, c.name)
	}
	c.started = true
	for i := range c.key {
		c.prev[i].text = append(c.prev[i].text[:0], c.key[i].text...)
		c.prev[i].num = c.key[i].num
	}
	return rec, nil
}

// parseKey reads the key fields of a record.
func (c *csvRecords) parseKey(rec []byte) error {
	rec = bytes.TrimSuffix(rec, []byte{'\n'})
	field, pos := 0, 0
	for k := 0; k < len(c.keyIdx); {
		var val []byte
		if pos < len(rec) && rec[pos] == '"' {
			val = c.scratch[k][:0]
			pos++
			for {
				q := bytes.IndexByte(rec[pos:], '"')
				if q < 0 {
					return fmt.Errorf("%w: %s: unterminated quote", errNoMerge, c.name)
				}
				val = append(val, rec[pos:pos+q]...)
				pos += q + 1
				if pos < len(rec) && rec[pos] == '"' {
					val = append(val, '"')
					pos++
					continue
				}
				break
			}
			c.scratch[k] = val
		} else {
			end := bytes.IndexByte(rec[pos:], c.delim)
			if end < 0 {
				end = len(rec) - pos
			}
			val = rec[pos : pos+end]
			pos += end
		}
		for j, idx := range c.keyIdx {
			if idx != field {
				continue
			}
			if c.numeric[j] {
				n, err := strconv.ParseInt(string(val), 10, 64)
				if err != nil {
					return fmt.Errorf("%w: %s: key %q is not an integer", errNoMerge, c.name, val)
				}
				c.key[j].num = n
			} else {
				c.key[j].text = val
			}
			k++
		}
		if k == len(c.keyIdx) {
			return nil
		}
		if pos >= len(rec) || rec[pos] != c.delim {
			return fmt.Errorf("%w: %s: a record has too few fields", errNoMerge, c.name)
		}
		pos++
		field++
	}
	return nil
}
