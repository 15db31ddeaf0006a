package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/spec/pgdsn"
)

// SchemaVersion is the version of the PostgreSQL layout (the `schema_version` row of possync_meta). Open and
// Lock migrate an older schema forward and refuse a newer one.
const SchemaVersion = 5

// pgMigrations[i] brings the schema from version i to i+1. {s} is the quoted schema name.
var pgMigrations = [][]string{{
	`CREATE TABLE {s}.pipelines (pipeline text PRIMARY KEY, lineage text NOT NULL, serial bigint NOT NULL DEFAULT 0,
		exported bigint NOT NULL DEFAULT 0, export_stamp text NOT NULL DEFAULT '', commit_id text NOT NULL DEFAULT '',
		created_at timestamptz NOT NULL DEFAULT now())`,
	`CREATE TABLE {s}.locks (pipeline text PRIMARY KEY, fence bigint NOT NULL, host text NOT NULL, pid integer NOT NULL,
		run_id text NOT NULL, started_at timestamptz NOT NULL, backend_pid integer NOT NULL, locked_at timestamptz NOT NULL DEFAULT now())`,
	`CREATE TABLE {s}.relations (pipeline text NOT NULL, name text NOT NULL, tbl text NOT NULL, columns jsonb NOT NULL,
		PRIMARY KEY (pipeline, name))`,
	`CREATE TABLE {s}.runs (pipeline text NOT NULL, run_id text NOT NULL, started_at timestamptz, finished_at timestamptz,
		status text, plan_hash text, report text, PRIMARY KEY (pipeline, run_id))`,
	`CREATE TABLE {s}.journal (pipeline text NOT NULL, serial bigint NOT NULL, run_id text NOT NULL,
		committed_at timestamptz NOT NULL, acked bigint NOT NULL, rejected bigint NOT NULL)`,
	`CREATE INDEX ON {s}.journal (pipeline, serial)`,
	`CREATE TABLE {s}.intents (pipeline text NOT NULL, seq bigserial, id text NOT NULL, run_id text NOT NULL, change text NOT NULL)`,
	`CREATE INDEX ON {s}.intents (pipeline, id)`,
	`CREATE TABLE {s}.checkpoints (pipeline text NOT NULL, source text NOT NULL, value bytea, serial bigint NOT NULL,
		PRIMARY KEY (pipeline, source))`,
}, {
	// 2: the runner's basis (Store.SetBasis: what the last successful plan saw, for the no-change rerun).
	`ALTER TABLE {s}.pipelines ADD COLUMN basis text NOT NULL DEFAULT ''`,
}, {
	// 3: snapshot images for cold opens (pgimage.go): each relation's record count after the last commit, its
	// image (a Parquet file as of one serial, in parts) and, per relation, a table chg_<hash> of the changes
	// since (created with the image).
	`ALTER TABLE {s}.relations ADD COLUMN records bigint`,
	`CREATE TABLE {s}.images (pipeline text NOT NULL, name text NOT NULL, format integer NOT NULL, serial bigint NOT NULL,
		columns jsonb NOT NULL, key jsonb NOT NULL, records bigint NOT NULL, bytes bigint NOT NULL, changed bigint NOT NULL,
		PRIMARY KEY (pipeline, name))`,
	`CREATE TABLE {s}.image_parts (pipeline text NOT NULL, name text NOT NULL, part integer NOT NULL, data bytea NOT NULL,
		PRIMARY KEY (pipeline, name, part))`,
	// Parquet is compressed already: store the parts out of line without trying to compress them again.
	`ALTER TABLE {s}.image_parts ALTER COLUMN data SET STORAGE EXTERNAL`,
}, {
	// 4: packed intents (intents.go): a row holding a part's change IDs (ids, n of them) with a NULL id. The
	// IDs are mostly random bytes: stored out of line without trying to compress them.
	`ALTER TABLE {s}.intents ALTER COLUMN id DROP NOT NULL, ADD COLUMN ids bytea, ADD COLUMN n bigint`,
	`ALTER TABLE {s}.intents ALTER COLUMN ids SET STORAGE EXTERNAL`,
}, {
	// 5: the merchant a pipeline's state belongs to ('' for a state written before it: it takes the merchant
	// of the pipeline whose commit first finds none).
	`ALTER TABLE {s}.pipelines ADD COLUMN merchant text NOT NULL DEFAULT ''`,
}}

// PgStore keeps a pipeline's state in PostgreSQL (15+), shared by every worker of an installation: one schema
// per installation (default "possync"), tables keyed by pipeline name. See docs/state.md.
//
// The planner still diffs in DuckDB: Open copies the snapshot and the stored source records from PostgreSQL
// into a database attached to the planner's connection as `st` (the local mirror, a file kept between runs
// while locked; in memory otherwise), so relations are named as with DuckStore. A mirror that holds the last
// commit is used as it is; otherwise each relation comes from its image and the changes since (pgimage.go),
// or from its table (COPY … TO STDOUT in CSV, streamed through a named pipe into DuckDB's CSV reader; never
// row-by-row). Values are kept in PostgreSQL tables as DuckDB's own text form of each value (the column types
// are recorded beside), so that they come back exactly. Commit sends only the changed rows back (COPY into a
// temporary table, then one DELETE and one INSERT, and the same rows to the changes since the image, or a
// new image), in one PostgreSQL transaction that also checks the fencing token (see Lock) and settles
// intents, journal and checkpoints.
//
// Lock takes a session-level advisory lock on a connection of its own, held for the run, and records the
// holder (host, pid, run id, start) with a fencing token incremented at every take. Every write checks, in
// its transaction, that the token is still this run's and that the lock session is alive; otherwise it
// returns *LockLostError and records nothing.
type PgStore struct {
	url, schema, dir, pipeline string
	redact                     *spec.Redactor

	db       *pgx.Conn // data connection
	lockConn *pgx.Conn // the advisory lock's session, while locked
	// fence is the token of the lock held (0: none); lastFence the last one taken (for FinishRun after unlock).
	fence, lastFence int64
	mirror           *DuckStore
	// rels maps a mirror relation ("snapshot", "src_<source>") to its PostgreSQL table and columns.
	rels map[string]pgRel
	// broken is set when a commit reached the mirror but not PostgreSQL: the mirror is then ahead.
	broken error
	// in and out count the bytes of bulk copies from and to PostgreSQL.
	in, out int64
	// imageShare, runImageShare and imageMin are the image policy (see imageDue); ownImages maps a relation
	// to the serial of the image this store wrote since its Open; fromImage and fromCopy count the relations
	// the last Open loaded from their image and by copying their table.
	imageShare, runImageShare float64
	imageMin                  int64
	ownImages                 map[string]int64
	fromImage, fromCopy       int
	// ver is the schema version the last Open found: SchemaVersion after a write's (ensureSchema migrated
	// it), the installation's as it is after a read-only one (an older layout is read as it is: Intents).
	ver int
	// views holds the relations the last Open made views over their image's file (a plan on a worker whose
	// mirror is not current, see openMirror and viewImage), with their record counts; viewFiles are those
	// files, removed by Close.
	views     map[string]int64
	viewFiles []string
	// merchant is the pipeline's (Config.Merchant, "" for none: a reader); held the one the state records, as
	// of the last Open or commit ("" for none).
	merchant, held string
}

type pgRel struct {
	Table   string   `json:"-"`
	Columns []Column `json:"columns"`
	// Records is the relation's record count after the last commit (nil: not recorded, before schema 3).
	Records *int64 `json:"-"`
}

var _ Store = (*PgStore)(nil)

