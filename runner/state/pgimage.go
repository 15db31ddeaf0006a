package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/spec"
)

// Snapshot images (docs/state.md, "Cold opens"). Besides its queryable table, each relation of a pipeline
// (the snapshot, the stored records of each incremental source) has in PostgreSQL:
//
//   - an image: the whole relation as of one serial, as a Parquet file (zstd) written by DuckDB from the
//     committing worker's mirror, stored as bytea in parts of imagePartSize (table image_parts), described
//     by a row of table images (serial, columns, key, records, bytes, changed);
//   - its changes since that serial: table chg_<hash>, one row per changed record of every later commit
//     (the rows the commit sends anyway: the serial, the op, every column as text; a delete is a row with
//     op 'delete').
//
// A worker without a local mirror (a cold open) fetches the image (one query: a few tens of bytes a record
// instead of the table's text), lets DuckDB read it, and applies the changes since (the latest row of each
// key wins). A plan (a read-only open under the lock) does not write the relation at all: it reads the
// image's file in place, through a view that overlays the latest changes (viewImage). It copies the table
// whole, as before images, when the relation has no image, an image of other columns or format, or when the
// result does not hold the record count the last commit recorded.
//
// A commit rewrites the image, in its own transaction (so the image always matches a serial exactly, and is
// fenced like any write), when the relation's table is rewritten (first sync, columns changed), when there
// is no usable image, or when the changes since the image exceed imageShare of its records (and
// imageMinChanges); otherwise it appends its rows to the changes.

// imageFormat versions what an image holds (which columns are stored natively, which as text): an image
// of another format is not read, and is rewritten by the next commit.
const imageFormat = 1

// imagePartSize is the size of one image_parts row.
const imagePartSize = 8 << 20

// The default image policy: rewrite once the changes since the image exceed 10% of its records and 1,000
// rows. A cold open then reads the image plus at most that many change rows (as text, some 4 times the
// size of a record in the image); the committing worker rewrites an image of 1M records (a DuckDB COPY of
// the relation to Parquet, some 40 MB to PostgreSQL for the plan benchmark's records) once every 100,000
// changes.
//
// An image this store wrote since its Open (a commit of this run) is rewritten only once its changes exceed
// defaultRunImageShare of its records instead: a run of many batches (a first sync of 1M records commits
// 9 of 122,880) would otherwise rewrite it at nearly every commit, each time the whole relation so far
// (5.5M records written as images for 1M, half the PostgreSQL first sync's commit time: 48 s of 67 wall,
// 12.9 of 20.7 cpu s, measured 2026-12-07). With it the run's images double (1M: images of 123k, 369k and
// 860k records), and the run may leave up to as many changes as its last image's records, which the next
// commit of a later run rewrites under the 10% rule (a cold open in between reads them as text).
const (
	defaultImageShare      = 0.10
	defaultImageMinChanges = 1000
	defaultRunImageShare   = 1.0
)

// pgImage is a row of table images.
type pgImage struct {
	Format  int
	Serial  int64
	Columns []Column
	Key     []string
	Records int64
	Bytes   int64
	Changed int64
}

// holds reports whether the image is of this format and of a relation with columns cols: one that a cold
// open can read, and that a commit can append changes to.
func (img pgImage) holds(cols []Column) bool {
	return img.Format == imageFormat && sameColumns(img.Columns, cols)
}

// extends reports whether changes of a relation with columns cols and key can be appended to the image.
func (img pgImage) extends(cols []Column, key []string) bool {
	return img.holds(cols) && len(key) > 0 && slices.Equal(img.Key, key)
}

// pgStmt is a statement with its arguments, for a list of them run in turn.
type pgStmt struct {
	sql  string
	args []any
}

