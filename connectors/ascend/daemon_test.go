package ascend

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// These tests run against a real FTP daemon (vsftpd, started by .ci/run through testdata/start-vsftpd.sh).
// They are skipped when its POSSYNC_TEST_FTP_* variables are not set, and fail without them under CI=true (as
// the PostgreSQL tests do), so a CI that lost its daemon cannot pass silently. The daemon allows writes, but the
// folders the tests create belong to root: only a test that gives its folder to the FTP user can write.

// daemon describes the FTP daemon from the environment.
type daemon struct {
	addr, user, password, dir string
	ftpsAddr, ca, fingerprint string
}

func daemonFromEnv(t *testing.T) daemon {
	t.Helper()
	d := daemon{
		addr: os.Getenv("POSSYNC_TEST_FTP_ADDR"), user: os.Getenv("POSSYNC_TEST_FTP_USER"),
		password: os.Getenv("POSSYNC_TEST_FTP_PASSWORD"), dir: os.Getenv("POSSYNC_TEST_FTP_DIR"),
		ftpsAddr: os.Getenv("POSSYNC_TEST_FTPS_ADDR"), ca: os.Getenv("POSSYNC_TEST_FTPS_CA"),
		fingerprint: os.Getenv("POSSYNC_TEST_FTPS_FINGERPRINT"),
	}
	if d.addr == "" || d.user == "" || d.password == "" || d.dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_FTP_ADDR, _USER, _PASSWORD or _DIR is not set under CI: .ci/run must start vsftpd " +
				"(connectors/ascend/testdata/start-vsftpd.sh, as root)")
		}
		t.Skip("no FTP daemon: set POSSYNC_TEST_FTP_ADDR, _USER, _PASSWORD and _DIR (.ci/run starts vsftpd with " +
			"connectors/ascend/testdata/start-vsftpd.sh)")
	}
	return d
}

// folder creates a fresh folder the daemon serves and returns its local path and its FTP path.
func (d daemon) folder(t *testing.T) (string, string) {
	t.Helper()
	local, err := os.MkdirTemp(d.dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(local) })
	if err := os.Chmod(local, 0o755); err != nil {
		t.Fatal(err)
	}
	return local, "/" + filepath.Base(local)
}

