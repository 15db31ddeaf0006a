package state_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/runner/state"
)

// runOf opens pipeline p of cfg as a run of merchant would: its lock taken, the store opened for writing
// (or read-only, as a plan), then f, then the state detached and the lock released, so that the next runOf
// is the next run. merchant "" is a store that knows no merchant (a reader; or a possync before merchants
// were recorded, whose states record none).
func runOf(t *testing.T, cfg state.Config, p, merchant string, readOnly bool, f func(s state.Store, c *sql.Conn, m state.Meta, err error)) {
	t.Helper()
	cfg.Merchant = merchant
	s := newStore(t, cfg, p)
	unlock, err := s.Lock(state.Holder{PID: os.Getpid(), Host: "test", RunID: "run-of-" + merchant, StartedAt: time.Now()})
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer unlock()
	c := conn(t)
	m, err := s.Open(context.Background(), c, readOnly)
	f(s, c, m, err)
	exec(t, c, "DETACH DATABASE IF EXISTS st")
}

// commitCreate commits the creation of record key (as a run whose sink acknowledged it).
func commitCreate(t *testing.T, s state.Store, c *sql.Conn, key string) state.Meta {
	t.Helper()
	exec(t, c, "CREATE OR REPLACE TABLE ch AS SELECT * FROM (VALUES ('create', '"+key+"', 1)) t(__op, sku, qty)")
	m, err := s.Commit(context.Background(), c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols, Acked: 1})
	if err != nil {
		t.Fatalf("commit %s: %v", key, err)
	}
	return m
}

// setMerchant records merchant in pipeline p's state under its lock, as `possync state set-merchant` does.
func setMerchant(t *testing.T, cfg state.Config, p, merchant string) (string, error) {
	t.Helper()
	cfg.Merchant = ""
	s := newStore(t, cfg, p)
	unlock, err := s.Lock(state.Holder{PID: os.Getpid(), Host: "test", RunID: "set-merchant", StartedAt: time.Now()})
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer unlock()
	c := conn(t)
	defer exec(t, c, "DETACH DATABASE IF EXISTS st")
	return s.SetMerchant(context.Background(), c, merchant)
}

// wantMerchantError fails unless err refuses pipeline p's state of merchant held to a pipeline of merchant
// want, with a message naming the state, both merchants and what to do.
func wantMerchantError(t *testing.T, err error, p, held, want string) {
	t.Helper()
	var me *state.MerchantError
	if !errors.As(err, &me) {
		t.Fatalf("open by merchant %s of a state of %s: %v, want a *state.MerchantError", want, held, err)
	}
	if me.Pipeline != p || me.Held != held || me.Merchant != want || me.State == "" {
		t.Fatalf("MerchantError %+v, want pipeline %s, held %s, merchant %s", me, p, held, want)
	}
	for _, s := range []string{"state " + me.State + " ", `merchant "` + held + `"`, `merchant "` + want + `"`, "name:", me.Separate,
		"possync state set-merchant"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal does not say %q: %v", s, err)
		}
	}
}

// TestStoreConformanceMerchant: a state records the merchant of the pipeline that created it, and a store of
// another merchant refuses it, for writing and read-only alike, before anything of it is read or written
// (LastSuccess too); a store that knows no merchant reads it; SetMerchant replaces the merchant (a rename on
// purpose: the state is then the new merchant's, and refused to the old one) and refuses a pipeline without
// state without creating one.
func TestStoreConformanceMerchant(t *testing.T) {
	eachBackendConfig(t, func(t *testing.T, cfg state.Config) {
		ctx := context.Background()
		var lineage string
		runOf(t, cfg, "p", "acme", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Merchant != "acme" {
				t.Fatalf("new state: %+v %v, want merchant acme", m, err)
			}
			if m = commitCreate(t, s, c, "A"); m.Merchant != "acme" || m.Serial != 1 {
				t.Fatalf("after a commit: %+v", m)
			}
			lineage = m.Lineage
		})
		for _, readOnly := range []bool{false, true} {
			runOf(t, cfg, "p", "bravo", readOnly, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
				wantMerchantError(t, err, "p", "acme", "bravo")
				if s.Snapshot() != "" {
					t.Errorf("a refused open (read-only %v) made the snapshot visible: %s", readOnly, s.Snapshot())
				}
			})
		}
		cfgB := cfg
		cfgB.Merchant = "bravo"
		if _, err := newStore(t, cfgB, "p").LastSuccess(ctx, nil); cfg.IsLocal() {
			// The local store reads its journal after Open only (which refuses it): nothing to read.
		} else {
			wantMerchantError(t, err, "p", "acme", "bravo")
		}
		runOf(t, cfg, "p", "", true, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Merchant != "acme" || m.Serial != 1 || m.Records != 1 || m.Lineage != lineage {
				t.Fatalf("read by a store that knows no merchant, after the refused opens: %+v %v; want acme's, serial 1, 1 record", m, err)
			}
		})

		if old, err := setMerchant(t, cfg, "p", "bravo"); err != nil || old != "acme" {
			t.Fatalf("SetMerchant: %q %v, want it to replace acme", old, err)
		}
		runOf(t, cfg, "p", "bravo", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Merchant != "bravo" || m.Serial != 1 || m.Records != 1 || m.Lineage != lineage {
				t.Fatalf("open by the renamed merchant: %+v %v; want the same state (serial 1, lineage %s) of bravo", m, err, lineage)
			}
		})
		runOf(t, cfg, "p", "acme", true, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			wantMerchantError(t, err, "p", "bravo", "acme")
		})

		if _, err := setMerchant(t, cfg, "q", "acme"); !errors.Is(err, state.ErrNoState) {
			t.Fatalf("SetMerchant of a pipeline without state: %v, want ErrNoState", err)
		}
		runOf(t, cfg, "q", "", true, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Lineage != "" || m.Merchant != "" {
				t.Fatalf("after SetMerchant of a pipeline without state: %+v %v, want no state", m, err)
			}
		})
	})
}

