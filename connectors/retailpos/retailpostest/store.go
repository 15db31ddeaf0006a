package retailpostest

import "sort"

// table holds one collection's current items by ID, plus a log of (version, id) in version order so that a
// version-cursor page costs O(log n + page) however large the collection is. Every change appends to the log;
// entries whose item has moved on to a newer version are stale and skipped (and compacted away once they
// outnumber the live ones).
type table[T any] struct {
	rows  map[string]*row[T]
	log   []logEntry
	stale int
}

type row[T any] struct {
	item    T
	version int64
}

type logEntry struct {
	version int64
	id      string
}

func newTable[T any]() *table[T] { return &table[T]{rows: map[string]*row[T]{}} }

// put stores item under id at version, which must be greater than every version put before.
func (t *table[T]) put(id string, item T, version int64) {
	if r, ok := t.rows[id]; ok {
		r.item, r.version = item, version
		t.stale++
	} else {
		t.rows[id] = &row[T]{item: item, version: version}
	}
	t.log = append(t.log, logEntry{version: version, id: id})
	if t.stale > 1024 && t.stale > len(t.log)/2 {
		t.compact()
	}
}

// get returns the current item of id.
func (t *table[T]) get(id string) (T, bool) {
	r, ok := t.rows[id]
	if !ok {
		var zero T
		return zero, false
	}
	return r.item, true
}

// page returns up to limit current items with after < version < before (before <= 0: no upper bound), in
// version order, skipping those keep rejects.
func (t *table[T]) page(after, before int64, limit int, keep func(T) bool) []T {
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].version > after })
	var out []T
	for ; i < len(t.log) && len(out) < limit; i++ {
		e := t.log[i]
		if before > 0 && e.version >= before {
			break
		}
		r := t.rows[e.id]
		if r.version != e.version || (keep != nil && !keep(r.item)) {
			continue
		}
		out = append(out, r.item)
	}
	return out
}

// all returns every current item in version order.
func (t *table[T]) all() []T { return t.page(0, 0, len(t.rows), nil) }

func (t *table[T]) compact() {
	live := t.log[:0]
	for _, e := range t.log {
		if t.rows[e.id].version == e.version {
			live = append(live, e)
		}
	}
	clear(t.log[len(live):])
	t.log, t.stale = live, 0
}
