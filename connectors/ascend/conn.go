package ascend

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/possync/possync/connectors/internal/neterr"
	"github.com/possync/possync/spec"
)

// client is one logged-in FTP session. Every network wait is bounded by the configured timeout (the server
// may stay silent at most that long), and cancelling the context closes the connections. Its errors name the
// server (host:port) and the user, never the password.
type client struct {
	cfg    *config
	conn   *ftp.ServerConn
	redact spec.Redactor
	// addr is the server's host:port.
	addr string

	mu    sync.Mutex
	conns []net.Conn
	stop  func() bool
}

// connect dials the server, negotiates TLS when configured and logs in.
func connect(ctx context.Context, cfg *config) (*client, error) {
	cl := &client{cfg: cfg}
	cl.redact.Add(cfg.Password.Reveal())
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	cl.addr = addr
	opts := []ftp.DialOption{ftp.DialWithDialFunc(cl.dialFunc(ctx, tlsCfg))}
	if tlsCfg != nil {
		opts = append(opts, ftp.DialWithExplicitTLS(tlsCfg))
	}
	cl.stop = context.AfterFunc(ctx, cl.closeConns)
	conn, err := ftp.Dial(addr, opts...)
	if err != nil {
		cl.close()
		return nil, cl.errorf(ctx, err, "connect")
	}
	cl.conn = conn
	if err := conn.Login(cfg.User, cfg.Password.Reveal()); err != nil {
		cl.close()
		var pe *textproto.Error
		if errors.As(err, &pe) && pe.Code == ftp.StatusNotLoggedIn {
			return nil, fmt.Errorf("%s: login refused for user %s: %s", cl.where(), cfg.User, cl.redact.Redact(pe.Msg))
		}
		return nil, cl.errorf(ctx, err, "log in")
	}
	return cl, nil
}

// dialFunc opens the control connection (the library upgrades it to TLS after AUTH TLS) and then the data
// connections, which it wraps in TLS itself since the library does not when a dial function is set.
func (cl *client) dialFunc(ctx context.Context, tlsCfg *tls.Config) func(network, addr string) (net.Conn, error) {
	dialer := net.Dialer{Timeout: cl.cfg.Timeout}
	first := true
	return func(network, addr string) (net.Conn, error) {
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		var c net.Conn = &idleConn{Conn: raw, timeout: cl.cfg.Timeout}
		cl.mu.Lock()
		cl.conns = append(cl.conns, raw)
		cl.mu.Unlock()
		if !first && tlsCfg != nil {
			c = tls.Client(c, tlsCfg)
		}
		first = false
		return c, nil
	}
}

// list lists the configured folder (MLSD when the server offers it, LIST otherwise).
func (cl *client) list(ctx context.Context) ([]*ftp.Entry, error) {
	return cl.listDir(ctx, cl.cfg.Dir)
}

// listDir lists a folder.
func (cl *client) listDir(ctx context.Context, dir string) ([]*ftp.Entry, error) {
	entries, err := cl.conn.List(dir)
	if err != nil {
		return nil, cl.errorf(ctx, err, "list %s", dir)
	}
	return entries, nil
}

// makeDirAll creates the folder p and its missing parents, like mkdir -p. A folder is known to exist when
// its parent's listing shows it; a parent that cannot be listed is taken as missing, and creating it then
// explains why.
func (cl *client) makeDirAll(ctx context.Context, p string) error {
	p = path.Clean(p)
	parent := path.Dir(p)
	if p == parent || p == "." {
		return nil
	}
	if entries, err := cl.conn.List(parent); err == nil {
		for _, e := range entries {
			if e.Name == path.Base(p) {
				if e.Type != ftp.EntryTypeFolder {
					return fmt.Errorf("%s exists and is not a folder", p)
				}
				return nil
			}
		}
	}
	if err := cl.makeDirAll(ctx, parent); err != nil {
		return err
	}
	if err := cl.conn.MakeDir(p); err != nil {
		return cl.errorf(ctx, err, "create folder %s", p)
	}
	return nil
}