// execAll runs stmts in turn in tx; the error names the first that failed by what.
func execAll(ctx context.Context, tx pgx.Tx, what string, stmts []pgStmt) error {
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// imageDue reports whether a commit adding n change rows to relation name should rewrite img rather than
// extend it: under runImageShare when this store wrote img since its Open, else imageShare.
func (s *PgStore) imageDue(name string, img pgImage, n int64) bool {
	changed := img.Changed + n
	share := s.imageShare
	if serial, ok := s.ownImages[name]; ok && serial == img.Serial {
		share = s.runImageShare
	}
	return changed > s.imageMin && float64(changed) > share*float64(img.Records)
}

// changesTable names the PostgreSQL table of a relation's changes since its image.
func (s *PgStore) changesTable(name string) string {
	h := sha256.Sum256([]byte(s.pipeline + "\x00" + name))
	return "chg_" + hex.EncodeToString(h[:10])
}

const imageCols = `format, serial, columns, key, records, bytes, changed`

func scanImage(scan func(...any) error, extra ...any) (pgImage, error) {
	var img pgImage
	var cols, key []byte
	if err := scan(append(extra, &img.Format, &img.Serial, &cols, &key, &img.Records, &img.Bytes, &img.Changed)...); err != nil {
		return img, err
	}
	if err := json.Unmarshal(cols, &img.Columns); err != nil {
		return img, fmt.Errorf("image columns: %w", err)
	}
	if err := json.Unmarshal(key, &img.Key); err != nil {
		return img, fmt.Errorf("image key: %w", err)
	}
	return img, nil
}

// readImages reads the pipeline's images, by relation.
func (s *PgStore) readImages(ctx context.Context, tx pgx.Tx) (map[string]pgImage, error) {
	rows, err := tx.Query(ctx, s.q(`SELECT name, `+imageCols+` FROM {s}.images WHERE pipeline = $1`), s.pipeline)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]pgImage{}
	for rows.Next() {
		var name string
		img, err := scanImage(rows.Scan, &name)
		if err != nil {
			return nil, err
		}
		out[name] = img
	}
	return out, rows.Err()
}

// readImage reads the image of one relation (false: none).
func (s *PgStore) readImage(ctx context.Context, tx pgx.Tx, name string) (pgImage, bool, error) {
	img, err := scanImage(tx.QueryRow(ctx, s.q(`SELECT `+imageCols+` FROM {s}.images WHERE pipeline = $1 AND name = $2`), s.pipeline, name).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return img, false, nil
	}
	return img, err == nil, err
}

// parquetNative reports whether a DuckDB type goes into an image as itself and comes back exactly; the
// others (HUGEINT, which DuckDB writes to Parquet as DOUBLE; INTERVAL; TIME; UUID; structs, maps, enums …)
// are stored as their text and cast back, as the table's text is.
func parquetNative(typ string) bool {
	t := strings.ToUpper(strings.TrimSpace(typ))
	if base, ok := strings.CutSuffix(t, "[]"); ok {
		return parquetNative(base)
	}
	switch t {
	case "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
		"FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "VARCHAR", "BLOB":
		return true
	}
	var w, sc int
	if _, err := fmt.Sscanf(t, "DECIMAL(%d,%d)", &w, &sc); err == nil && t == fmt.Sprintf("DECIMAL(%d,%d)", w, sc) {
		return w <= 38
	}
	return false
}

