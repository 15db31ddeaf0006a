// Package engine is the runner's one door to DuckDB: it opens the planner's database, loads Arrow batches
// into tables (DuckDB's Arrow scan), runs queries (Arrow batches or SQL rows), quotes identifiers and
// literals, maps Arrow types to DuckDB types, and owns the one family of array.RecordReader adapters the
// runner hands to DuckDB (over a slice, a channel, or a connectors.Reader).
//
// It owns: the DuckDB connector and its settings, the session connection and the Arrow interface over it,
// worker connections for parallel reads, quoting. It may not touch: pipelines, plans, state layout,
// connectors' behaviour beyond reading batches, or any stage's tables by name: callers name every relation.
// No other package of the project imports the DuckDB driver (connectors/layering_test.go enforces it).
package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// Options configure a database.
type Options struct {
	// TempDir is where DuckDB spills past its memory limit (created if missing).
	TempDir string
	// MemoryLimit is DuckDB's memory_limit ("": DefaultMemoryLimit, not DuckDB's own 80% of RAM).
	MemoryLimit string
	// Threads is DuckDB's thread count (0 leaves DuckDB's default).
	Threads int
}

// DB is the planner's DuckDB: an in-memory database (spilling to TempDir past its memory limit). Every
// statement that must see the same session runs on the session connection (Conn); readers running beside
// a statement on it (transform workers) take their own connections (Worker).
type DB struct {
	db    *sql.DB
	conn  *sql.Conn
	arrow *duckdb.Arrow
	// reader says the DB is a Reader's: Close closes its connection, not the database.
	reader bool
	// burst is the memory_limit WithBurstMemory sets ("": none, the caller set a memory_limit of its own).
	burst string
}