// NewPgStore returns the store of pipeline in the PostgreSQL database at url (a URL or key=value pairs; the
// password from it, $PGPASSWORD or a passfile), in schema ("" means "possync"); dir is where bulk copies
// spill. It connects on Open or Lock. Its errors never show a password (pgdsn.Secrets).
func NewPgStore(url, schema, dir, pipeline string) *PgStore {
	if schema == "" {
		schema = "possync"
	}
	r := &spec.Redactor{}
	r.Add(pgdsn.Secrets(url)...)
	return &PgStore{url: url, schema: schema, dir: dir, pipeline: pipeline, redact: r, rels: map[string]pgRel{},
		imageShare: defaultImageShare, imageMin: defaultImageMinChanges, runImageShare: defaultRunImageShare}
}

// RedactURL names a state backend's PostgreSQL server for messages by its host(s), port, user and database
// only (pgdsn.Describe), whatever form the connection string has: never its password, nor its parameters
// (sslpassword=…), nor the text of a string that does not parse.
func RedactURL(s string) string { return pgdsn.Describe(s) }

// String names the store in messages (the server by host, port, user and database; never a password).
func (s *PgStore) String() string {
	return fmt.Sprintf("%s (schema %s, pipeline %s)", RedactURL(s.url), s.schema, s.pipeline)
}

// BytesMoved is what bulk copies moved from (in) and to (out) PostgreSQL since the store was made.
func (s *PgStore) BytesMoved() (in, out int64) { return s.in, s.out }

// OpenedFrom says how the last Open filled the planner's copy of the state: how many relations (the
// snapshot, each incremental source's records) it loaded from their image and the changes since, and how
// many by copying their table whole. Both are 0 when the local mirror was current (nothing copied).
func (s *PgStore) OpenedFrom() (image, copied int) { return s.fromImage, s.fromCopy }

// pgError wraps an error with context, masking the password in its text.
type pgError struct {
	msg string
	err error
}

func (e *pgError) Error() string { return e.msg }
func (e *pgError) Unwrap() error { return e.err }

func (s *PgStore) errf(err error, format string, args ...any) error {
	var lost *LockLostError
	var locked *LockedError
	var other *MerchantError
	if errors.As(err, &lost) || errors.As(err, &locked) || errors.As(err, &other) {
		return err
	}
	return &pgError{msg: s.redact.Redact(fmt.Sprintf(format, args...) + ": " + err.Error()), err: err}
}

func (s *PgStore) q(query string) string {
	return strings.ReplaceAll(query, "{s}", pgx.Identifier{s.schema}.Sanitize())
}

func (s *PgStore) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.url)
	if err != nil {
		// Not err's text: it may quote the string, password included.
		return nil, &pgError{msg: "postgres state: the connection string does not parse: write a URL " +
			"postgres://user@host:5432/db?sslmode=… or key=value pairs host=… user=… dbname=… (it is not shown: it may hold " +
			"a password)", err: errors.New("parse")}
	}
	cfg.RuntimeParams["application_name"] = "possync"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, s.errf(err, "postgres state: connect to %s", RedactURL(s.url))
	}
	return c, nil
}

