package state_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/runner/state"
)

// imageTypes are column types an image must bring back exactly: those Parquet holds natively and those it
// stores as text (HUGEINT, which DuckDB would write as a DOUBLE; INTERVAL; UUID; TIME; structs, maps).
var imageTypes = []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "h", Type: "HUGEINT"}, {Name: "iv", Type: "INTERVAL"},
	{Name: "u", Type: "UUID"}, {Name: "tm", Type: "TIME"}, {Name: "ts", Type: "TIMESTAMP"}, {Name: "tz", Type: "TIMESTAMPTZ"},
	{Name: "st", Type: "STRUCT(a INTEGER, b VARCHAR)"}, {Name: "mp", Type: "MAP(VARCHAR, INTEGER)"}, {Name: "ld", Type: "DECIMAL(38,4)[]"},
	{Name: "b", Type: "BLOB"}, {Name: "d", Type: "DOUBLE"}, {Name: "f", Type: "FLOAT"}, {Name: "ub", Type: "UBIGINT"}, {Name: "on", Type: "BOOLEAN"}}

const imageTypeRows = `SELECT * FROM (VALUES
	('create', 'a', 170141183460469231731687303715884105727::HUGEINT, INTERVAL '1 month 2 days 3 microseconds', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID,
		TIME '23:59:59.999999', TIMESTAMP '2026-01-02 03:04:05.123456', TIMESTAMPTZ '1970-01-01 00:00:00.000001+00', {'a': 1, 'b': 'x, "y"'},
		MAP {'k': 1, 'l': NULL}, [1.0001::DECIMAL(38,4), -99999999999999999999999999999999.9999::DECIMAL(38,4)], '\x00\xFF'::BLOB,
		'-0.0'::DOUBLE, 'NaN'::FLOAT, 18446744073709551615::UBIGINT, true),
	('create', 'b', -170141183460469231731687303715884105727::HUGEINT, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [], NULL,
		'inf'::DOUBLE, 0.1::FLOAT, 0::UBIGINT, NULL)
	) t(__op, sku, h, iv, u, tm, ts, tz, st, mp, ld, b, d, f, ub, "on")`

// TestPgImageTypes: a cold open from the snapshot's image yields the same values, as text, as the writer's
// own copy and as a cold open that copies the table whole (no image).
func TestPgImageTypes(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, imageTypeRows, imageTypes)
	// One change since the image, so that the text path of the changes is read too.
	commitRows(t, s, c, strings.Replace(strings.Replace(imageTypeRows, "'create', 'a'", "'update', 'c'", 1), "('create', 'b'", "('update', 'a'", 1), imageTypes)
	want := dumpRel(t, c, s.Snapshot(), imageTypes)
	_ = unlock()

	cold := func(wantImage, wantCopied int) string {
		t.Helper()
		r, rc, m := coldOpen(t, url, schema, wantImage, wantCopied)
		if !slices.Equal(m.Columns, imageTypes) {
			t.Errorf("columns after a cold open: %+v, want %+v", m.Columns, imageTypes)
		}
		got := dumpRel(t, rc, r.Snapshot(), imageTypes)
		// A plan's open (the image read in place) yields the same.
		p, pc, m, unlock := planOpen(t, url, schema, wantImage, wantCopied)
		defer unlock()
		if !slices.Equal(m.Columns, imageTypes) || m.Records != 3 {
			t.Errorf("a plan's open: %d records, columns %+v, want 3 and %+v", m.Records, m.Columns, imageTypes)
		}
		if pgot := dumpRel(t, pc, p.Snapshot(), imageTypes); pgot != got {
			t.Errorf("a plan's open:\n%s\nanother cold open\n%s", pgot, got)
		}
		return got
	}
	if got := cold(1, 0); got != want {
		t.Errorf("cold open from the image:\n%s\nwant (the writer's copy)\n%s", got, want)
	}
	if _, err := pgAdmin(t, url).Exec(ctx, "DELETE FROM "+schema+".images"); err != nil {
		t.Fatal(err)
	}
	if got := cold(0, 1); got != want {
		t.Errorf("cold open from the table:\n%s\nwant (the writer's copy)\n%s", got, want)
	}
}