// Open starts an in-memory DuckDB in UTC, with extension autoloading off and checkpoints deferred (an apply
// commits once per sink batch; the run checkpoints once at its end).
func Open(ctx context.Context, o Options) (*DB, error) {
	if err := os.MkdirAll(o.TempDir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	settings := []string{
		"SET TimeZone = 'UTC'",
		"SET temp_directory = " + Lit(o.TempDir),
		"SET preserve_insertion_order = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		// An apply commits once per sink batch; checkpointing the state file in the middle of that (DuckDB
		// does once the WAL passes 16 MB) would rewrite it several times. The run checkpoints once at its end.
		"SET checkpoint_threshold = '1GB'",
		// No checkpoint vacuums the state's row groups (a rewrite of whole row groups to reclaim a few
		// deleted rows) except the run's own when the state needs compacting (runner.checkpointState).
		"SET max_vacuum_tasks = 0",
	}
	limit := o.MemoryLimit
	if limit == "" {
		limit = DefaultMemoryLimit()
	}
	settings = append(settings, "SET memory_limit = "+Lit(limit))
	if o.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	// temp_directory is the database's: set again on a worker's connection once DuckDB has spilled there, it
	// fails ("Cannot switch temporary directory after the current one has been used"). threads is the
	// database's too: set again on a connection opened while the session runs on one thread (an apply's
	// Reader), it would undo that for every connection.
	var opened atomic.Bool
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, q := range settings {
			if (strings.HasPrefix(q, "SET temp_directory") || strings.HasPrefix(q, "SET threads")) && opened.Load() {
				continue
			}
			if _, err := execer.ExecContext(ctx, q, nil); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		opened.Store(true)
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
	d := &DB{db: db, conn: conn}
	if o.MemoryLimit == "" {
		d.burst = DefaultBurstLimit()
	}
	if d.arrow, err = arrowOf(conn); err != nil {
		d.Close()
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

// Close closes the session connection and the database (a Reader's: its connection only).
func (d *DB) Close() {
	if d.conn != nil {
		d.conn.Close()
	}
	if !d.reader {
		d.db.Close()
	}
}

// Reader opens a DB over a connection of its own to the same database, for a reader that needs DB's
// interface while statements run on the session connection (the apply reads its next batch from the diff
// table through one while the session commits the batch before: runner.applyStreamed). It sees the
// tables of the database and of the databases attached to it as the session connection last committed
// them (not the session's TEMP objects, settings of its own, or the writes of a transaction it has open).
// It must not outlive d; Close closes its connection only.
func (d *DB) Reader(ctx context.Context) (*DB, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a duckdb connection: %w", err)
	}
	r := &DB{db: d.db, conn: conn, reader: true, burst: d.burst}
	if r.arrow, err = arrowOf(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// Conn is the session connection, for the state store (state.Store works on the planner's connection).
func (d *DB) Conn() *sql.Conn { return d.conn }

// Exec runs a statement on the session connection.
func (d *DB) Exec(ctx context.Context, q string, args ...any) error {
	if _, err := d.conn.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	return nil
}

// WithBurstMemory runs fn with DuckDB's memory_limit raised to the burst limit (DefaultBurstLimit) when the
// database runs under the default limit (Options.MemoryLimit ""; a limit the caller set is never raised),
// then puts the limit back. It is for one step that reads a table larger than the limit once, with a join
// beside it, and then frees that table: fn must drop what it is done with before it returns, since what
// DuckDB still holds past the limit when it is put back is evicted to temp files (compressed and written)
// on the spot. The limit is the database's, so it also applies to readers running beside fn.
func (d *DB) WithBurstMemory(ctx context.Context, fn func() error) error {
	if d.burst == "" {
		return fn()
	}
	return d.WithSetting(ctx, "memory_limit", Lit(d.burst), fn)
}

// StartBurst is WithBurstMemory for a span that is not one function: it raises the limit now and end puts
// back the one it found (a no-op when the caller set a limit). The same contract holds: drop what is held
// past the cap before end. The caller owns end as it would a deferred call: every path out of the span,
// an error's too, must call it, once. end runs its SET also when ctx is done, so that a span cut short by a
// cancelled context does not leave the burst limit on a database its caller may keep using.
func (d *DB) StartBurst(ctx context.Context) (end func(context.Context) error, err error) {
	end = func(context.Context) error { return nil }
	if d.burst == "" {
		return end, nil
	}
	var was string
	if err := d.QueryRow(ctx, "SELECT current_setting('memory_limit')::VARCHAR").Scan(&was); err != nil {
		return end, fmt.Errorf("read DuckDB's memory_limit: %w", err)
	}
	if err := d.Exec(ctx, "SET memory_limit = "+Lit(d.burst)); err != nil {
		return end, fmt.Errorf("set DuckDB's memory_limit: %w", err)
	}
	return func(ctx context.Context) error {
		if err := d.Exec(context.WithoutCancel(ctx), "SET memory_limit = "+Lit(was)); err != nil {
			return fmt.Errorf("put back DuckDB's memory_limit: %w", err)
		}
		return nil
	}, nil
}

// WithSetting runs fn with DuckDB's setting name at value, then puts back the value it had (also when fn
// fails or ctx is done). value is SQL as SET takes it (true, 1, 'text'); when the setting already has it,
// fn runs without a SET. A setting a SET changes is the database's, seen by every connection (the reader of
// a pipelined apply too): the caller makes sure nothing else relies on the old value meanwhile.
func (d *DB) WithSetting(ctx context.Context, name, value string, fn func() error) (err error) {
	var was string
	if err := d.QueryRow(ctx, "SELECT current_setting("+Lit(name)+")::VARCHAR").Scan(&was); err != nil {
		return fmt.Errorf("read DuckDB's %s: %w", name, err)
	}
	if strings.EqualFold(was, strings.Trim(value, "'")) {
		return fn()
	}
	if err := d.Exec(ctx, fmt.Sprintf("SET %s = %s", name, value)); err != nil {
		return fmt.Errorf("set DuckDB's %s: %w", name, err)
	}
	defer func() {
		if rerr := d.Exec(context.WithoutCancel(ctx), fmt.Sprintf("SET %s = %s", name, Lit(was))); rerr != nil && err == nil {
			err = fmt.Errorf("restore DuckDB's %s: %w", name, rerr)
		}
	}()
	return fn()
}

// Count runs a query returning one integer.
func (d *DB) Count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := d.conn.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// QueryRow runs a query expected to return one row, as database/sql.
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.conn.QueryRowContext(ctx, q, args...)
}

// Rows runs a query and returns its rows as database/sql (small results: reports, counts per group).
func (d *DB) Rows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.conn.QueryContext(ctx, q, args...)
}

// Prepare checks a statement against the relations defined so far without running it.
func (d *DB) Prepare(ctx context.Context, q string) error {
	stmt, err := d.conn.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	return stmt.Close()
}

// SchemaOf returns the Arrow schema of a relation (rel is quoted or an expression).
func (d *DB) SchemaOf(ctx context.Context, rel string) (*arrow.Schema, error) {
	rr, err := d.arrow.QueryContext(ctx, "SELECT * FROM "+rel+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	for rr.Next() {
	}
	return rr.Schema(), nil
}

// Query runs q and calls fn for each batch; fn must not keep the batch (its strings alias C memory freed on
// the next batch).
func (d *DB) Query(ctx context.Context, q string, fn func(arrow.RecordBatch) error) error {
	rr, err := d.arrow.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rr.Release()
	return EachBatch(rr, fn)
}

// Load creates (or replaces) table with the rows rr yields, through DuckDB's Arrow scan of a view named
// "__view_<table>" registered for the statement's duration. The caller keeps rr (and checks its own error
// state afterwards: DuckDB flattens a reader's error into a generic scan failure).
func (d *DB) Load(ctx context.Context, table string, rr array.RecordReader) error {
	view := "__view_" + table
	release, err := d.registerView(rr, view)
	if err != nil {
		return err
	}
	defer release()
	return d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM %s", Ident(table), Ident(view)))
}

// registerView makes rr's rows visible as the view named view until release, which drops the view before
// releasing rr's stream: DuckDB keeps an Arrow scan's view in the catalog, and a statement reading it after
// the stream was freed would crash the process.
func (d *DB) registerView(rr array.RecordReader, view string) (release func(), err error) {
	rel, err := d.arrow.RegisterView(rr, view)
	if err != nil {
		return nil, err
	}
	return func() {
		_ = d.Exec(context.Background(), "DROP VIEW IF EXISTS "+Ident(view))
		rel()
	}, nil
}

// ExecWithView runs statement q while the rows of rr are visible as the view named view (DuckDB's Arrow
// scan), e.g. to join a small Go-built list into a statement without materialising it as a table first.
func (d *DB) ExecWithView(ctx context.Context, view string, rr array.RecordReader, q string) error {
	release, err := d.registerView(rr, view)
	if err != nil {
		return err
	}
	defer release()
	return d.Exec(ctx, q)
}

// WithView calls fn while the rows of rr are visible, on the session connection, as the view named view
// (DuckDB's Arrow scan), for a statement fn runs there that reads them once (an INSERT ... SELECT by the
// state store), so that they are not first copied into a table.
func (d *DB) WithView(view string, rr array.RecordReader, fn func() error) error {
	release, err := d.registerView(rr, view)
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

// LoadBatch writes a batch into a new table; it takes over the batch.
func (d *DB) LoadBatch(ctx context.Context, table string, b arrow.RecordBatch) error {
	rr := &SliceReader{schema: b.Schema(), batches: []arrow.RecordBatch{b}}
	defer rr.Release()
	return d.Load(ctx, table, rr)
}

// LoadRecords writes Go records into a new table of schema sch.
func (d *DB) LoadRecords(ctx context.Context, table string, sch *arrow.Schema, recs []record.Record) error {
	b, err := record.BuildBatch(memoryAlloc, sch, recs)
	if err != nil {
		return err
	}
	return d.LoadBatch(ctx, table, b)
}

// CreateEmpty creates (or replaces) an empty table of an Arrow schema.
func (d *DB) CreateEmpty(ctx context.Context, table string, sch *arrow.Schema) error {
	cols := make([]string, sch.NumFields())
	for i, f := range sch.Fields() {
		cols[i] = Ident(f.Name) + " " + Type(f.Type)
	}
	return d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", Ident(table), strings.Join(cols, ", ")))
}

// Worker is a connection of its own, for a reader running beside a statement on the session connection.
type Worker struct {
	conn  *sql.Conn
	arrow *duckdb.Arrow
}

// Worker opens a worker connection; Close it when done.
func (d *DB) Worker(ctx context.Context) (*Worker, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	a, err := arrowOf(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Worker{conn: conn, arrow: a}, nil
}

// Query runs q on the worker's connection and calls fn for each batch (which fn must not keep).
func (w *Worker) Query(ctx context.Context, q string, fn func(arrow.RecordBatch) error) error {
	rr, err := w.arrow.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rr.Release()
	return EachBatch(rr, fn)
}

// Close closes the worker's connection.
func (w *Worker) Close() error { return w.conn.Close() }

// EachBatch calls fn for each batch of rr, then returns rr's error.
func EachBatch(rr array.RecordReader, fn func(arrow.RecordBatch) error) error {
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}

// Type is the DuckDB type of an Arrow field type (the types possync stores; anything else is VARCHAR).
func Type(t arrow.DataType) string {
	switch record.TypeName(t) {
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

// Ident quotes an identifier.
func Ident(s string) string { return spec.QuoteIdent(s) }

// Lit quotes a string literal.
func Lit(s string) string { return spec.QuoteString(s) }

// IdentList quotes names, each with prefix (a table alias and dot, or ""), joined by ", ".
func IdentList(names []string, prefix string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + Ident(n)
	}
	return strings.Join(out, ", ")
}

// Canonical maps a schema to the field types possync stores (int64, float64, string, ...): the types of the
// state's snapshot and of a sink's records file.
func Canonical(sch *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, sch.NumFields())
	for i, f := range sch.Fields() {
		t, err := record.ArrowType(record.TypeName(f.Type))
		if err != nil {
			t = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: f.Name, Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// ShadowsRowid says whether one of names (a relation's columns) is rowid, in any case: DuckDB then reads
// that column where a query names rowid, not the row number, so nothing may select rows of such a relation
// by a range of rowid or take rowid as their order.
func ShadowsRowid(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "rowid") })
}

// FieldNames lists a schema's field names in order.
func FieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}