func (s *PgStore) data(ctx context.Context) (*pgx.Conn, error) {
	if s.db != nil && !s.db.IsClosed() {
		return s.db, nil
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.db = c
	return c, nil
}

// Close closes the data connection (the lock's connection is closed by the unlock function).
//
// It also removes the image files that a plan's relations read in place (see viewImage): close the planner's
// DuckDB first.
func (s *PgStore) Close() error {
	for _, f := range s.viewFiles {
		_ = os.Remove(f)
	}
	s.viewFiles = nil
	if s.db != nil {
		err := s.db.Close(context.Background())
		s.db = nil
		return err
	}
	return nil
}

// key64 is a stable advisory lock key for parts.
func key64(parts ...string) int64 {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

func (s *PgStore) lockKey() int64 { return key64("possync", s.schema, s.pipeline) }

// ensureSchema creates or migrates the installation's schema forward, under a transaction-level advisory
// lock so that concurrent workers do it once.
func (s *PgStore) ensureSchema(ctx context.Context, c *pgx.Conn) error {
	// The usual case, without DDL (which would need CREATE on the database): the schema is current.
	var reg *string
	if err := c.QueryRow(ctx, `SELECT to_regclass($1)::text`, pgx.Identifier{s.schema, "possync_meta"}.Sanitize()).Scan(&reg); err != nil {
		return err
	}
	if reg != nil {
		var v int
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) (err error) { v, err = s.version(ctx, tx); return err })
		if err != nil || v == SchemaVersion {
			return err
		}
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key64("possync-schema", s.schema)); err != nil {
			return err
		}
		for _, q := range []string{`CREATE SCHEMA IF NOT EXISTS {s}`,
			`CREATE TABLE IF NOT EXISTS {s}.possync_meta (k text PRIMARY KEY, v text NOT NULL)`} {
			if _, err := tx.Exec(ctx, s.q(q)); err != nil {
				return err
			}
		}
		v, err := s.version(ctx, tx)
		if err != nil {
			return err
		}
		for ; v < SchemaVersion; v++ {
			for _, q := range pgMigrations[v] {
				if _, err := tx.Exec(ctx, s.q(q)); err != nil {
					return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.possync_meta VALUES ('schema_version', $1)
				ON CONFLICT (k) DO UPDATE SET v = excluded.v`), strconv.Itoa(v+1)); err != nil {
				return err
			}
		}
		return nil
	})
}

// version reads the schema version (0: none) and refuses one newer than this possync's.
func (s *PgStore) version(ctx context.Context, tx pgx.Tx) (int, error) {
	var v string
	err := tx.QueryRow(ctx, s.q(`SELECT v FROM {s}.possync_meta WHERE k = 'schema_version'`)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(v)
	if n > SchemaVersion {
		return 0, &NewerSchemaError{Schema: s.schema, Version: n}
	}
	return n, nil
}

// NewerSchemaError refuses a PostgreSQL schema written by a newer possync.
type NewerSchemaError struct {
	Schema  string
	Version int
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("postgres state: schema %q has version %d; this possync knows up to %d: upgrade possync", e.Schema, e.Version, SchemaVersion)
}

// Open implements Store. A state that records another merchant than the store's is refused
// (*MerchantError) before anything of it is copied; a state it creates records the store's merchant.
func (s *PgStore) Open(ctx context.Context, conn *sql.Conn, readOnly bool) (Meta, error) {
	s.fromImage, s.fromCopy, s.views, s.ownImages, s.ver, s.held = 0, 0, nil, nil, SchemaVersion, ""
	c, err := s.data(ctx)
	if err != nil {
		return Meta{}, err
	}
	if !readOnly {
		if err := s.ensureSchema(ctx, c); err != nil {
			return Meta{}, s.errf(err, "postgres state %s", s)
		}
		if _, err := c.Exec(ctx, s.q(`INSERT INTO {s}.pipelines (pipeline, lineage, merchant) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`),
			s.pipeline, newID(), s.merchant); err != nil {
			return Meta{}, s.errf(err, "postgres state %s", s)
		}
	}
	var meta Meta
	var basis string
	err = pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ver := SchemaVersion // a write has migrated the schema (ensureSchema); a read-only open reads it as it is
		if readOnly {
			var reg *string
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, pgx.Identifier{s.schema, "possync_meta"}.Sanitize()).Scan(&reg); err != nil {
				return err
			}
			if reg == nil {
				return nil
			}
			if ver, err = s.version(ctx, tx); err != nil {
				return err
			}
			s.ver = ver
			var reg2 *string
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, pgx.Identifier{s.schema, "pipelines"}.Sanitize()).Scan(&reg2); err != nil || reg2 == nil {
				return err
			}
		}
		var stamp, commitID string
		merchant := "merchant"
		if ver < 5 { // an installation not migrated yet (read-only): no merchant recorded
			merchant = "''"
		}
		err := tx.QueryRow(ctx, s.q(`SELECT lineage, serial, exported, export_stamp, commit_id, basis, `+merchant+` FROM {s}.pipelines WHERE pipeline = $1`), s.pipeline).
			Scan(&meta.Lineage, &meta.Serial, &meta.Exported, &stamp, &commitID, &basis, &s.held)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // read-only and never written: empty
		}
		if err != nil {
			return err
		}
		if err := s.checkMerchant(s.held); err != nil {
			return err
		}
		meta.ExportStamp = stamp
		rels, err := s.readRels(ctx, tx, ver >= 3)
		if err != nil {
			return err
		}
		// A plan (read-only, under the lock) on a worker whose mirror is not current reads the relations in
		// place when each has a usable image (openMirror, viewImage); copied whole, a relation goes into the
		// mirror file as for an apply (in memory it would take most of DuckDB's memory_limit from the plan).
		plan := readOnly && s.lockConn != nil && s.dir != "" && len(rels) > 0 && ver >= 3 // images came with version 3
		var images map[string]pgImage
		if plan {
			if images, err = s.readImages(ctx, tx); err != nil {
				return err
			}
			for name, r := range rels {
				plan = plan && imageUsable(images, name, r)
			}
		}
		fresh, err := s.openMirror(ctx, conn, meta, commitID, plan)
		if err != nil {
			return err
		}
		view := plan && !fresh
		if images == nil && !fresh && len(rels) > 0 && ver >= 3 {
			if images, err = s.readImages(ctx, tx); err != nil {
				return err
			}
		}
		err = s.mirrorWrites(ctx, conn, func() error {
			// The mirror's load, below, finds which source relations it holds (DuckStore.sources).
			for name, r := range rels {
				if !fresh {
					if err := s.openRel(ctx, tx, conn, name, r, images, view); err != nil {
						return err
					}
				}
				s.rels[name] = r
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !fresh {
			return s.setCached(ctx, conn, commitID)
		}
		return nil
	})
	if err != nil {
		return Meta{}, s.errf(err, "postgres state %s: open", s)
	}
	if s.mirror == nil {
		return Meta{}, nil
	}
	m, err := s.mirrorMeta(ctx, conn)
	if err != nil {
		return Meta{}, s.errf(err, "postgres state %s: open", s)
	}
	m.Basis = basis // PostgreSQL's, whatever the local copy says
	m.Merchant = s.held
	return m, nil
}

// checkMerchant refuses the state when it records held and the store's merchant is another.
func (s *PgStore) checkMerchant(held string) error {
	return checkMerchant(s.String(), s.pipeline, held, s.merchant, "state.schema")
}

// SetMerchant implements Store: the pipelines row's merchant, in one fenced transaction (the lock is needed;
// no Open).
func (s *PgStore) SetMerchant(ctx context.Context, conn *sql.Conn, merchant string) (string, error) {
	var old string
	err := s.write(ctx, "record the merchant", s.fence, true, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, s.q(`SELECT merchant FROM {s}.pipelines WHERE pipeline = $1`), s.pipeline).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoState
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.q(`UPDATE {s}.pipelines SET merchant = $2 WHERE pipeline = $1`), s.pipeline, merchant)
		return err
	})
	if err != nil {
		return "", err
	}
	s.held = merchant
	return old, nil
}

// mirrorMeta reads the mirror's Meta (DuckStore.load, which finds the relations among the mirror's tables)
// and adds the relations the last Open made views of their images (viewImage).
func (s *PgStore) mirrorMeta(ctx context.Context, conn *sql.Conn) (Meta, error) {
	m, err := s.mirror.load(ctx, conn)
	if err != nil {
		return Meta{}, err
	}
	for name, n := range s.views {
		if src, ok := strings.CutPrefix(name, "src_"); ok {
			s.mirror.sources[src] = true
			continue
		}
		s.mirror.hasSnapshot = true
		if m.Columns, err = columns(ctx, conn, "st", name); err != nil {
			return Meta{}, err
		}
		m.Records = n
	}
	return m, nil
}

// SetBasis implements Store: the basis is kept in PostgreSQL (any worker's next run reads it), under the
// run's fence.
func (s *PgStore) SetBasis(ctx context.Context, conn *sql.Conn, basis string) error {
	return s.write(ctx, "record plan basis", s.fence, true, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`UPDATE {s}.pipelines SET basis = $2 WHERE pipeline = $1`), s.pipeline, basis)
		return err
	})
}

// LastSuccess implements Journal. It reads PostgreSQL directly (conn is not used, the snapshot is not copied).
// A state that records another merchant than the store's is refused (*MerchantError), as Open refuses it.
func (s *PgStore) LastSuccess(ctx context.Context, conn *sql.Conn) (time.Time, error) {
	c, err := s.data(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if ok, err := s.hasTables(ctx, c); !ok || err != nil {
		return time.Time{}, err
	}
	var t *time.Time
	var held *string
	// The row's merchant through to_jsonb: NULL in an installation not migrated to schema version 5 yet.
	if err := c.QueryRow(ctx, s.q(`SELECT (SELECT max(finished_at) FROM {s}.runs WHERE pipeline = $1 AND status = 'done'),
		(SELECT to_jsonb(p) ->> 'merchant' FROM {s}.pipelines p WHERE pipeline = $1)`), s.pipeline).Scan(&t, &held); err != nil {
		return time.Time{}, s.errf(err, "postgres state %s: read run journal", s)
	}
	if held != nil {
		if err := s.checkMerchant(*held); err != nil {
			return time.Time{}, err
		}
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// Runs implements Journal: the runs joined with the sums of each run's commits, newest first. It reads
// PostgreSQL directly (conn is not used).
func (s *PgStore) Runs(ctx context.Context, conn *sql.Conn, limit int) ([]RunEntry, error) {
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := s.hasTables(ctx, c); !ok || err != nil {
		return nil, err
	}
	q := `SELECT r.run_id, r.started_at, r.finished_at, coalesce(r.status, ''), coalesce(r.plan_hash, ''), coalesce(r.report, ''),
		count(j.serial), coalesce(max(j.serial), 0), coalesce(sum(j.acked), 0)::bigint, coalesce(sum(j.rejected), 0)::bigint
	FROM {s}.runs r LEFT JOIN {s}.journal j ON j.pipeline = r.pipeline AND j.run_id = r.run_id
	WHERE r.pipeline = $1
	GROUP BY r.run_id, r.started_at, r.finished_at, r.status, r.plan_hash, r.report
	ORDER BY r.started_at DESC NULLS LAST, r.run_id DESC`
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := c.Query(ctx, s.q(q), s.pipeline)
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read run journal", s)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RunEntry, error) {
		var e RunEntry
		var started, finished *time.Time
		var report string
		err := row.Scan(&e.ID, &started, &finished, &e.Status, &e.PlanHash, &report, &e.Commits, &e.Serial, &e.Acked, &e.Rejected)
		e.setTimesAndReport(started, finished, report)
		return e, err
	})
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read run journal", s)
	}
	return out, nil
}

// openRel fills mirror relation st.<name> from PostgreSQL: from its image and the changes since when it has a
// usable one, else by copying its table.
//
// With view (a plan on a worker whose mirror is not current: the relation is only read, and the file is not
// written), a relation opened from its image is a view over the image's file and the changes since (see
// viewImage).
func (s *PgStore) openRel(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel, images map[string]pgImage, view bool) error {
	if imageUsable(images, name, r) {
		img := images[name]
		load := s.loadImage
		if view {
			load = s.viewImage
		}
		ok, err := load(ctx, tx, conn, name, r, img)
		if err != nil {
			return err
		}
		if ok {
			s.fromImage++
			return nil
		}
	}
	s.fromCopy++
	return s.copyDown(ctx, tx, conn, name, r)
}

// imageUsable reports whether relation name (r) has an image in images that an open can read.
func imageUsable(images map[string]pgImage, name string, r pgRel) bool {
	img, ok := images[name]
	return ok && img.holds(r.Columns) && (img.Changed == 0 || len(img.Key) > 0)
}

// readRels reads the pipeline's relations; withRecords (schema version 3 on) reads their record counts too.
func (s *PgStore) readRels(ctx context.Context, tx pgx.Tx, withRecords bool) (map[string]pgRel, error) {
	records := "NULL::bigint"
	if withRecords {
		records = "records"
	}
	rows, err := tx.Query(ctx, s.q(`SELECT name, tbl, columns, `+records+` FROM {s}.relations WHERE pipeline = $1`), s.pipeline)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]pgRel{}
	for rows.Next() {
		var name string
		var r pgRel
		var cols []byte
		if err := rows.Scan(&name, &r.Table, &cols, &r.Records); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(cols, &r.Columns); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", name, err)
		}
		out[name] = r
	}
	return out, rows.Err()
}

// openMirror attaches the mirror as `st` and gives it meta's lineage, serial and export mark. While this
// store holds the lock, the mirror is a DuckDB file under dir kept between runs as a cache
// (<pipeline>.pgcache.duckdb): fresh is true when it already holds the snapshot and source records of the
// commit commitID, so that nothing needs to be copied. Otherwise (or without the lock) it is emptied (or
// in-memory) and the caller copies everything in.
//
// With inPlace (a plan, which never commits, of relations that all have a usable image) the file is used only
// when it is fresh: the relations are never written into it (writing a million records into the file costs
// more processor time than the rest of a cold open, and only pays when this worker's next run is warm). The
// mirror is then in memory, the caller makes the relations views of their images (viewImage), and the file
// is left as it was: it still names the commit it holds, so the next open finds it stale.
func (s *PgStore) openMirror(ctx context.Context, conn *sql.Conn, meta Meta, commitID string, inPlace bool) (fresh bool, err error) {
	s.mirror = &DuckStore{pipeline: s.pipeline, memory: true, sources: map[string]bool{}}
	if s.lockConn != nil && s.dir != "" && !(inPlace && s.noCache()) {
		s.mirror = &DuckStore{dir: s.dir, pipeline: s.pipeline, path: s.cachePath(), sources: map[string]bool{}}
		if _, err := s.mirror.Open(ctx, conn, false); err != nil {
			// An unreadable cache is only a cache: start it anew.
			_, _ = conn.ExecContext(ctx, "DETACH DATABASE IF EXISTS st")
			if rerr := os.Remove(s.cachePath()); rerr != nil {
				return false, fmt.Errorf("state cache %s: %w", s.cachePath(), err)
			}
			s.mirror = &DuckStore{dir: s.dir, pipeline: s.pipeline, path: s.cachePath(), sources: map[string]bool{}}
			if _, err := s.mirror.Open(ctx, conn, false); err != nil {
				return false, fmt.Errorf("state cache %s: %w", s.cachePath(), err)
			}
		}
		m, err := s.mirror.meta(ctx, conn)
		if err != nil {
			return false, err
		}
		fresh = commitID != "" && m["pg_commit"] == commitID
		switch {
		case !fresh && inPlace:
			// Stale: left as it is for the next run that commits, which refills it.
			if _, err := conn.ExecContext(ctx, "DETACH st"); err != nil {
				return false, fmt.Errorf("state cache %s: %w", s.cachePath(), err)
			}
			s.mirror = &DuckStore{pipeline: s.pipeline, memory: true, sources: map[string]bool{}}
			if _, err := s.mirror.Open(ctx, conn, false); err != nil {
				return false, err
			}
		case !fresh:
			tables, err := s.mirror.tables(ctx, conn)
			if err != nil {
				return false, err
			}
			for t := range tables {
				if t == "snapshot" || strings.HasPrefix(t, "src_") {
					if _, err := conn.ExecContext(ctx, "DROP TABLE st."+spec.QuoteIdent(t)); err != nil {
						return false, fmt.Errorf("state cache: %w", err)
					}
				}
			}
			s.mirror.hasSnapshot, s.mirror.sources = false, map[string]bool{}
			if err := s.setCached(ctx, conn, ""); err != nil {
				return false, err
			}
		}
	} else if _, err := s.mirror.Open(ctx, conn, false); err != nil {
		return false, err
	}
	return fresh, s.openMirrorMeta(ctx, conn, meta)
}

// noCache reports whether this worker has no mirror file (nothing for a plan to check).
func (s *PgStore) noCache() bool {
	_, err := os.Stat(s.cachePath())
	return errors.Is(err, os.ErrNotExist)
}

// mirrorWrites runs f, which fills the mirror, with DuckDB writing new table data uncompressed when the
// mirror is a file: compressing a relation as it is written costs twice the processor time of the rest of
// its load (1M records of the plan benchmark: some 2.4 s against 1.1 s), and the file is only a cache of
// PostgreSQL (five times larger: about 140 bytes a record). A DuckDB without the setting (it is a debug
// setting) just compresses.
func (s *PgStore) mirrorWrites(ctx context.Context, conn *sql.Conn, f func() error) error {
	if s.mirror == nil || s.mirror.memory {
		return f()
	}
	if _, err := conn.ExecContext(ctx, "SET force_compression = 'uncompressed'"); err != nil {
		return f()
	}
	err := f()
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "RESET force_compression"); rerr != nil && err == nil {
		err = fmt.Errorf("state mirror: %w", rerr)
	}
	return err
}

// cachePath is the file of the mirror kept between runs.
func (s *PgStore) cachePath() string { return filepath.Join(s.dir, s.pipeline+".pgcache.duckdb") }

// setCached records which PostgreSQL commit the mirror holds ("" while it may be ahead of or behind it).
func (s *PgStore) setCached(ctx context.Context, conn *sql.Conn, commitID string) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM st.meta WHERE k = 'pg_commit'"); err != nil {
		return fmt.Errorf("state cache: %w", err)
	}
	if commitID == "" {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO st.meta VALUES ('pg_commit', ?)", commitID); err != nil {
		return fmt.Errorf("state cache: %w", err)
	}
	return nil
}

// spillDir is where bulk copies go through (created if missing).
func (s *PgStore) spillDir() string {
	dir := s.dir
	if dir == "" {
		dir = os.TempDir()
	}
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// fifo makes a named pipe in a folder of its own under the spill folder, for one bulk copy; remove the
// folder (the returned dir) when done.
func (s *PgStore) fifo(name string) (dir, path string, err error) {
	dir, err = os.MkdirTemp(s.spillDir(), "pgcopy-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, path, nil
}

type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// copyDown copies a PostgreSQL relation into the mirror table st.<name>, typed as r.Columns.
func (s *PgStore) copyDown(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, r pgRel) error {
	q := fmt.Sprintf("SELECT %s FROM %s", strings.Join(quoteAll(names(r.Columns)), ", "), pgx.Identifier{s.schema, r.Table}.Sanitize())
	return s.copyQueryDown(ctx, tx, conn, name, "CREATE TABLE st."+spec.QuoteIdent(name), q, r.Columns)
}

// copyQueryDown creates a DuckDB table (create is "CREATE TABLE <name>" or "CREATE TEMP TABLE <name>") from
// the rows of a PostgreSQL query (text columns), typed as cols (one per column of the query, in order).
// Errors name what is copied.
// PostgreSQL's COPY … TO STDOUT streams through a named pipe into DuckDB's CSV reader, so that both run at
// once and nothing is written to disk on the way.
func (s *PgStore) copyQueryDown(ctx context.Context, tx pgx.Tx, conn *sql.Conn, what, create, pgQuery string, cols []Column) error {
	csvCols := make([]string, len(cols))
	casts := make([]string, len(cols))
	for i, c := range cols {
		// Scalars are parsed by the CSV reader itself (much faster than a cast from VARCHAR, for decimals
		// above all); nested types and blobs are read as text and cast.
		q := spec.QuoteIdent(c.Name)
		switch {
		case wideDecimal(c.Type):
			// DuckDB parses a decimal wider than 18 digits (a HUGEINT inside) from text some 30 times slower
			// than a double; a value of at most 15 characters has at most 15 digits, which a double holds
			// exactly, so those go through DOUBLE and only longer ones take the slow exact cast.
			csvCols[i] = spec.QuoteString(c.Name) + ": 'VARCHAR'"
			casts[i] = fmt.Sprintf("CASE WHEN length(%s) <= 15 THEN CAST(CAST(%s AS DOUBLE) AS %s) ELSE CAST(%s AS %s) END AS %s",
				q, q, c.Type, q, c.Type, q)
		case csvCast(c.Type):
			csvCols[i] = spec.QuoteString(c.Name) + ": 'VARCHAR'"
			casts[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", q, c.Type, q)
		default:
			csvCols[i] = spec.QuoteString(c.Name) + ": " + spec.QuoteString(c.Type)
			casts[i] = q
		}
	}
	dir, fifo, err := s.fifo("copy.csv")
	if err != nil {
		return fmt.Errorf("copy %s from postgres: %w", what, err)
	}
	defer os.RemoveAll(dir)
	q := fmt.Sprintf("COPY (%s) TO STDOUT (FORMAT csv)", pgQuery)
	done := make(chan error, 1)
	var n int64
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for DuckDB to open the other end
		if err != nil {
			done <- err
			return
		}
		_, err = tx.Conn().PgConn().CopyTo(ctx, countingWriter{w, &n}, q)
		done <- errors.Join(err, w.Close())
	}()
	dq := fmt.Sprintf(`%s AS SELECT %s FROM read_csv(%s, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, columns = {%s})`,
		create, strings.Join(casts, ", "), spec.QuoteString(fifo), strings.Join(csvCols, ", "))
	_, derr := conn.ExecContext(ctx, dq)
	var werr error
	if derr != nil {
		// DuckDB may have failed before opening the pipe, or stopped reading: drain it so that the writer is
		// never left blocked.
		werr = drainFifo(fifo, done)
	} else {
		werr = <-done
	}
	s.in += n
	if derr != nil { // the writer's error is then only the closed pipe
		return fmt.Errorf("load %s into the planner: %w", what, derr)
	}
	if werr != nil {
		// A COPY cut short ends the pipe early: DuckDB's table then lacks rows, and the open fails.
		return fmt.Errorf("copy %s from postgres: %w", what, werr)
	}
	return nil
}

// drainFifo reads and discards what a writer sends into fifo until the writer reports on done, whether or
// not it has opened the pipe yet (holding the reading end open lets its open return), and returns its error.
func drainFifo(fifo string, done <-chan error) error {
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0) // never blocks
	if err != nil {
		return <-done // the writer is past its open (the pipe is there until our caller removes it)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	for {
		select {
		case err := <-done:
			return err
		default:
		}
		if n, _ := r.Read(buf); n == 0 { // no writer yet, or nothing written yet (EAGAIN)
			select {
			case err := <-done:
				return err
			case <-time.After(time.Millisecond):
			}
		}
	}
}

// wideDecimal is true for DECIMAL(w,s) with w > 18 (not for a list of them: that is read as text and cast).
func wideDecimal(typ string) bool {
	var w, sc int
	t := strings.ToUpper(typ)
	_, err := fmt.Sscanf(t, "DECIMAL(%d,%d)", &w, &sc)
	return err == nil && w > 18 && t == fmt.Sprintf("DECIMAL(%d,%d)", w, sc)
}

// csvCast is true for the types DuckDB's CSV reader does not parse itself: they are read as text and cast.
func csvCast(typ string) bool {
	t := strings.ToUpper(typ)
	return strings.ContainsAny(t, "[(<") && !strings.HasPrefix(t, "DECIMAL") && !strings.HasPrefix(t, "NUMERIC") ||
		strings.HasPrefix(t, "STRUCT") || strings.HasPrefix(t, "MAP") || strings.HasPrefix(t, "UNION") ||
		t == "BLOB" || t == "BYTEA" || t == "JSON"
}

// copyUp copies the rows of a DuckDB query (every column cast to text) into a PostgreSQL table's columns and
// returns how many it copied. DuckDB writes them as CSV into a named pipe that PostgreSQL's COPY … FROM
// STDIN reads at the same time: nothing is written to disk on the way.
func (s *PgStore) copyUp(ctx context.Context, tx pgx.Tx, conn *sql.Conn, query, target string, cols []string) (int64, error) {
	dir, fifo, err := s.fifo("copy.csv")
	if err != nil {
		return 0, fmt.Errorf("copy rows to postgres: %w", err)
	}
	defer os.RemoveAll(dir)
	qc := make([]string, len(cols))
	for i, c := range cols {
		qc[i] = pgx.Identifier{c}.Sanitize()
	}
	type result struct {
		rows int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := os.Open(fifo) // waits for DuckDB to open the other end
		if err != nil {
			done <- result{err: err}
			return
		}
		defer r.Close()
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, countingReader{r, &s.out},
			fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT csv)", target, strings.Join(qc, ", ")))
		if err != nil {
			// PostgreSQL stopped reading: drain the pipe so that DuckDB's COPY ends rather than blocks.
			_, _ = io.Copy(io.Discard, r)
		}
		done <- result{tag.RowsAffected(), err}
	}()
	// USE_TMP_FILE false: the pipe exists, and DuckDB would otherwise write beside it and rename over it.
	_, derr := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT csv, HEADER false, USE_TMP_FILE false)", query, spec.QuoteString(fifo)))
	var res result
	if derr != nil {
		// DuckDB may have failed before opening the pipe: open and close its writing end so that the reader
		// sees the end of its input rather than waits forever (its COPY is then rolled back with the
		// transaction, as the error is returned).
		for res.err == nil {
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close() // the reader is in (or past) its open: it now reads the end of the input
				res = <-done
				break
			}
			select { // ENXIO: the reader has not reached its open yet
			case res = <-done:
			case <-time.After(time.Millisecond):
			}
		}
	} else {
		res = <-done
	}
	if derr != nil {
		return 0, fmt.Errorf("spill rows for postgres: %w", derr)
	}
	if res.err != nil {
		return 0, fmt.Errorf("copy rows to postgres: %w", res.err)
	}
	return res.rows, nil
}

// textCols selects cols of a DuckDB relation cast to text.
func textCols(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = fmt.Sprintf("CAST(%s AS VARCHAR) AS %s", spec.QuoteIdent(c.Name), spec.QuoteIdent(c.Name))
	}
	return out
}

func names(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// tableFor names the PostgreSQL table of a pipeline's relation.
func (s *PgStore) tableFor(name string) string {
	h := sha256.Sum256([]byte(s.pipeline + "\x00" + name))
	prefix := "snap_"
	if strings.HasPrefix(name, "src_") {
		prefix = "src_"
	}
	return prefix + hex.EncodeToString(h[:10])
}

// sendRel sends a commit's changes of mirror relation st.<name> to PostgreSQL, inside the commit's
// transaction tx: by merging them (mergeRel) when PostgreSQL holds the relation with the mirror's columns,
// else by rewriting its table (replaceRel). newKeys is Commit.NewKeys (creates of keys the relation does not
// hold; only with op).
func (s *PgStore) sendRel(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name, changes, op string, key []string, serial int64, newKeys bool) error {
	cols, err := columns(ctx, conn, "st", name)
	if err != nil {
		return err
	}
	if r, ok := s.rels[name]; ok && sameColumns(r.Columns, cols) {
		return s.mergeRel(ctx, tx, conn, name, changes, op, key, serial, newKeys)
	}
	return s.replaceRel(ctx, tx, conn, name, cols, key, serial)
}

// replaceRel (re)creates the PostgreSQL table of a mirror relation with its current columns cols, copies
// the whole relation into it, indexes it on key (when given) for the commits that follow, and writes the
// relation's image as of serial (the serial the transaction leaves).
func (s *PgStore) replaceRel(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name string, cols []Column, key []string, serial int64) error {
	r := pgRel{Table: s.tableFor(name), Columns: cols}
	tbl := pgx.Identifier{s.schema, r.Table}.Sanitize()
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = pgx.Identifier{c.Name}.Sanitize() + " text"
	}
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+tbl); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", tbl, strings.Join(defs, ", "))); err != nil {
		return err
	}
	if _, err := s.copyUp(ctx, tx, conn, fmt.Sprintf("SELECT %s FROM st.%s", strings.Join(textCols(cols), ", "), spec.QuoteIdent(name)), tbl, names(cols)); err != nil {
		return err
	}
	if len(key) > 0 {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", s.keyIndex(r.Table, key), tbl, strings.Join(quoteAll(key), ", "))); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(cols)
	if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.relations (pipeline, name, tbl, columns) VALUES ($1, $2, $3, $4)
		ON CONFLICT (pipeline, name) DO UPDATE SET tbl = excluded.tbl, columns = excluded.columns`), s.pipeline, name, r.Table, b); err != nil {
		return err
	}
	s.rels[name] = r
	return s.writeImage(ctx, tx, conn, name, cols, key, serial, true)
}

// mergeRel sends the rows of a DuckDB relation of changes to the PostgreSQL table of a mirror relation:
// every row whose key matches one of them is deleted, and those whose op (when op is not "") is not
// 'delete' are inserted. With newKeys (Commit.NewKeys) the creates' keys are known not to be there: only the
// other rows' keys are looked up (a first sync's commits then delete nothing, rather than join each batch
// with the growing table). The same rows go to the relation's changes since its image, with serial (the
// serial the transaction leaves), or the image is rewritten (see imageDue).
func (s *PgStore) mergeRel(ctx context.Context, tx pgx.Tx, conn *sql.Conn, name, changes, op string, key []string, serial int64, newKeys bool) error {
	r := s.rels[name]
	tbl := pgx.Identifier{s.schema, r.Table}.Sanitize()
	tmp := pgx.Identifier{"possync_changes"}.Sanitize()
	defs := make([]string, 0, len(r.Columns)+1)
	sel := textCols(r.Columns)
	cols := names(r.Columns)
	if op != "" {
		defs = append(defs, `"__op" text`)
		sel = append([]string{op}, sel...)
		cols = append([]string{"__op"}, cols...)
	}
	for _, c := range r.Columns {
		defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" text")
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", tmp, strings.Join(defs, ", "))); err != nil {
		return err
	}
	n, err := s.copyUp(ctx, tx, conn, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), changes), tmp, cols)
	if err != nil {
		return err
	}
	idx := s.keyIndex(r.Table, key)
	where, removed := "", ""
	if op != "" {
		where = ` WHERE "__op" <> 'delete'`
		if newKeys {
			removed = ` AND c."__op" <> 'create'`
		}
	}
	qcols := strings.Join(quoteAll(names(r.Columns)), ", ")
	for _, q := range []string{
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", idx, tbl, strings.Join(quoteAll(key), ", ")),
		"ANALYZE " + tmp,
		fmt.Sprintf("DELETE FROM %s s USING %s c WHERE %s%s", tbl, tmp, pgKeysEqual(key, "s", "c"), removed),
		fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s", tbl, qcols, qcols, tmp, where),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("merge %s: %w", name, err)
		}
	}
	img, ok, err := s.readImage(ctx, tx, name)
	if err != nil {
		return err
	}
	if !ok || !img.extends(r.Columns, key) || s.imageDue(name, img, n) {
		if err := s.writeImage(ctx, tx, conn, name, r.Columns, key, serial, !ok || !img.holds(r.Columns)); err != nil {
			return fmt.Errorf("merge %s: %w", name, err)
		}
	} else {
		opCol := "'upsert'"
		if op != "" {
			opCol = `"__op"`
		}
		chg := pgx.Identifier{s.schema, s.changesTable(name)}.Sanitize()
		records, err := s.mirrorCount(ctx, conn, name)
		if err != nil {
			return err
		}
		if err := execAll(ctx, tx, "merge "+name, []pgStmt{
			{fmt.Sprintf(`INSERT INTO %s ("__serial", "__op", %s) SELECT %d, %s, %s FROM %s`, chg, qcols, serial, opCol, qcols, tmp), nil},
			{s.q(`UPDATE {s}.images SET changed = changed + $3 WHERE pipeline = $1 AND name = $2`), []any{s.pipeline, name, n}},
			{s.q(`UPDATE {s}.relations SET records = $3 WHERE pipeline = $1 AND name = $2`), []any{s.pipeline, name, records}},
		}); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+tmp); err != nil {
		return fmt.Errorf("merge %s: %w", name, err)
	}
	return nil
}