// TestStoreConformanceOldStateAdoptsMerchant: a state that records no merchant (written before merchants
// were recorded, as a store that knows none writes it) opens for a pipeline of any merchant without a
// refusal and without the open recording one; the next commit records the committing pipeline's merchant,
// after which a pipeline of another merchant is refused.
func TestStoreConformanceOldStateAdoptsMerchant(t *testing.T) {
	eachBackendConfig(t, func(t *testing.T, cfg state.Config) {
		runOf(t, cfg, "p", "", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if m = commitCreate(t, s, c, "A"); m.Merchant != "" {
				t.Fatalf("a store that knows no merchant recorded %q", m.Merchant)
			}
		})
		for _, readOnly := range []bool{true, false} {
			runOf(t, cfg, "p", "bravo", readOnly, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
				if err != nil || m.Merchant != "" || m.Serial != 1 {
					t.Fatalf("open (read-only %v) of a state without merchant: %+v %v; want it as it is", readOnly, m, err)
				}
			})
		}
		// A run with nothing to apply may still commit a source's checkpoint: it claims no state (it may be a
		// copy of the pipeline for another merchant).
		runOf(t, cfg, "p", "bravo", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil {
				t.Fatal(err)
			}
			m, err = s.Commit(context.Background(), c, &state.Commit{RunID: "r", Checkpoints: map[string][]byte{"source": []byte("{}")}})
			if err != nil || m.Merchant != "" || m.Serial != 2 {
				t.Fatalf("a commit of a checkpoint alone: %+v %v; want no merchant recorded, serial 2", m, err)
			}
		})
		runOf(t, cfg, "p", "acme", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Merchant != "" {
				t.Fatalf("open: %+v %v", m, err)
			}
			if m = commitCreate(t, s, c, "B"); m.Merchant != "acme" || m.Serial != 3 || m.Records != 2 {
				t.Fatalf("the commit: %+v, want merchant acme recorded, serial 3, 2 records", m)
			}
		})
		runOf(t, cfg, "p", "bravo", true, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			wantMerchantError(t, err, "p", "acme", "bravo")
		})
		runOf(t, cfg, "p", "acme", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
			if err != nil || m.Merchant != "acme" || m.Serial != 3 {
				t.Fatalf("the next run of acme: %+v %v", m, err)
			}
		})
	})
}

// TestStoreConformanceTransferKeepsMerchant: a state moved whole (Dump, Load: `possync state migrate`) into
// an empty store keeps the merchant it records, also when the store it goes into knows none.
func TestStoreConformanceTransferKeepsMerchant(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			from, to := b.config(t), b.config(t)
			runOf(t, from, "p", "acme", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
				if err != nil {
					t.Fatal(err)
				}
				commitCreate(t, s, c, "A")
			})
			c := conn(t)
			src := newStore(t, from, "p")
			if _, err := src.Open(ctx, c, true); err != nil {
				t.Fatal(err)
			}
			tr, err := src.(state.Transferable).Dump(ctx, c, "moved_")
			if err != nil || tr.Meta.Merchant != "acme" {
				t.Fatalf("dump: %+v %v, want merchant acme", tr, err)
			}
			tr.Key = []string{"sku"}
			dst := newStore(t, to, "p")
			lock(t, dst, "migrate")
			if _, err := dst.Open(ctx, c, false); err != nil {
				t.Fatal(err)
			}
			if err := dst.(state.Transferable).Load(ctx, c, tr); err != nil {
				t.Fatal(err)
			}
			exec(t, c, "DETACH st")
			m, err := newStore(t, to, "p").Open(ctx, conn(t), true)
			if err != nil || m.Merchant != "acme" || m.Serial != 1 || m.Lineage != tr.Meta.Lineage {
				t.Fatalf("the moved state: %+v %v; want acme's, serial 1", m, err)
			}
		})
	}
}
