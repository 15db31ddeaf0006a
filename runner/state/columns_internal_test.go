package state

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// TestColumns: a relation's columns come in order with the runner's type names (a view's too, a name that
// needs quoting too), a relation that is not there has none (no error), and asking about it inside a
// transaction leaves that transaction usable (the commit's statements run after).
func TestColumns(t *testing.T) {
	ctx := context.Background()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"ATTACH ':memory:' AS st",
		`CREATE TABLE st."src_it's ""x""" (sku VARCHAR, seen TIMESTAMPTZ, price DECIMAL(12,3), tags VARCHAR[])`,
		`CREATE VIEW st.v AS SELECT 1::BIGINT AS n, 'a' AS s`,
		// A table of the same name in the planner's database is not the state's.
		`CREATE TABLE v (other INTEGER)`,
		"BEGIN TRANSACTION",
		"CREATE TABLE st.t (k INTEGER)",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, tc := range []struct{ table, want string }{
		{`src_it's "x"`, "[{sku VARCHAR} {seen TIMESTAMPTZ} {price DECIMAL(12,3)} {tags VARCHAR[]}]"},
		{"v", "[{n BIGINT} {s VARCHAR}]"},
		{"snapshot", "[]"},
	} {
		got, err := columns(ctx, conn, "st", tc.table)
		if err != nil {
			t.Fatalf("columns of %s: %v", tc.table, err)
		}
		if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
			t.Errorf("columns of %s: %v, want %s", tc.table, got, tc.want)
		}
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO st.t VALUES (1); COMMIT"); err != nil {
		t.Fatalf("the transaction after asking about a missing relation: %v", err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM st.t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("st.t holds %d rows (%v), want 1", n, err)
	}
}