// keyIndex names the index of table on key.
func (s *PgStore) keyIndex(table string, key []string) string {
	kh := sha256.Sum256([]byte(strings.Join(key, "\x00")))
	return pgx.Identifier{table + "_key_" + hex.EncodeToString(kh[:4])}.Sanitize()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = pgx.Identifier{s}.Sanitize()
	}
	return out
}

func pgKeysEqual(key []string, a, b string) string {
	on := make([]string, len(key))
	for i, k := range key {
		q := pgx.Identifier{k}.Sanitize()
		on[i] = a + "." + q + " = " + b + "." + q
	}
	return strings.Join(on, " AND ")
}

func sameColumns(a, b []Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fenced checks, inside tx, that this run still holds the pipeline: the lock row carries its fencing token
// (locked FOR UPDATE until tx ends, so a newer Lock waits for it) and, with alive, that its lock session
// still holds the advisory lock.
func (s *PgStore) fenced(ctx context.Context, tx pgx.Tx, fence int64, alive bool) error {
	if fence == 0 {
		return &LockLostError{Pipeline: s.pipeline, Reason: "this run does not hold the lock"}
	}
	k := uint64(s.lockKey())
	var cur int64
	var held bool
	err := tx.QueryRow(ctx, s.q(`SELECT l.fence, EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted
		AND k.pid = l.backend_pid AND k.classid::bigint = $2 AND k.objid::bigint = $3 AND k.objsubid = 1)
		FROM {s}.locks l WHERE l.pipeline = $1 FOR UPDATE`), s.pipeline, int64(k>>32), int64(k&0xffffffff)).Scan(&cur, &held)
	if errors.Is(err, pgx.ErrNoRows) {
		return &LockLostError{Pipeline: s.pipeline, Fence: fence, Reason: "the lock row is gone"}
	}
	if err != nil {
		return err
	}
	if cur != fence {
		return &LockLostError{Pipeline: s.pipeline, Fence: fence, Current: cur, Reason: "a newer run took the lock"}
	}
	if alive && !held {
		return &LockLostError{Pipeline: s.pipeline, Fence: fence, Current: cur, Reason: "the lock's database session is gone"}
	}
	return nil
}

// write runs f in a transaction that first checks the fence (see fenced).
func (s *PgStore) write(ctx context.Context, what string, fence int64, alive bool, f func(tx pgx.Tx) error) error {
	if s.broken != nil {
		return s.broken
	}
	c, err := s.data(ctx)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if err := s.fenced(ctx, tx, fence, alive); err != nil {
			return err
		}
		return f(tx)
	})
	if err != nil {
		var lost *LockLostError
		if !errors.As(err, &lost) && ctx.Err() == nil && connectionLost(c, err) {
			// The session was terminated or the network cut: a partitioned worker must exit like one that
			// lost its lock (75, retry later), never as a plain failure.
			err = &LockLostError{Pipeline: s.pipeline, Fence: fence, Reason: s.redact.Redact(err.Error()), Disconnected: true}
		}
		return s.errf(err, "postgres state %s: %s", s, what)
	}
	return nil
}