// config is a source configuration for the daemon at addr reading dir; over changes or adds values.
func (d daemon) config(addr, dir string, over map[string]any) map[string]any {
	values := map[string]any{"user": d.user, "password": spec.NewSecret(d.password), "dir": dir}
	for k, x := range over {
		values[k] = x
	}
	return baseConfig(addr, values)
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonMultiSite(t *testing.T) {
	d := daemonFromEnv(t)
	local, remote := d.folder(t)
	writeFile(t, local, "Downtown_20250115_020000_full.txt", fullFile(
		row{loc: "Downtown", sku: "A1", upc: "036000291452", qty: "3"},
		row{loc: "Downtown", sku: "A2", upc: "00036000291452", qty: "1"},
		row{loc: "Downtown", sku: "BAD", upc: "036000291453", qty: "1"},
		row{loc: "Downtown", sku: "NEG", qty: "-5"},
	))
	// Windows-1252 text behind a UTF-8 BOM (as some spreadsheet exports write it), with CRLF line ends.
	latin := strings.ReplaceAll(string(fullFile(row{loc: "Uptown", sku: "A1", desc: "Cafe", qty: "2"},
		row{loc: "Uptown", sku: "NEG", qty: "4"})), "Cafe", "Caf\xE9 \x80")
	writeFile(t, local, "Uptown_20250115_020000_full.txt", []byte("\xEF\xBB\xBF"+latin))
	writeFile(t, local, "Uptown_20250115_100000_inv.txt", invFile("Uptown", "A1=6"))
	writeFile(t, local, "Uptown_20250115_120000_inv.txt.part", invFile("Uptown", "A1=0"))
	writeFile(t, local, "Warehouse_20250115_020000_full.txt", fullFile(row{loc: "Warehouse", sku: "A1", qty: "50"}))
	writeFile(t, local, "downtown_20250115_020000_full.txt", fullFile(row{loc: "downtown", sku: "A1", qty: "50"}))

	s := newSource(t, d.config(d.addr, remote, map[string]any{
		"mode":               "multi-site",
		"locations":          locations("Downtown=multi-site", "Uptown=multi-site", "Warehouse=none"),
		"max_reject_percent": 50.0,
	}))
	recs, order, res := read(t, s, nil)
	if got := strings.Join(order, " "); got != "A1 A2 NEG" {
		t.Fatalf("records %q, want A1 A2 NEG", got)
	}
	if a1 := recs["A1"]; a1["qty_on_hand"] != int64(9) || a1["gtin_ambiguous"] != true || a1["upload"] != "inv" {
		t.Errorf("A1 (3 + 6 from the inv upload, GTIN shared with A2): %v", a1)
	}
	if neg := recs["NEG"]; neg["qty_on_hand"] != int64(4) {
		t.Errorf("NEG (-5 counted as 0, + 4): %v", neg)
	}
	var reasons []string
	for _, r := range res.Rejects {
		reasons = append(reasons, r.Where+" "+r.Reason)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], `ShortName "downtown" matches no location; configured: "Downtown" (case differs`) ||
		!strings.Contains(reasons[1], "Downtown_20250115_020000_full.txt:4 check_digit") {
		t.Errorf("rejects %q", reasons)
	}
	for _, want := range [][]string{
		{"skipped Uptown_20250115_120000_inv.txt.part: temporary name"},
		{`ignored 1 upload(s) of location "Warehouse" (status none`},
		{"Uptown_20250115_020000_full.txt: read as Windows-1252"},
	} {
		if !hasNote(res.Notes, want...) {
			t.Errorf("notes %q: want %q", res.Notes, want)
		}
	}

	// Uptown's description came from the Windows-1252 file: only visible through a SKU it alone supplies.
	writeFile(t, local, "Downtown_20250116_020000_full.txt", fullFile(row{loc: "Downtown", sku: "Z9", qty: "1"}))
	recs, _, _ = read(t, s, res.Checkpoint)
	if got := recs["A1"]["description"]; got != "Café €" {
		t.Errorf("description %q, want the Windows-1252 text decoded", got)
	}
}

func TestDaemonGrowingUpload(t *testing.T) {
	d := daemonFromEnv(t)
	local, remote := d.folder(t)
	writeFile(t, local, "Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1", qty: "3"}))
	growing := filepath.Join(local, "Downtown_20250115_100000_inv.txt")
	writeFile(t, local, filepath.Base(growing), invFile("Downtown", "A1=0"))

	// Keep appending to the inv upload while the source lists the folder twice, settle apart.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.OpenFile(growing, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				_, _ = f.WriteString("Downtown\tB2\t1\r\n")
			}
		}
	}()
	s := newSource(t, d.config(d.addr, remote, map[string]any{"settle": 500 * time.Millisecond}))
	recs, _, res := read(t, s, nil)
	close(stop)
	wg.Wait()
	if got := recs["A1"]["qty_on_hand"]; got != int64(3) {
		t.Errorf("A1 qty %v: the upload in progress was applied", got)
	}
	if !hasNote(res.Notes, "skipped Downtown_20250115_100000_inv.txt: size changed from") {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestDaemonFTPS(t *testing.T) {
	d := daemonFromEnv(t)
	if d.ftpsAddr == "" || d.ca == "" || d.fingerprint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_FTPS_ADDR, _CA or _FINGERPRINT is not set under CI: .ci/run's vsftpd must serve FTPS " +
				"(connectors/ascend/testdata/start-vsftpd.sh)")
		}
		t.Skip("no FTPS daemon: set POSSYNC_TEST_FTPS_ADDR, _CA and _FINGERPRINT")
	}
	local, remote := d.folder(t)
	writeFile(t, local, "Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1", qty: "7"}))
	for name, over := range map[string]map[string]any{
		"CA file":     {"tls": "explicit", "ca_file": d.ca},
		"fingerprint": {"tls": "explicit", "fingerprint": d.fingerprint},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSource(t, d.config(d.ftpsAddr, remote, over))
			if err := s.Check(context.Background()); err != nil {
				t.Fatalf("check: %v", err)
			}
			recs, _, _ := read(t, s, nil)
			if recs["A1"]["qty_on_hand"] != int64(7) {
				t.Errorf("A1 over FTPS: %v", recs["A1"])
			}
		})
	}
	s := newSource(t, d.config(d.ftpsAddr, remote, map[string]any{"tls": "explicit"}))
	if err := s.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("check without trusting the certificate: %v", err)
	}
}

