package ftptest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.User == "" {
		opts.User, opts.Password = "1234", "pw"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dial(t *testing.T, s *Server, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(s.Addr(), append([]ftp.DialOption{ftp.DialWithTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	if err := c.Login("1234", "pw"); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func retr(t *testing.T, c *ftp.ServerConn, p string) string {
	t.Helper()
	r, err := c.Retr(p)
	if err != nil {
		t.Fatalf("RETR %s: %v", p, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
	return string(b)
}

func TestListingsAndTransfers(t *testing.T) {
	mtime := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, tc := range []struct {
		name string
		mlsd bool
		// wantTime is the modification time the client parses: exact with MLSD, to the minute with LIST.
		wantTime time.Time
	}{
		{"MLSD", true, mtime},
		{"LIST", false, mtime.Truncate(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{DisableMLSD: !tc.mlsd})
			s.Put("/in/a.txt", []byte("hello"), mtime)
			s.Put("/in/sub/b.txt", []byte("x"), mtime)
			s.Mkdir("/empty")
			c := dial(t, s)
			entries, err := c.List("/in")
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name+":"+e.Type.String())
				if e.Name == "a.txt" {
					if e.Size != 5 || !e.Time.Equal(tc.wantTime) {
						t.Errorf("a.txt: size %d time %v, want 5 %v", e.Size, e.Time, tc.wantTime)
					}
				}
			}
			if want := "a.txt:file sub:folder"; strings.Join(got, " ") != want {
				t.Errorf("entries %q, want %q", strings.Join(got, " "), want)
			}
			if err := c.ChangeDir("/in"); err != nil {
				t.Fatalf("cwd: %v", err)
			}
			if got := retr(t, c, "a.txt"); got != "hello" {
				t.Errorf("RETR = %q", got)
			}
			if n, err := c.FileSize("/in/a.txt"); err != nil || n != 5 {
				t.Errorf("SIZE = %d, %v", n, err)
			}
			if tm, err := c.GetTime("/in/a.txt"); err != nil || !tm.Equal(mtime) {
				t.Errorf("MDTM = %v, %v; want %v", tm, err, mtime)
			}
			if err := c.ChangeDir("/missing"); err == nil {
				t.Error("CWD to a missing folder succeeded")
			}
			if entries, err := c.List("/empty"); err != nil || len(entries) != 0 {
				t.Errorf("empty folder: %v, %v", entries, err)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	s := start(t, Options{})
	c, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	err = c.Login("1234", "nope")
	if err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("login with a wrong password: %v, want a 530 error", err)
	}
}

func TestOnListSimulatesAGrowingFile(t *testing.T) {
	s := start(t, Options{})
	s.Put("/f.txt", []byte("a"), time.Unix(0, 0))
	s.OnList(func(dir string, n int) {
		s.Append("/f.txt", []byte("b"), time.Unix(int64(n), 0))
	})
	c := dial(t, s)
	var sizes []uint64
	for i := 0; i < 2; i++ {
		entries, err := c.List("/")
		if err != nil || len(entries) != 1 {
			t.Fatalf("list: %v %v", entries, err)
		}
		sizes = append(sizes, entries[0].Size)
	}
	if sizes[0] != 2 || sizes[1] != 3 {
		t.Errorf("sizes = %v, want [2 3]", sizes)
	}
}

func TestExplicitTLS(t *testing.T) {
	s := start(t, Options{TLS: true})
	s.Put("/secret.txt", []byte("over TLS"), time.Now())
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CertPEM()) {
		t.Fatal("bad PEM")
	}
	if len(s.Fingerprint()) != 64 {
		t.Errorf("fingerprint %q is not 64 hex digits", s.Fingerprint())
	}
	c := dial(t, s, ftp.DialWithExplicitTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if got := retr(t, c, "/secret.txt"); got != "over TLS" {
		t.Errorf("RETR over TLS = %q", got)
	}
	if _, err := c.List("/"); err != nil {
		t.Errorf("LIST over TLS: %v", err)
	}

	// Without trusting the certificate, the handshake fails.
	c2, err := ftp.Dial(s.Addr(), ftp.DialWithTimeout(5*time.Second), ftp.DialWithExplicitTLS(&tls.Config{ServerName: "127.0.0.1"}))
	if err == nil {
		defer c2.Quit()
		err = c2.Login("1234", "pw")
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS without trusting the self-signed certificate: %v, want a certificate error", err)
	}
}