// writeImage writes the image of mirror relation st.<name> (of columns cols, as the mirror has them) as of
// serial, replacing the relation's image and emptying its changes (recreate: making the changes table anew,
// for new columns), and records the relation's record count. It runs inside the commit's transaction tx.
func (s *PgStore) writeImage(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, cols []Column, key []string, serial int64, recreate bool) error {
	f, err := os.CreateTemp(s.spillDir(), "pgimage-*.parquet")
	if err != nil {
		return fmt.Errorf("image of %s: %w", name, err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	sel := make([]string, len(cols))
	for i, c := range cols {
		q := spec.QuoteIdent(c.Name)
		sel[i] = q
		if !parquetNative(c.Type) {
			sel[i] = fmt.Sprintf("CAST(%s AS VARCHAR) AS %s", q, q)
		}
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM st.%s) TO %s (FORMAT parquet, COMPRESSION zstd)",
		strings.Join(sel, ", "), spec.QuoteIdent(name), spec.QuoteString(path))); err != nil {
		return fmt.Errorf("image of %s: %w", name, err)
	}
	records, err := s.mirrorCount(ctx, conn, name)
	if err != nil {
		return err
	}
	f, err = os.Open(path)
	if err != nil {
		return fmt.Errorf("image of %s: %w", name, err)
	}
	defer f.Close()
	if _, err := tx.Exec(ctx, s.q(`DELETE FROM {s}.image_parts WHERE pipeline = $1 AND name = $2`), s.pipeline, name); err != nil {
		return err
	}
	parts := &imageParts{f: f, pipeline: s.pipeline, name: name, buf: make([]byte, imagePartSize)}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, "image_parts"}, []string{"pipeline", "name", "part", "data"}, parts); err != nil {
		return fmt.Errorf("image of %s: %w", name, err)
	}
	s.out += parts.bytes
	cj, _ := json.Marshal(cols)
	kj, _ := json.Marshal(key)
	if key == nil {
		kj = []byte("[]")
	}
	chg := pgx.Identifier{s.schema, s.changesTable(name)}.Sanitize()
	stmts := []pgStmt{
		{s.q(`INSERT INTO {s}.images (pipeline, name, ` + imageCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)
			ON CONFLICT (pipeline, name) DO UPDATE SET format = excluded.format, serial = excluded.serial, columns = excluded.columns,
				key = excluded.key, records = excluded.records, bytes = excluded.bytes, changed = 0`),
			[]any{s.pipeline, name, imageFormat, serial, cj, kj, records, parts.bytes}},
		{s.q(`UPDATE {s}.relations SET records = $3 WHERE pipeline = $1 AND name = $2`), []any{s.pipeline, name, records}},
	}
	if recreate {
		defs := []string{`"__serial" bigint NOT NULL`, `"__op" text NOT NULL`}
		for _, c := range cols {
			defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" text")
		}
		stmts = append(stmts, pgStmt{"DROP TABLE IF EXISTS " + chg, nil}, pgStmt{fmt.Sprintf("CREATE TABLE %s (%s)", chg, strings.Join(defs, ", ")), nil})
	} else {
		// DELETE, not TRUNCATE or DROP: a reader in an older snapshot still sees the changes of its image.
		stmts = append(stmts, pgStmt{"DELETE FROM " + chg, nil})
	}
	if err := execAll(ctx, tx, "image of "+name, stmts); err != nil {
		return err
	}
	if s.ownImages == nil {
		s.ownImages = map[string]int64{}
	}
	s.ownImages[name] = serial
	return nil
}

// mirrorCount counts the records of mirror relation st.<name>.
func (s *PgStore) mirrorCount(ctx context.Context, conn *sql.Conn, name string) (int64, error) {
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM st."+spec.QuoteIdent(name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("state mirror: count %s: %w", name, err)
	}
	return n, nil
}

// imageParts feeds an image file to COPY image_parts FROM STDIN, one row per imagePartSize bytes.
type imageParts struct {
	f              *os.File
	pipeline, name string
	buf            []byte
	part           int32
	n              int
	bytes          int64
	err            error
}

func (p *imageParts) Next() bool {
	n, err := io.ReadFull(p.f, p.buf)
	if err == io.EOF {
		return false
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		p.err = err
		return false
	}
	p.n, p.part = n, p.part+1
	p.bytes += int64(n)
	return true
}

func (p *imageParts) Values() ([]any, error) {
	return []any{p.pipeline, p.name, p.part, p.buf[:p.n]}, nil
}

func (p *imageParts) Err() error { return p.err }

// fetchImageFile writes the relation's image into f and closes it. It returns false (and no error) when the bytes
// fetched are not the image's recorded size: an incomplete image, which the caller does not use.
func (s *PgStore) fetchImageFile(ctx context.Context, tx pgx.Tx, name string, img pgImage, f *os.File) (bool, error) {
	n, err := s.fetchImage(ctx, tx, name, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("image of %s: %w", name, err)
	}
	return n == img.Bytes, nil
}

// imageSelect is the query that reads r's image file at path with r's column types.
func imageSelect(r pgRel, path string) string {
	casts := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		q := spec.QuoteIdent(c.Name)
		casts[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", q, c.Type, q)
	}
	return fmt.Sprintf("SELECT %s FROM read_parquet(%s)", strings.Join(casts, ", "), spec.QuoteString(path))
}

// loadImage builds mirror table st.<name> from the relation's image and the changes committed since. It
// returns false, leaving no table, when the image is incomplete or the result does not hold the record count
// r's last commit recorded: the caller then copies the table whole.
func (s *PgStore) loadImage(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel, img pgImage) (bool, error) {
	f, err := os.CreateTemp(s.spillDir(), "pgimage-*.parquet")
	if err != nil {
		return false, fmt.Errorf("image of %s: %w", name, err)
	}
	path := f.Name()
	defer os.Remove(path)
	if ok, err := s.fetchImageFile(ctx, tx, name, img, f); !ok || err != nil {
		return false, err
	}
	target := "st." + spec.QuoteIdent(name)
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s AS %s", target, imageSelect(r, path))); err != nil {
		return false, fmt.Errorf("load the image of %s into the planner: %w", name, err)
	}
	// The changes go in after the image is written, by DELETE and INSERT: one CREATE TABLE AS with the
	// changes merged in (an anti-join with them plus their latest rows) costs more processor time, not less
	// (a cold open of 1M records with 30,000 changes: 2.0–2.4 s against 1.4–1.6 s, 2026-12-07).
	if img.Changed > 0 {
		if err := s.applyChanges(ctx, tx, conn, name, r, img); err != nil {
			return false, err
		}
	}
	if r.Records != nil {
		got, err := s.mirrorCount(ctx, conn, name)
		if err != nil {
			return false, err
		}
		if got != *r.Records {
			if _, err := conn.ExecContext(ctx, "DROP TABLE "+target); err != nil {
				return false, fmt.Errorf("state mirror: %w", err)
			}
			return false, nil
		}
	}
	return true, nil
}

// fetchImage writes the parts of a relation's image to w, in order, and returns their size.
func (s *PgStore) fetchImage(ctx context.Context, tx pgx.Tx, name string, w io.Writer) (int64, error) {
	rows, err := tx.Query(ctx, s.q(`SELECT data FROM {s}.image_parts WHERE pipeline = $1 AND name = $2 ORDER BY part`), s.pipeline, name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(&buf); err != nil {
			return n, err
		}
		m, err := w.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	s.in += n
	return n, rows.Err()
}

// copyChanges copies the changes committed since img of relation name into a temporary table of the
// planner's database, typed as r (with columns __serial and __op first), and returns its name.
func (s *PgStore) copyChanges(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel, img pgImage) (string, error) {
	const tmp = `"possync_image_changes"`
	cols := append([]Column{{Name: "__serial", Type: "BIGINT"}, {Name: "__op", Type: "VARCHAR"}}, r.Columns...)
	q := fmt.Sprintf(`SELECT %s FROM %s WHERE "__serial" > %d`, strings.Join(quoteAll(names(cols)), ", "),
		pgx.Identifier{s.schema, s.changesTable(name)}.Sanitize(), img.Serial)
	if err := s.copyQueryDown(ctx, tx, conn, "the changes of "+name+" since its image", "CREATE OR REPLACE TEMP TABLE "+tmp, q, cols); err != nil {
		return "", err
	}
	return tmp, nil
}

// latestChanges selects, from a table of changes (copyChanges), the latest row of each changed key.
func latestChanges(tmp string, key []string) string {
	return fmt.Sprintf(`SELECT * EXCLUDE ("__possync_rn") FROM (SELECT *, row_number() OVER (PARTITION BY %s ORDER BY "__serial" DESC) AS "__possync_rn" FROM %s)
		WHERE "__possync_rn" = 1`, strings.Join(duckIdents(key), ", "), tmp)
}

// applyChanges applies to mirror table st.<name> the changes committed since its image: the latest row of
// each changed key replaces the key's record, or deletes it.
func (s *PgStore) applyChanges(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel, img pgImage) error {
	tmp, err := s.copyChanges(ctx, tx, conn, name, r, img)
	if err != nil {
		return err
	}
	target := "st." + spec.QuoteIdent(name)
	key := duckIdents(img.Key)
	qcols := duckIdents(names(r.Columns))
	for _, q := range []string{
		fmt.Sprintf("DELETE FROM %s s USING (SELECT DISTINCT %s FROM %s) c WHERE %s", target, strings.Join(key, ", "), tmp, spec.KeysEqual(img.Key, "s", "c")),
		fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM (%s) WHERE "__op" <> 'delete'`, target, strings.Join(qcols, ", "), strings.Join(qcols, ", "),
			latestChanges(tmp, img.Key)),
		"DROP TABLE " + tmp,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("apply the changes of %s since its image: %w", name, err)
		}
	}
	return nil
}