// connectionLost reports whether err ended c's session: the server terminated it (SQLSTATE class 57,
// operator intervention: pg_terminate_backend, a shutdown) or the connection is closed (network).
func connectionLost(c *pgx.Conn, err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "57") {
		return true
	}
	return c.IsClosed()
}

// Snapshot implements Store.
func (s *PgStore) Snapshot() string {
	if s.mirror == nil {
		return ""
	}
	return s.mirror.Snapshot()
}

// SourceSnapshot implements Store.
func (s *PgStore) SourceSnapshot(source string) string {
	if s.mirror == nil {
		return ""
	}
	return s.mirror.SourceSnapshot(source)
}

// Checkpoint implements Store.
func (s *PgStore) Checkpoint(ctx context.Context, conn *sql.Conn, source string) ([]byte, error) {
	if s.mirror == nil {
		return nil, nil
	}
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = c.QueryRow(ctx, s.q(`SELECT value FROM {s}.checkpoints WHERE pipeline = $1 AND source = $2`), s.pipeline, source).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read checkpoint of %s", s, source)
	}
	return v, nil
}

// Intents implements Store: a row each, and a packed row's IDs each (AddIntentIDs), in the order recorded
// (a packed row a commit settled in part counts as recorded by that commit: settleIntents).
// An installation before schema version 4 (opened read-only, so not migrated) has row intents only.
func (s *PgStore) Intents(ctx context.Context, conn *sql.Conn) ([]Intent, error) {
	if s.mirror == nil {
		return nil, nil
	}
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	q := `SELECT id, run_id, change, ids FROM {s}.intents WHERE pipeline = $1 ORDER BY seq`
	if s.ver < 4 {
		q = `SELECT id, run_id, change, NULL::bytea FROM {s}.intents WHERE pipeline = $1 ORDER BY seq`
	}
	rows, err := c.Query(ctx, s.q(q), s.pipeline)
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read intents", s)
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var id sql.NullString
		var run, ch string
		var ids []byte
		if err := rows.Scan(&id, &run, &ch, &ids); err != nil {
			return nil, s.errf(err, "postgres state %s: read intents", s)
		}
		if out, err = appendIntents(out, id, run, ch, ids); err != nil {
			return nil, fmt.Errorf("postgres state %s: read intents: %w", s, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.errf(err, "postgres state %s: read intents", s)
	}
	return out, nil
}

// AddIntents implements Store.
func (s *PgStore) AddIntents(ctx context.Context, conn *sql.Conn, relation string) error {
	return s.write(ctx, "record intents", s.fence, true, func(tx pgx.Tx) error {
		_, err := s.copyUp(ctx, tx, conn, fmt.Sprintf("SELECT %s, id, run_id, change FROM %s", spec.QuoteString(s.pipeline), relation),
			s.q("{s}.intents"), []string{"pipeline", "id", "run_id", "change"})
		return err
	})
}

// AddIntentIDs implements Store: one row, committed before it returns.
func (s *PgStore) AddIntentIDs(ctx context.Context, conn *sql.Conn, runID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, "record intents", s.fence, true, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.intents (pipeline, id, run_id, change, ids, n) VALUES ($1, NULL, $2, '', $3, $4)`),
			s.pipeline, runID, packIDs(ids), len(ids))
		return err
	})
}

// BeginRun implements Store.
func (s *PgStore) BeginRun(ctx context.Context, conn *sql.Conn, r Run) error {
	return s.write(ctx, "journal run", s.fence, true, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.runs (pipeline, run_id, started_at, status, plan_hash) VALUES ($1, $2, $3, 'applying', $4)
			ON CONFLICT (pipeline, run_id) DO UPDATE SET started_at = excluded.started_at, status = excluded.status, plan_hash = excluded.plan_hash`),
			s.pipeline, r.ID, r.StartedAt, r.PlanHash)
		return err
	})
}