// TestPgImageNotTrusted: an image that does not add up (a part missing, a change row lost, so that the
// record count the last commit recorded differs) is not used: the open copies the table whole instead, and
// sees what was committed.
func TestPgImageNotTrusted(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, `SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(1000)`, cols)
	commitRows(t, s, c, `SELECT * FROM (VALUES ('delete', 'k5', NULL), ('update', 'k6', 66)) t(__op, sku, qty)`, cols)
	want := dumpRel(t, c, s.Snapshot(), cols)
	_ = unlock()
	admin := pgAdmin(t, url)
	_, chg := snapshotTables(t, admin, schema)
	for _, tc := range []struct {
		name, edit string
		image      int
	}{
		{"as committed", "", 1},
		{"a delete lost", "DELETE FROM " + chg + " WHERE sku = 'k5'", 0},
		{"a part missing", "INSERT INTO " + chg + " SELECT * FROM " + chg + " WHERE sku = 'k5'; " +
			"UPDATE " + schema + ".images SET bytes = bytes + 1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit != "" {
				if _, err := admin.Exec(ctx, tc.edit); err != nil {
					t.Fatal(err)
				}
			}
			r, rc, _ := coldOpen(t, url, schema, tc.image, 1-tc.image)
			if got := dumpRel(t, rc, r.Snapshot(), cols); got != want {
				t.Errorf("snapshot differs from the committed one (%d vs %d bytes of text)", len(got), len(want))
			}
			p, pc, m, unlock := planOpen(t, url, schema, tc.image, 1-tc.image)
			defer unlock()
			if got := dumpRel(t, pc, p.Snapshot(), cols); got != want || m.Records != 999 {
				t.Errorf("a plan's open: %d records, snapshot differs from the committed one (%d vs %d bytes of text)", m.Records, len(got), len(want))
			}
		})
	}
}

// TestPgImageAfterUpgrade: a state written before images (schema version 2) is read as it is by a read-only
// open (from its table: no image yet, the schema not migrated by a reader); the next run migrates the
// schema, and its commit writes the image the next cold open reads.
func TestPgImageAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, `SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(100)`, cols)
	_ = unlock()
	admin := pgAdmin(t, url)
	_, chg := snapshotTables(t, admin, schema)
	for _, q := range []string{"ALTER TABLE " + schema + ".relations DROP COLUMN records", "DROP TABLE " + schema + ".images",
		"DROP TABLE " + schema + ".image_parts", "DROP TABLE " + chg,
		"ALTER TABLE " + schema + ".intents DROP COLUMN ids, DROP COLUMN n, ALTER COLUMN id SET NOT NULL",
		"ALTER TABLE " + schema + ".pipelines DROP COLUMN merchant",
		"UPDATE " + schema + ".possync_meta SET v = '2' WHERE k = 'schema_version'"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cold := func(wantImage, wantCopied int) {
		t.Helper()
		r, rc, m := coldOpen(t, url, schema, wantImage, wantCopied)
		if m.Records != 100 {
			t.Fatalf("cold open: %+v", m)
		}
		if q := qtyOf(t, rc, r.Snapshot(), "k7"); q != 7+int64(wantImage) {
			t.Fatalf("cold open: k7 has %d", q)
		}
	}
	cold(0, 1)
	s2, c2, _, unlock2 := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s2, c2, `SELECT * FROM (VALUES ('update', 'k7', 8)) t(__op, sku, qty)`, cols)
	_ = unlock2()
	cold(1, 0)
}

