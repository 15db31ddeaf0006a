package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Diagnosis is what `possync check` found about a pipeline's PostgreSQL state, without taking its lock or
// writing anything.
type Diagnosis struct {
	// Server names the server by host, port, user and database (RedactURL); Schema the installation's schema.
	Server string `json:"server"`
	Schema string `json:"schema"`
	// Version is the schema's layout version, 0 when the schema is not created yet (the first run creates
	// it). Known is the version this possync writes (SchemaVersion).
	Version int `json:"schema_version"`
	Known   int `json:"known_version"`
	// CanCreate tells, when the schema is not there yet, whether the role may create it (CREATE on the
	// database); once it is there, whether the role may use it (USAGE and CREATE on the schema).
	CanCreate bool `json:"can_create"`
	// Serial is the pipeline's state serial (0: no state yet).
	Serial int64 `json:"serial"`
	// Holder is the run holding the pipeline's lock, nil when none does.
	Holder *Holder `json:"holder,omitempty"`
}

// String is the diagnosis on one line, for `possync check`.
func (d *Diagnosis) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, schema %s", d.Server, d.Schema)
	switch {
	case d.Version == 0 && d.CanCreate:
		b.WriteString(": not created yet (the first run creates it)")
	case d.Version == 0:
		b.WriteString(": not created yet, and this role may not create it (grant it CREATE on the database, or create the schema for it)")
	case d.Version < d.Known:
		fmt.Fprintf(&b, " version %d (the next run migrates it to %d)", d.Version, d.Known)
	default:
		fmt.Fprintf(&b, " version %d", d.Version)
	}
	if d.Version > 0 && !d.CanCreate {
		b.WriteString("; this role lacks USAGE or CREATE on the schema")
	}
	if d.Version > 0 {
		if d.Serial > 0 {
			fmt.Fprintf(&b, "; serial %d", d.Serial)
		} else {
			b.WriteString("; no state of this pipeline yet")
		}
	}
	if h := d.Holder; h != nil {
		fmt.Fprintf(&b, "; locked by run %s (pid %d on %s, since %s)", h.RunID, h.PID, h.Host, h.StartedAt.UTC().Format(time.RFC3339))
	} else if d.Version > 0 {
		b.WriteString("; not locked")
	}
	return b.String()
}

// OK reports whether a run could use the state as diagnosed (a held lock is not a fault: the run would exit
// 75 and be retried).
func (d *Diagnosis) OK() bool { return d.CanCreate && d.Version <= d.Known }

// Diagnose connects to the pipeline's PostgreSQL state and reports its schema version, whether the role may
// use it, the pipeline's serial and the holder of its lock. It takes no lock and writes nothing. A schema
// of a newer possync is an error (*NewerSchemaError), as it is for a run; so is a failed connection (its
// message masks the password).
func (s *PgStore) Diagnose(ctx context.Context) (*Diagnosis, error) {
	d := &Diagnosis{Server: RedactURL(s.url), Schema: s.schema, Known: SchemaVersion}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	err = pgx.BeginTxFunc(ctx, c, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var meta, pipes, locks *string
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text, to_regclass($2)::text, to_regclass($3)::text`,
			pgx.Identifier{s.schema, "possync_meta"}.Sanitize(), pgx.Identifier{s.schema, "pipelines"}.Sanitize(),
			pgx.Identifier{s.schema, "locks"}.Sanitize()).Scan(&meta, &pipes, &locks); err != nil {
			return err
		}
		if meta == nil {
			return tx.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE')`).Scan(&d.CanCreate)
		}
		var v string
		err := tx.QueryRow(ctx, s.q(`SELECT v FROM {s}.possync_meta WHERE k = 'schema_version'`)).Scan(&v)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		d.Version, _ = strconv.Atoi(v)
		if d.Version > SchemaVersion {
			return &NewerSchemaError{Schema: s.schema, Version: d.Version}
		}
		if err := tx.QueryRow(ctx, `SELECT has_schema_privilege($1, 'USAGE') AND has_schema_privilege($1, 'CREATE')`, s.schema).Scan(&d.CanCreate); err != nil {
			return err
		}
		if pipes != nil {
			if err := tx.QueryRow(ctx, s.q(`SELECT coalesce(max(serial), 0) FROM {s}.pipelines WHERE pipeline = $1`), s.pipeline).Scan(&d.Serial); err != nil {
				return err
			}
		}
		if locks == nil {
			return nil
		}
		// The lock is held when a session holds the advisory lock; the locks row names the run that took it
		// (when that session is the one recorded there).
		k := uint64(s.lockKey())
		var host, runID *string
		var pid *int32
		var started *time.Time
		err = tx.QueryRow(ctx, s.q(`SELECT l.host, l.pid, l.run_id, l.started_at FROM pg_locks k
			LEFT JOIN {s}.locks l ON l.pipeline = $1 AND l.backend_pid = k.pid
			WHERE k.locktype = 'advisory' AND k.granted AND k.classid::bigint = $2 AND k.objid::bigint = $3 AND k.objsubid = 1`),
			s.pipeline, int64(k>>32), int64(k&0xffffffff)).Scan(&host, &pid, &runID, &started)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // not locked
		}
		if err != nil {
			return err
		}
		// Held; the locks row names the run when it is that session's (else the run is still recording itself).
		h := Holder{RunID: "(not recorded yet)"}
		if host != nil && pid != nil && runID != nil && started != nil {
			h = Holder{Host: *host, PID: int(*pid), RunID: *runID, StartedAt: *started}
		}
		d.Holder = &h
		return nil
	})
	if err != nil {
		return nil, s.errf(err, "postgres state %s: check", s)
	}
	return d, nil
}
