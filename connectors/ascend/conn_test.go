package ascend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/spec"
)

func TestCheck(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Mkdir("/in")
	ctx := context.Background()
	if err := newSource(t, baseConfig(srv.Addr(), map[string]any{"dir": "/in"})).Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
	for _, tc := range []struct {
		name string
		over map[string]any
		want string
	}{
		{"wrong password", map[string]any{"password": spec.NewSecret("wrong-password")},
			"ftp://1234@" + srv.Addr() + ": login refused for user 1234: Login incorrect."},
		{"missing folder", map[string]any{"dir": "/nope"}, "ftp://1234@" + srv.Addr() + ": list /nope: 550"},
		{"nothing listening", map[string]any{"port": int64(1)},
			"ftp://1234@127.0.0.1:1: connect: connection refused: nothing listens at that address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newSource(t, baseConfig(srv.Addr(), tc.over)).Check(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), testPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestExplicitTLS(t *testing.T) {
	srv := startServer(t, ftptest.Options{TLS: true})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1", qty: "4"}), mtime)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	colons := func(h string) string {
		var parts []string
		for i := 0; i < len(h); i += 2 {
			parts = append(parts, strings.ToUpper(h[i:i+2]))
		}
		return strings.Join(parts, ":")
	}
	for _, tc := range []struct {
		name string
		over map[string]any
		want string // error, or "" for a read of A1
	}{
		{"CA file", map[string]any{"ca_file": "ca.pem"}, ""},
		{"pinned fingerprint", map[string]any{"fingerprint": srv.Fingerprint()}, ""},
		{"pinned fingerprint with colons", map[string]any{"fingerprint": colons(srv.Fingerprint())}, ""},
		{"system CAs", nil, "TLS: the server certificate is not trusted"},
		{"wrong fingerprint", map[string]any{"fingerprint": strings.Repeat("ab", 32)},
			"the server certificate's SHA-256 fingerprint is " + srv.Fingerprint() + ", not the pinned " + strings.Repeat("ab", 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := baseConfig(srv.Addr(), tc.over)
			values["tls"] = "explicit"
			s, err := NewSource(spec.Config{Values: values}, connectors.Env{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			recs, _, _, err := tryRead(t, s, nil)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if recs["A1"]["qty_on_hand"] != int64(4) {
				t.Errorf("A1 over TLS: %v", recs["A1"])
			}
		})
	}
}

func TestCancelledRead(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1"}), mtime)
	ctx, cancel := context.WithCancel(context.Background())
	srv.OnList(func(string, int) { cancel() })
	s := newSource(t, baseConfig(srv.Addr(), map[string]any{"settle": time.Duration(0)}))
	_, err := s.Read(ctx, connectors.ReadRequest{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want context canceled", err)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.OnList(func(string, int) { <-release })
	s := newSource(t, baseConfig(srv.Addr(), map[string]any{"timeout": 100 * time.Millisecond}))
	err := s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ftp://1234@"+srv.Addr()+": list /: no answer within 100ms (timeout)") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		over map[string]any
		want string
	}{
		{"user not 4 digits", map[string]any{"user": "ftpuser"}, `user "ftpuser": want the 4-digit FTP account ID`},
		{"active mode", map[string]any{"passive": false}, "passive: false (active FTP) is not supported"},
		{"ca_file without TLS", map[string]any{"ca_file": "ca.pem"}, "ca_file and fingerprint need tls: explicit"},
		{"ca_file and fingerprint", map[string]any{"tls": "explicit", "ca_file": "ca.pem", "fingerprint": strings.Repeat("0", 64)},
			"set ca_file or fingerprint, not both"},
		{"short fingerprint", map[string]any{"tls": "explicit", "fingerprint": "abc"}, "fingerprint: want the SHA-256"},
		{"two single-site locations", map[string]any{"locations": locations("A=single-site", "B=single-site")},
			"mode single-site reads exactly one single-site location; 2 are listed"},
		{"multi-site without one", map[string]any{"mode": "multi-site"}, "mode multi-site needs at least one multi-site location"},
		{"duplicate location", map[string]any{"locations": locations("A=single-site", "A=none")}, `short_name "A" is listed twice`},
		{"bad status", map[string]any{"locations": locations("A=single-site", "B=both")}, `status "both"`},
		{"bad zone", map[string]any{"timezone": "Mars/Olympus"}, `timezone "Mars/Olympus"`},
		{"percent", map[string]any{"max_reject_percent": 120.0}, "max_reject_percent 120 is not a percentage"},
		{"archive is the upload folder", map[string]any{"dir": "/in", "archive_dir": "/in/"},
			`archive_dir "/in" is the upload folder`},
		{"archive is the upload folder, relative", map[string]any{"dir": "/in", "archive_dir": "."},
			`archive_dir "/in" is the upload folder`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSource(spec.Config{Values: baseConfig("127.0.0.1:21", tc.over)}, connectors.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{"ascend", "ascend_promotions"} {
		comp, _, ok := connectors.Sources.Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		if f, _ := comp.Field("password"); f == nil || !f.Secret {
			t.Errorf("%s: password must be a secret field", name)
		}
	}
}

// TestRepliesEchoingThePassword: a server whose refusals echo the password (one holding a quote and a
// backslash, which net/textproto's errors escape when they quote the reply) has it masked in the error, as
// the login refusal has.
func TestRepliesEchoingThePassword(t *testing.T) {
	const pw = `Pw7"Rt9xLm\2Qa`
	srv, err := ftptest.New(ftptest.Options{User: testUser, Password: pw, Refuse: func(cmd, _ string) string {
		if cmd == "FEAT" || cmd == "TYPE" || cmd == "OPTS" {
			return ""
		}
		return "Permission denied, user password " + pw
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	err = newSource(t, baseConfig(srv.Addr(), map[string]any{"password": spec.NewSecret(pw)})).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `550 "Permission denied, user password ***"`) {
		t.Fatalf("err = %v, want the 550 reply with the password masked", err)
	}
	for _, frag := range []string{"Pw7", "Rt9x", "2Qa"} {
		if strings.Contains(err.Error(), frag) {
			t.Errorf("error shows part of the password (%q): %v", frag, err)
		}
	}
}