// FinishRun implements Store. The runner calls it after releasing the lock, so it checks only that no newer
// run took the lock since.
func (s *PgStore) FinishRun(ctx context.Context, conn *sql.Conn, r Run) error {
	fence := s.fence
	if fence == 0 {
		fence = s.lastFence
	}
	return s.write(ctx, "journal run", fence, false, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`UPDATE {s}.runs SET finished_at = $3, status = $4, report = $5, plan_hash = coalesce(nullif($6, ''), plan_hash)
			WHERE pipeline = $1 AND run_id = $2`), s.pipeline, r.ID, r.FinishedAt, r.Status, string(r.Report), r.PlanHash)
		return err
	})
}

// MarkExported implements Store.
func (s *PgStore) MarkExported(ctx context.Context, conn *sql.Conn, serial int64, stamp string) error {
	if s.mirror == nil {
		return fmt.Errorf("postgres state %s: record export before open", s)
	}
	err := s.write(ctx, "record export", s.fence, true, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`UPDATE {s}.pipelines SET exported = $2, export_stamp = $3 WHERE pipeline = $1`), s.pipeline, serial, stamp)
		return err
	})
	if err != nil {
		return err
	}
	return s.mirror.MarkExported(ctx, conn, serial, stamp)
}

// Commit implements Store. The commit is applied to the mirror first (in DuckDB, where the diff's relations
// are), then sent to PostgreSQL in one fenced transaction; if that fails the store refuses further writes
// (the mirror is then ahead of PostgreSQL, which stays the truth for the next run).
func (s *PgStore) Commit(ctx context.Context, conn *sql.Conn, c *Commit) (Meta, error) {
	if s.broken != nil {
		return Meta{}, s.broken
	}
	if s.mirror == nil {
		return Meta{}, fmt.Errorf("postgres state %s: commit before open", s)
	}
	if s.fence == 0 {
		return Meta{}, &LockLostError{Pipeline: s.pipeline, Reason: "commit without the run lock"}
	}
	prevSerial, err := s.mirrorSerial(ctx, conn)
	if err != nil {
		return Meta{}, err
	}
	if err := s.setCached(ctx, conn, ""); err != nil {
		return Meta{}, err
	}
	// The mirror holds no intents (they are PostgreSQL's alone): it has none to settle.
	mc := *c
	mc.Resolved, mc.ResolvesAll = nil, false
	m, err := s.mirror.Commit(ctx, conn, &mc)
	if err != nil {
		return Meta{}, err
	}
	commitID := newID()
	err = s.write(ctx, "commit", s.fence, true, func(tx pgx.Tx) error {
		if c.Changes != "" {
			if err := s.sendRel(ctx, tx, conn, "snapshot", c.Changes, `"__op"`, c.Key, prevSerial+1, c.NewKeys); err != nil {
				return err
			}
		}
		for name, d := range c.Sources {
			if err := s.sendRel(ctx, tx, conn, "src_"+name, d.Relation, "", d.Key, prevSerial+1, false); err != nil {
				return err
			}
		}
		var serial int64
		// A state that records no merchant (written before merchants were recorded) takes the store's with
		// the first commit of changes the sink acknowledged (as DuckStore.Commit).
		adopt := ""
		if c.Acked > 0 {
			adopt = s.merchant
		}
		err := tx.QueryRow(ctx, s.q(`UPDATE {s}.pipelines SET serial = serial + 1, commit_id = $3,
			merchant = CASE WHEN merchant = '' THEN $4 ELSE merchant END WHERE pipeline = $1 AND serial = $2 RETURNING serial`),
			s.pipeline, prevSerial, commitID, adopt).Scan(&serial)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("the serial moved past %d under this run", prevSerial)
		}
		if err != nil {
			return err
		}
		for src, cp := range c.Checkpoints {
			if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.checkpoints VALUES ($1, $2, $3, $4)
				ON CONFLICT (pipeline, source) DO UPDATE SET value = excluded.value, serial = excluded.serial`), s.pipeline, src, cp, serial); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.journal VALUES ($1, $2, $3, now(), $4, $5)`),
			s.pipeline, serial, c.RunID, c.Acked, c.Rejected); err != nil {
			return err
		}
		if len(c.Resolved) > 0 {
			return s.settleIntents(ctx, tx, c)
		}
		return nil
	})
	if err != nil {
		s.broken = err
		return Meta{}, err
	}
	if err := s.setCached(ctx, conn, commitID); err != nil {
		return Meta{}, err
	}
	if s.held == "" && c.Acked > 0 {
		s.held = s.merchant
	}
	m.Merchant = s.held
	return m, nil
}