// TestPgImageChangesLatestWins: a cold open applies the changes since the image by their latest row per
// key, whatever happened to the key before: updated twice, deleted and created again, created and
// deleted, updated and then deleted; untouched records stay as in the image.
func TestPgImageChangesLatestWins(t *testing.T) {
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, `SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(2000)`, cols)
	for _, rows := range []string{
		`('update', 'k1', 10), ('update', 'k2', 20), ('delete', 'k3', NULL), ('create', 'n1', 1)`,
		`('update', 'k1', 11), ('delete', 'k2', NULL), ('create', 'k3', 33), ('delete', 'n1', NULL), ('create', 'n2', 2)`,
	} {
		commitRows(t, s, c, "SELECT * FROM (VALUES "+rows+") t(__op, sku, qty)", cols)
	}
	want := dumpRel(t, c, s.Snapshot(), cols)
	_ = unlock()
	lines := "\n" + want + "\n"
	for _, w := range []string{"k1|11", "k3|33", "n2|2", "k4|4"} {
		if !strings.Contains(lines, "\n"+w+"\n") {
			t.Fatalf("the writer's snapshot lacks %q:\n%.300s", w, want)
		}
	}
	for _, gone := range []string{"k2|", "n1|"} {
		if strings.Contains(lines, "\n"+gone) {
			t.Fatalf("the writer's snapshot still holds %q", gone)
		}
	}

	r, rc, _ := coldOpen(t, url, schema, 1, 0)
	if got := dumpRel(t, rc, r.Snapshot(), cols); got != want {
		t.Errorf("cold open from the image and its changes:\n%.500s\nwant (the writer's copy)\n%.500s", got, want)
	}
	p, pc, m, unlock := planOpen(t, url, schema, 1, 0)
	defer unlock()
	if got := dumpRel(t, pc, p.Snapshot(), cols); got != want || m.Records != 2000 {
		t.Errorf("a plan's open (%d records), the image read in place with its changes:\n%.500s\nwant (the writer's copy)\n%.500s", m.Records, got, want)
	}
}

// TestPgImageRunShare: an image the run wrote itself is extended until its changes exceed its records
// (the run share), not 10% of them (a first sync's batches then write images of doubling sizes, not the
// whole relation at every commit); the next run's store rewrites it by the 10% rule. Cold opens in between
// read the image and the changes since, and hold every record committed.
func TestPgImageRunShare(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	s.SetImagePolicy(0.10, 0)
	s.SetRunImageShare(1.0)
	image := func(wantSerial, wantChanged int64) {
		t.Helper()
		serial, changed, ok, err := s.ImageOf(ctx, "snapshot")
		if err != nil || !ok || serial != wantSerial || changed != wantChanged {
			t.Fatalf("image at serial %d with %d changes since (%v, %v), want serial %d and %d", serial, changed, ok, err, wantSerial, wantChanged)
		}
	}
	creates := func(from, to int) string {
		return fmt.Sprintf(`SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(%d, %d)`, from, to)
	}
	commitRows(t, s, c, creates(0, 100), cols)
	image(1, 0)
	commitRows(t, s, c, creates(100, 150), cols) // 50 changes of an image of 100 it wrote: extended
	image(1, 50)
	_, rc, m := coldOpen(t, url, schema, 1, 0)
	if m.Records != 150 || qtyOf(t, rc, "st.snapshot", "k149") != 149 {
		t.Fatalf("cold open after the image was extended: %d records", m.Records)
	}
	commitRows(t, s, c, creates(150, 210), cols) // 110 > 100: rewritten
	image(3, 0)
	commitRows(t, s, c, creates(210, 240), cols)
	image(3, 30)
	_ = unlock()

	next, nc, _, unlock2 := openLocked(t, url, schema, t.TempDir())
	defer unlock2()
	next.SetImagePolicy(0.10, 0)
	next.SetRunImageShare(1.0)
	commitRows(t, next, nc, creates(240, 241), cols) // 31 > 10% of 210, and the image is an earlier run's
	image(5, 0)
	if _, _, m := coldOpen(t, url, schema, 1, 0); m.Records != 241 {
		t.Fatalf("cold open after the next run's commit: %d records, want 241", m.Records)
	}
}
