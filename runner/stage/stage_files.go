package stage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zeebo/xxh3"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/spec"
)

type fileHash struct {
	sum string
	err error
}

// hashFiles fingerprints files by their names and bytes (xxh3-128), in the background: a file input moved
// exactly when one of its files did.
func hashFiles(paths []string) <-chan fileHash {
	ch := make(chan fileHash, 1)
	go func() {
		h := xxh3.New()
		buf := make([]byte, 1<<20)
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				ch <- fileHash{err: err}
				return
			}
			fmt.Fprintf(h, "%s\x00", p)
			_, err = io.CopyBuffer(h, f, buf)
			f.Close()
			if err != nil {
				ch <- fileHash{err: err}
				return
			}
		}
		sum := h.Sum128().Bytes()
		ch <- fileHash{sum: "xxh3:" + hex.EncodeToString(sum[:])}
	}()
	return ch
}

// deferrable says whether a scan can be read through a view (Input.Defer): CSV or TSV files (whose
// malformed rows the reader stores, for Deferred.Finish to report, instead of failing the query).
func deferrable(scan *connectors.Scan) bool {
	return (scan.Format == "csv" || scan.Format == "tsv") && len(scan.Paths) > 0
}

// deferScan makes the relation named after the source a view over the files' reader (the query scanFiles
// loads into a table). It returns nil when DuckDB does not accept the view (the caller then loads the
// files, and reports what is wrong with them as a load does).
func deferScan(ctx context.Context, db *engine.DB, in Input, scan *connectors.Scan, out *Output) *Deferred {
	sel, err := scanQuery(in.Name, in.Source, scan)
	if err != nil {
		return nil
	}
	target := engine.Ident(in.Name)
	if err := db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", target, sel)); err != nil {
		return nil
	}
	return &Deferred{db: db, in: in, scan: scan, target: target, out: out}
}

// scanFiles loads files DuckDB reads natively. Malformed rows fail the read, each named by file, line and
// column: a row that cannot be read has no trustworthy key, and dropping it would plan its deletion.
func scanFiles(ctx context.Context, db *engine.DB, name, target string, src connectors.Source, scan *connectors.Scan) error {
	sel, err := scanQuery(name, src, scan)
	if err != nil {
		return err
	}
	if err := db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS %s", target, sel)); err != nil {
		if derr := explainScan(ctx, src, scan); derr != nil {
			return derr
		}
		if m := missingColumn.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("read %s: no column %q in the file (it is declared in columns)", strings.Join(scan.Paths, ", "), m[1]+m[2])
		}
		return fmt.Errorf("read %s: %w", strings.Join(scan.Paths, ", "), err)
	}
	if scan.Format != "csv" && scan.Format != "tsv" {
		return nil
	}
	return csvRejects(ctx, db, "__rejects_"+name)
}

// scanQuery is the query reading a scan's files with the source's columns and types (a CSV or TSV scan
// stores its malformed rows in the tables __rejects_<name> and __rejects_<name>_scan).
func scanQuery(name string, src connectors.Source, scan *connectors.Scan) (string, error) {
	schema := src.Schema()
	if len(scan.Paths) == 0 {
		return "", errors.New("no files to read")
	}
	paths := make([]string, len(scan.Paths))
	for i, p := range scan.Paths {
		paths[i] = engine.Lit(p)
	}
	files := "[" + strings.Join(paths, ", ") + "]"
	cols := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = engine.Lit(f.Name) + ": " + engine.Lit(engine.Type(f.Type))
	}
	colStruct := "{" + strings.Join(cols, ", ") + "}"
	rejects := "__rejects_" + name
	var from string
	switch scan.Format {
	case "csv", "tsv":
		delim := scan.Delimiter
		if delim == "" {
			delim = ","
			if scan.Format == "tsv" {
				delim = "\t"
			}
		}
		// With a header, declared columns are matched by name (types=, every other column read as text so it
		// can never fail); without one, they are the file's columns in order (columns=).
		layout := "all_varchar = true, types = " + colStruct
		if !scan.Header {
			layout = "columns = " + colStruct
		}
		from = fmt.Sprintf("read_csv(%s, header = %t, delim = %s, quote = '\"', escape = '\"', nullstr = %s, %s, "+
			"store_rejects = true, rejects_table = %s, rejects_scan = %s)",
			files, scan.Header, engine.Lit(delim), engine.Lit(scan.NullString), layout, engine.Lit(rejects), engine.Lit(rejects+"_scan"))
	case "jsonl":
		from = fmt.Sprintf("read_json(%s, format = 'newline_delimited', columns = %s)", files, colStruct)
	case "parquet":
		sel := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			sel[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", engine.Ident(f.Name), engine.Type(f.Type), engine.Ident(f.Name))
		}
		from = fmt.Sprintf("(SELECT %s FROM read_parquet(%s))", strings.Join(sel, ", "), files)
	default:
		return "", fmt.Errorf("unsupported file format %q", scan.Format)
	}
	return fmt.Sprintf("SELECT %s FROM %s", engine.IdentList(engine.FieldNames(schema), ""), from), nil
}