// viewFile is the file in the spill folder (spillDir) from which a plan reads relation name's image in place (viewImage): one per
// pipeline and relation, overwritten by the next plan (a plan holds the pipeline's lock, so no other run of
// the pipeline on this worker uses it meanwhile; a plan that was killed leaves it for the next one).
func (s *PgStore) viewFile(name string) string {
	h := sha256.Sum256([]byte(name))
	return filepath.Join(s.spillDir(), s.pipeline+".pgplan-"+hex.EncodeToString(h[:8])+".parquet")
}

// viewImage makes mirror relation st.<name> a view of the relation's image, read in place, and the changes
// committed since: it fetches the image into a file in the spill folder (viewFile, removed by Close) and copies the
// latest row of each changed key into table st."chg_<name>"; the view is the image's records of the other
// keys plus those rows that are not deletes. For a plan, which only reads its relations: DuckDB reads the
// image where the diff reads the snapshot (twice) instead of writing it whole into a table first, which costs
// more processor time than those reads (1M records of the plan benchmark's shape, 2026-12-07: the view and a
// diff 1.2–1.3 s; a table in memory and the diff 1.4–1.5 s, 2.2–3.0 s under the planner's 256 MiB
// memory_limit, where the diff spills; the table in the mirror file and the diff 1.8–2.3 s). Like loadImage it returns false, leaving no relation, when the image is incomplete or the
// view does not hold the record count the last commit recorded.
func (s *PgStore) viewImage(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel, img pgImage) (bool, error) {
	path := s.viewFile(name)
	f, err := os.Create(path)
	if err != nil {
		return false, fmt.Errorf("image of %s: %w", name, err)
	}
	if !slices.Contains(s.viewFiles, path) {
		s.viewFiles = append(s.viewFiles, path)
	}
	if ok, err := s.fetchImageFile(ctx, tx, name, img, f); !ok || err != nil {
		return false, err
	}
	target := "st." + spec.QuoteIdent(name)
	view := imageSelect(r, path)
	var drop []string
	if img.Changed > 0 {
		tmp, err := s.copyChanges(ctx, tx, conn, name, r, img)
		if err != nil {
			return false, err
		}
		chg := "st." + spec.QuoteIdent("chg_"+name)
		qcols := strings.Join(duckIdents(names(r.Columns)), ", ")
		for _, q := range []string{
			fmt.Sprintf(`CREATE OR REPLACE TABLE %s AS SELECT "__op", %s FROM (%s)`, chg, qcols, latestChanges(tmp, img.Key)),
			"DROP TABLE " + tmp,
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return false, fmt.Errorf("the changes of %s since its image: %w", name, err)
			}
		}
		drop = append(drop, "DROP TABLE "+chg)
		view = fmt.Sprintf(`SELECT i.* FROM (%s) i ANTI JOIN %s c ON %s UNION ALL SELECT %s FROM %s WHERE "__op" <> 'delete'`,
			view, chg, spec.KeysEqual(img.Key, "i", "c"), qcols, chg)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE VIEW %s AS %s", target, view)); err != nil {
		return false, fmt.Errorf("read the image of %s in place: %w", name, err)
	}
	drop = append([]string{"DROP VIEW " + target}, drop...)
	got, err := s.mirrorCount(ctx, conn, name)
	if err != nil {
		return false, err
	}
	if r.Records != nil && got != *r.Records {
		for _, q := range drop {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return false, fmt.Errorf("state mirror: %w", err)
			}
		}
		return false, nil
	}
	if s.views == nil {
		s.views = map[string]int64{}
	}
	s.views[name] = got
	return true, nil
}