// rename renames (moves) a file on the server.
func (cl *client) rename(ctx context.Context, from, to string) error {
	if err := cl.conn.Rename(from, to); err != nil {
		return cl.errorf(ctx, err, "move %s to %s", from, to)
	}
	return nil
}

// fetch downloads a file of the configured folder whole.
func (cl *client) fetch(ctx context.Context, name string) ([]byte, error) {
	p := path.Join(cl.cfg.Dir, name)
	r, err := cl.conn.Retr(p)
	if err != nil {
		return nil, cl.errorf(ctx, err, "download %s", p)
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, cl.errorf(ctx, err, "download %s", p)
	}
	return data, nil
}

// close ends the session (QUIT) and closes every connection.
func (cl *client) close() {
	if cl.stop != nil {
		cl.stop()
	}
	if cl.conn != nil {
		_ = cl.conn.Quit()
	}
	cl.closeConns()
}

func (cl *client) closeConns() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, c := range cl.conns {
		_ = c.Close()
	}
	cl.conns = nil
}

// errorf wraps err with what was being done, on which server as which user, explains refused connections,
// unknown hosts, TLS and timeout failures, and removes the password.
func (cl *client) errorf(ctx context.Context, err error, format string, args ...any) error {
	what := cl.where() + ": " + fmt.Sprintf(format, args...)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var (
		verr  *tls.CertificateVerificationError
		pin   *pinError
		nerr  net.Error
		reply *textproto.Error
	)
	switch {
	case errors.As(err, &reply):
		// As textproto.Error prints it, but masked before it is quoted: %q escapes a " or \ of an echoed
		// password, which a redaction afterwards would have to match escaped.
		return fmt.Errorf("%s: %03d %q", what, reply.Code, cl.redact.Redact(reply.Msg))
	case errors.As(err, &pin):
		return fmt.Errorf("%s: %w", what, pin)
	case errors.As(err, &verr):
		return fmt.Errorf("%s: TLS: the server certificate is not trusted (%v); for a self-signed server set ca_file or fingerprint",
			what, cl.redact.Redact(verr.Err.Error()))
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("%s: no answer within %s (timeout)", what, cl.cfg.Timeout)
	case neterr.Classify(err) == neterr.Refused, neterr.Classify(err) == neterr.DNS:
		return fmt.Errorf("%s: %s", what, cl.redact.Redact(neterr.Explain(err)))
	}
	return fmt.Errorf("%s: %s", what, cl.redact.Redact(err.Error()))
}

// where names the server and the user as ftp://user@host:port (the password is never shown).
func (cl *client) where() string {
	return "ftp://" + cl.cfg.User + "@" + cl.addr
}

// idleConn bounds every read and write by the timeout, so a silent server cannot hang a run.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// pinError is a server certificate that does not match the pinned fingerprint.
type pinError struct{ got, want string }

func (e *pinError) Error() string {
	return fmt.Sprintf("TLS: the server certificate's SHA-256 fingerprint is %s, not the pinned %s", e.got, e.want)
}

// tlsConfig returns the client TLS configuration, or nil without TLS. It reads ca_file.
func (c *config) tlsConfig() (*tls.Config, error) {
	if c.TLS != "explicit" {
		return nil, nil
	}
	t := &tls.Config{
		ServerName: c.Host,
		MinVersion: tls.VersionTLS12,
		// Servers such as vsftpd require data connections to resume the control connection's TLS session.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	switch {
	case c.Fingerprint != "":
		want := c.Fingerprint
		t.InsecureSkipVerify = true // replaced by the pin below: the exact certificate is required
		t.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &pinError{got: "(no certificate)", want: want}
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := hex.EncodeToString(sum[:]); got != want {
				return &pinError{got: got, want: want}
			}
			return nil
		}
	case c.CAFile != "":
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", c.CAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}