func csvRejects(ctx context.Context, db *engine.DB, rejects string) error {
	n, err := db.Count(ctx, "SELECT count(DISTINCT (scan_id, file_id, line)) FROM "+engine.Ident(rejects)) // DuckDB lists a row once per error
	if err != nil || n == 0 {
		return err
	}
	rows, err := db.Rows(ctx, fmt.Sprintf(`SELECT s.file_path, e.line, coalesce(e.column_idx, 0), coalesce(e.column_name, ''), e.error_message
		FROM %s e JOIN %s s USING (scan_id, file_id) QUALIFY row_number() OVER (PARTITION BY e.scan_id, e.file_id, e.line ORDER BY e.column_idx) = 1
		ORDER BY s.file_path, e.line LIMIT %d`, engine.Ident(rejects), engine.Ident(rejects+"_scan"), maxListed))
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%d malformed row(s); nothing was planned:", n)
	for rows.Next() {
		var file, col, msg string
		var line, idx int64
		if err := rows.Scan(&file, &line, &idx, &col, &msg); err != nil {
			return err
		}
		where := fmt.Sprintf("%s:%d", file, line)
		if idx > 0 {
			where += fmt.Sprintf(":%d", idx)
		}
		if msg = rejectMessage(msg); col != "" && !strings.HasPrefix(msg, "the ") {
			msg = "column " + col + ": " + msg
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, msg)
	}
	if n > maxListed {
		fmt.Fprintf(&b, "\n  ... and %d more", n-maxListed)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return errors.New(b.String())
}

// readBatches loads a source's Arrow batches through DuckDB's Arrow scan.
func readBatches(ctx context.Context, db *engine.DB, name string, src connectors.Source, req connectors.ReadRequest) (connectors.ReadResult, error) {
	r, err := src.Read(ctx, req)
	if err != nil {
		return connectors.ReadResult{}, err
	}
	defer r.Close()
	rr := engine.NewSourceReader(ctx, src.Schema(), r, nil)
	err = db.Load(ctx, name, rr)
	if rr.SourceErr() != nil {
		return connectors.ReadResult{}, rr.SourceErr()
	}
	if err != nil {
		return connectors.ReadResult{}, err
	}
	if !rr.Done() {
		return connectors.ReadResult{}, errors.New("read ended before the end of input")
	}
	res := r.Result()
	if res.Mode == connectors.Changes && len(res.Key) == 0 {
		return res, errors.New("an incremental read must name its key (ReadResult.Key)")
	}
	return res, nil
}

// mergeChanges turns a Changes read into the source's full record set: the stored records overlaid by this
// read's records, by the source's key.
func mergeChanges(ctx context.Context, db *engine.DB, name, stored string, out *Output) error {
	delta := "__delta_" + name
	if err := db.Exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", engine.Ident(name), engine.Ident(delta))); err != nil {
		return err
	}
	out.Delta = delta
	if stored == "" {
		return db.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s", engine.Ident(name), engine.Ident(delta)))
	}
	return db.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS
		SELECT s.* FROM %s s WHERE NOT EXISTS (SELECT 1 FROM %s d WHERE %s)
		UNION ALL BY NAME SELECT * FROM %s`, engine.Ident(name), stored, engine.Ident(delta), spec.KeysEqual(out.Result.Key, "s", "d"), engine.Ident(delta)))
}

// Fingerprint identifies a relation's content: its row count and an order-independent sum of row hashes.
func Fingerprint(ctx context.Context, db *engine.DB, rel string) (string, int64, error) {
	sch, err := db.SchemaOf(ctx, rel)
	if err != nil {
		return "", 0, err
	}
	var n int64
	var sum string
	q := fmt.Sprintf("SELECT count(*), coalesce(sum(hash(%s))::VARCHAR, '0') FROM %s", engine.IdentList(engine.FieldNames(sch), ""), rel)
	if err := db.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("%d:%s", n, sum), n, nil
}
