package runner

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipelines/spec"
)

// duck is the planner's DuckDB: an in-memory database (spilling to the state folder past its memory limit)
// with the pipeline's state file attached as `st`. Every statement that must see the same session runs on
// conn; readers running beside a statement on conn (transform workers) take their own connections from db.
type duck struct {
	db    *sql.DB
	conn  *sql.Conn
	arrow *duckdb.Arrow
}

func openDuck(ctx context.Context, st pipelines.State) (*duck, error) {
	tmp := filepath.Join(st.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	settings := []string{
		"SET TimeZone = 'UTC'",
		"SET temp_directory = " + spec.QuoteString(tmp),
		"SET preserve_insertion_order = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		// An apply commits once per sink batch; checkpointing the state file in the middle of that (DuckDB
		// does once the WAL passes 16 MB) would rewrite it several times. The run checkpoints once at its end.
		"SET checkpoint_threshold = '1GB'",
	}
	if st.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+spec.QuoteString(st.MemoryLimit))
	}
	if st.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", st.Threads))
	}
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, q := range settings {
			if _, err := execer.ExecContext(ctx, q, nil); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(c)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	d := &duck{db: db, conn: conn}
	if d.arrow, err = arrowOf(conn); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func arrowOf(conn *sql.Conn) (*duckdb.Arrow, error) {
	var a *duckdb.Arrow
	err := conn.Raw(func(dc any) error {
		var err error
		a, err = duckdb.NewArrowFromConn(dc.(driver.Conn))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("duckdb arrow: %w", err)
	}
	return a, nil
}

func (d *duck) close() {
	if d.conn != nil {
		d.conn.Close()
	}
	d.db.Close()
}

func (d *duck) exec(ctx context.Context, q string, args ...any) error {
	if _, err := d.conn.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	return nil
}

func (d *duck) count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := d.conn.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// schemaOf returns the Arrow schema of a relation.
func (d *duck) schemaOf(ctx context.Context, rel string) (*arrow.Schema, error) {
	rr, err := d.arrow.QueryContext(ctx, "SELECT * FROM "+rel+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	for rr.Next() {
	}
	return rr.Schema(), nil
}

// query runs q and calls fn for each batch; fn must not keep the batch (its strings alias C memory freed on
// the next batch).
func (d *duck) query(ctx context.Context, q string, fn func(arrow.RecordBatch) error) error {
	rr, err := d.arrow.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rr.Release()
	return eachBatch(rr, fn)
}

func eachBatch(rr array.RecordReader, fn func(arrow.RecordBatch) error) error {
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}

// duckType is the DuckDB type of an Arrow field type.
func duckType(t arrow.DataType) string {
	switch connectors.TypeName(t) {
	case "string":
		return "VARCHAR"
	case "int":
		return "BIGINT"
	case "float":
		return "DOUBLE"
	case "bool":
		return "BOOLEAN"
	case "date":
		return "DATE"
	case "timestamp":
		return "TIMESTAMPTZ"
	}
	return "VARCHAR"
}

func ident(s string) string { return spec.QuoteIdent(s) }

func lit(s string) string { return spec.QuoteString(s) }

func identList(names []string, prefix string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + ident(n)
	}
	return strings.Join(out, ", ")
}