// settleIntents removes the intents c settles (c.Resolved) in tx, as DuckStore.settleIntents does: all of
// the pipeline's at once when c settles every one (Commit.ResolvesAll, checked by their number: a row each,
// a packed row its n), else row intents by ID and packed rows holding a settled ID rewritten without it.
func (s *PgStore) settleIntents(ctx context.Context, tx pgx.Tx, c *Commit) error {
	if c.ResolvesAll {
		tag, err := tx.Exec(ctx, s.q(`WITH n AS (SELECT count(id) + coalesce(sum(n), 0) AS n FROM {s}.intents WHERE pipeline = $1)
			DELETE FROM {s}.intents WHERE pipeline = $1 AND (SELECT n FROM n) = $2`), s.pipeline, len(c.Resolved))
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
	}
	if _, err := tx.Exec(ctx, s.q(`DELETE FROM {s}.intents WHERE pipeline = $1 AND id = ANY($2)`), s.pipeline, c.Resolved); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, s.q(`SELECT seq, run_id, ids FROM {s}.intents WHERE pipeline = $1 AND ids IS NOT NULL ORDER BY seq FOR UPDATE`), s.pipeline)
	if err != nil {
		return err
	}
	type packedRow struct {
		seq  int64
		run  string
		keep []string
	}
	var changed []packedRow
	resolved := make(map[string]bool, len(c.Resolved))
	for _, id := range c.Resolved {
		resolved[id] = true
	}
	for rows.Next() {
		var r packedRow
		var ids []byte
		if err := rows.Scan(&r.seq, &r.run, &ids); err != nil {
			rows.Close()
			return err
		}
		keep, ch, err := settlePacked(ids, resolved)
		if err != nil {
			rows.Close()
			return fmt.Errorf("intents of run %s: %w", r.run, err)
		}
		if ch {
			r.keep = keep
			changed = append(changed, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range changed {
		if _, err := tx.Exec(ctx, s.q(`DELETE FROM {s}.intents WHERE pipeline = $1 AND seq = $2`), s.pipeline, r.seq); err != nil {
			return err
		}
		if len(r.keep) > 0 {
			if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.intents (pipeline, id, run_id, change, ids, n) VALUES ($1, NULL, $2, '', $3, $4)`),
				s.pipeline, r.run, packIDs(r.keep), len(r.keep)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *PgStore) mirrorSerial(ctx context.Context, conn *sql.Conn) (int64, error) {
	var v string
	if err := conn.QueryRowContext(ctx, `SELECT v FROM st.meta WHERE k = 'serial'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("state mirror: %w", err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// Lock implements Store: a session-level advisory lock on a connection of its own, and a new fencing token
// in the lock table with the holder's details. A held lock returns *LockedError naming the holder.
func (s *PgStore) Lock(h Holder) (func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func() error, error) {
		_ = c.Close(context.Background())
		return nil, s.errf(err, "postgres state %s: lock", s)
	}
	if err := s.ensureSchema(ctx, c); err != nil {
		return fail(err)
	}
	var got bool
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", s.lockKey()).Scan(&got); err != nil {
		return fail(err)
	}
	if !got {
		le := &LockedError{Pipeline: s.pipeline}
		_ = c.QueryRow(ctx, s.q(`SELECT host, pid, run_id, started_at FROM {s}.locks WHERE pipeline = $1`), s.pipeline).
			Scan(&le.Holder.Host, &le.Holder.PID, &le.Holder.RunID, &le.Holder.StartedAt)
		return fail(le)
	}
	var fence int64
	// A new token, and the runs still journaled as applying marked interrupted, at once: from this token on
	// they can write nothing more (FinishRun included), so none of them will ever finish.
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, s.q(`INSERT INTO {s}.locks (pipeline, fence, host, pid, run_id, started_at, backend_pid)
			VALUES ($1, 1, $2, $3, $4, $5, pg_backend_pid())
			ON CONFLICT (pipeline) DO UPDATE SET fence = locks.fence + 1, host = excluded.host, pid = excluded.pid,
				run_id = excluded.run_id, started_at = excluded.started_at, backend_pid = excluded.backend_pid, locked_at = now()
			RETURNING fence`), s.pipeline, h.Host, h.PID, h.RunID, h.StartedAt).Scan(&fence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.q(`UPDATE {s}.runs SET status = $2 WHERE pipeline = $1 AND status = 'applying'`), s.pipeline, StatusInterrupted)
		return err
	})
	if err != nil {
		return fail(err)
	}
	s.lockConn, s.fence, s.lastFence = c, fence, fence
	return func() error {
		if s.lockConn != c {
			return nil
		}
		s.lockConn, s.fence = nil, 0
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Closing the session releases the advisory lock too; unlocking first is only tidier.
		_, _ = c.Exec(ctx, "SELECT pg_advisory_unlock($1)", s.lockKey())
		return c.Close(ctx)
	}, nil
}

// Fence is the fencing token of the lock this store holds (0: none).
func (s *PgStore) Fence() int64 { return s.fence }

// LockBackendPID is the PostgreSQL backend pid of the lock's session (0 when not locked): tests and
// operators terminate it to simulate a lost lock.
func (s *PgStore) LockBackendPID() uint32 {
	if s.lockConn == nil {
		return 0
	}
	return s.lockConn.PgConn().PID()
}