func TestDaemonWrongPassword(t *testing.T) {
	d := daemonFromEnv(t)
	values := d.config(d.addr, "/", map[string]any{"password": spec.NewSecret("not-the-password")})
	s, err := NewSource(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "login refused for user "+d.user) || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("err = %v", err)
	}
}

// TestDaemonArchive archives superseded uploads on vsftpd: in a folder the FTP user may write (it owns it),
// and in one it may not, where the refusal is an error and nothing moves.
func TestDaemonArchive(t *testing.T) {
	d := daemonFromEnv(t)
	uploads := map[string][]byte{
		"Downtown_20250114_020000_full.txt": fullFile(row{loc: "Downtown", sku: "A1", qty: "1"}),
		"Downtown_20250114_100000_inv.txt":  invFile("Downtown", "A1=2"),
		"Downtown_20250115_020000_full.txt": fullFile(row{loc: "Downtown", sku: "A1", qty: "3"}),
		"Downtown_20250115_100000_inv.txt":  invFile("Downtown", "A1=4"),
	}
	setup := func(t *testing.T) (string, *Source, connectors.ReadResult) {
		local, remote := d.folder(t)
		for name, data := range uploads {
			writeFile(t, local, name, data)
		}
		s := newSource(t, d.config(d.addr, remote, map[string]any{"archive_dir": "old/uploads"}))
		recs, _, res := read(t, s, nil)
		if got := recs["A1"]["qty_on_hand"]; got != int64(4) {
			t.Fatalf("A1 qty %v, want 4", got)
		}
		return local, s, res
	}

	t.Run("writable", func(t *testing.T) {
		local, s, res := setup(t)
		u, err := user.Lookup(d.user)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(local, uid, gid); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("cannot give the folder to the FTP user under CI (.ci/run runs as root): %v", err)
			}
			t.Skipf("cannot give the folder to the FTP user: %v", err)
		}
		if err := s.Committed(context.Background(), res.Checkpoint); err != nil {
			t.Fatalf("Committed: %v", err)
		}
		if got, want := treeOf(t, local), "Downtown_20250115_020000_full.txt Downtown_20250115_100000_inv.txt old/ "+
			"old/uploads/ old/uploads/Downtown_20250114_020000_full.txt old/uploads/Downtown_20250114_100000_inv.txt"; got != want {
			t.Errorf("files %q, want %q", got, want)
		}
		recs, _, _ := read(t, s, res.Checkpoint)
		if got := recs["A1"]["qty_on_hand"]; got != int64(4) {
			t.Errorf("A1 qty %v after archiving, want 4", got)
		}
	})

	t.Run("not writable", func(t *testing.T) {
		local, s, res := setup(t)
		if err := os.MkdirAll(filepath.Join(local, "old", "uploads"), 0o755); err != nil {
			t.Fatal(err)
		}
		before := treeOf(t, local)
		err := s.Committed(context.Background(), res.Checkpoint)
		if err == nil || !strings.Contains(err.Error(), "2 of 2 superseded upload(s) not moved") || !strings.Contains(err.Error(), "550") {
			t.Fatalf("Committed: %v, want the server's refusal", err)
		}
		if got := treeOf(t, local); got != before {
			t.Errorf("files %q, want them unchanged (%q)", got, before)
		}
	})
}

// treeOf lists the files and folders (with a trailing slash) under dir, sorted, space-separated.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}
