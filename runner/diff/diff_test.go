package diff

import (
	"context"
	"fmt"
	"testing"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
)

// TestFirstSyncDiffEqualsDiffAgainstAnEmptySnapshot: a first sync's diff (createsQuery, which numbers the
// desired rows before adding a create's constant columns) holds exactly the rows, columns, types and
// numbering of the general diff against an empty snapshot, for every diff setting that shapes it: composite
// keys, annotations, ignored fields, NULL values, protected keys, on_missing deactivate with an active
// field, on_change keep.
func TestFirstSyncDiffEqualsDiffAgainstAnEmptySnapshot(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE desired AS SELECT * FROM (VALUES
		('B', 2, 'bottle', 2.5, 3::BIGINT, true, 'promo', TIMESTAMPTZ '2026-01-02 03:04:05+00'),
		('A', 1, NULL, 1.0, NULL, false, NULL, NULL),
		('A', 2, 'anchor', NULL, 0::BIGINT, NULL, 'x', TIMESTAMPTZ '2026-01-01 00:00:00+00'),
		('C', 1, 'cup', 4.0, 7::BIGINT, true, NULL, NULL),
		('D', 9, 'dish', 5.0, 1::BIGINT, true, NULL, NULL))
		AS t(sku, site, name, price, qty, active, why, seen)`)
	exec(`CREATE TABLE protected AS SELECT * FROM (VALUES ('C', 1)) AS t(sku, site)`)
	cases := []Input{
		{Key: []string{"sku", "site"}},
		{Key: []string{"sku", "site"}, Annotations: []string{"why"}, Diff: pipelines.Diff{Ignore: []string{"seen"}}, Protected: "protected"},
		{Key: []string{"sku", "site"}, Diff: pipelines.Diff{OnMissing: pipelines.MissingDeactivate, ActiveField: "active"}},
		{Key: []string{"sku", "site"}, Annotations: []string{"why"}, Diff: pipelines.Diff{OnChange: pipelines.ChangeKeep, OnMissing: pipelines.MissingKeep}},
	}
	for i, in := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in.Desired = "desired"
			l, err := Run(ctx, db, in)
			if err != nil {
				t.Fatal(err)
			}
			general := fmt.Sprintf("SELECT row_number() OVER (ORDER BY %s, %s) - 1 AS __seq, * FROM (%s)", ActionOrder,
				engine.IdentList(l.Key, ""), l.query(in, "(SELECT * FROM desired WHERE false)", "desired"))
			exec("CREATE OR REPLACE TABLE general AS " + general)
			got, err := db.SchemaOf(ctx, Table)
			if err != nil {
				t.Fatal(err)
			}
			want, err := db.SchemaOf(ctx, "general")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("first sync diff columns\n%s\nwant\n%s", got, want)
			}
			for _, q := range []string{"SELECT * FROM __diff EXCEPT ALL SELECT * FROM general", "SELECT * FROM general EXCEPT ALL SELECT * FROM __diff"} {
				if n, err := db.Count(ctx, "SELECT count(*) FROM ("+q+")"); err != nil || n != 0 {
					t.Errorf("%s: %d rows (%v)", q, n, err)
				}
			}
			n, err := db.Count(ctx, "SELECT count(*) FROM general")
			if err != nil || n < 3 {
				t.Fatalf("the general diff has %d rows (%v): the case tests nothing", n, err)
			}
		})
	}
}
