// Package ftptest is a small in-process FTP server for tests and demos. It serves an in-memory file tree to
// one user over loopback, in passive mode only, optionally with explicit TLS (AUTH TLS, PBSZ, PROT P) using
// a self-signed certificate generated at start.
//
// It implements what a reading client needs: USER, PASS, SYST, FEAT, OPTS, PWD, CWD, CDUP, TYPE, PASV,
// EPSV, LIST, NLST, MLSD (which can be switched off to exercise a client's LIST fallback), RETR, SIZE, MDTM,
// NOOP and QUIT; and, for a client tidying the folder, MKD and the renaming of files (RNFR, RNTO), which
// Options.ReadOnly refuses in chosen folders. Tests change the tree while the server runs (Put, Append,
// Remove), read it back (Files, Get) and may hook every listing (OnList) to simulate a file still being
// uploaded.
package ftptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// User and Password are the only credentials accepted.
	User, Password string
	// DisableMLSD hides MLST from FEAT and answers MLSD with 502, as servers without RFC 3659 do.
	DisableMLSD bool
	// TLS offers explicit TLS (AUTH TLS) with a self-signed certificate for 127.0.0.1, ::1 and localhost.
	TLS bool
	// ReadOnly lists folders (absolute slash paths) the user may not write: MKD inside them, and renaming a
	// file out of or into them, are refused with 550, as a server refuses a folder without write permission.
	// Their subfolders are read-only too.
	ReadOnly []string
	// Refuse, when set, is asked about every command of a logged-in session but QUIT: a non-empty answer
	// refuses the command with 550 and that text, as a server does whose replies echo what it knows (a test
	// of what a client prints of them).
	Refuse func(cmd, arg string) string
}

// Server is a running FTP server. Its methods are safe for concurrent use.
type Server struct {
	addr string
	ln   net.Listener
	cert *certificate

	mu       sync.Mutex
	opts     Options
	files    map[string]*file // by clean absolute path
	dirs     map[string]bool  // explicitly created directories
	onList   func(dir string, n int)
	listings int
	sessions map[*session]struct{}
	closed   bool

	wg sync.WaitGroup
}

// file is one served file.
type file struct {
	data  []byte
	mtime time.Time
}

// New starts a server on a free port of 127.0.0.1. Close stops it.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts, files: map[string]*file{}, dirs: map[string]bool{"/": true}, sessions: map[*session]struct{}{}}
	if opts.TLS {
		c, err := newCertificate()
		if err != nil {
			return nil, fmt.Errorf("ftptest: certificate: %w", err)
		}
		s.cert = c
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ftptest: listen: %w", err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// CertPEM returns the PEM-encoded self-signed certificate (nil without TLS): a client's CA file.
func (s *Server) CertPEM() []byte {
	if s.cert == nil {
		return nil
	}
	return s.cert.pem
}

// Fingerprint returns the SHA-256 of the certificate's DER bytes as lowercase hex ("" without TLS).
func (s *Server) Fingerprint() string {
	if s.cert == nil {
		return ""
	}
	return s.cert.fingerprint
}

// Put creates or replaces the file at p (an absolute slash path; parent folders are implied).
func (s *Server) Put(p string, data []byte, mtime time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[clean(p)] = &file{data: append([]byte(nil), data...), mtime: mtime}
}

// Append adds data to the end of the file at p (creating it) and sets its modification time.
func (s *Server) Append(p string, data []byte, mtime time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[clean(p)]
	if f == nil {
		f = &file{}
		s.files[clean(p)] = f
	}
	f.data = append(f.data, data...)
	f.mtime = mtime
}

// Remove deletes the file at p, if any.
func (s *Server) Remove(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, clean(p))
}

// Files returns the paths of every file served, sorted.
func (s *Server) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Get returns a copy of the contents of the file at p, and whether it exists.
func (s *Server) Get(p string) ([]byte, bool) {
	f, ok := s.stat(p)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), f.data...), true
}

// Mkdir creates an empty folder at p.
func (s *Server) Mkdir(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs[clean(p)] = true
}

// OnList sets a hook called before each directory listing (LIST, NLST or MLSD) is produced, with the
// listed folder and the 1-based count of listings the server has produced so far. The hook may change the
// tree (e.g. Append to a file to simulate an upload in progress); nil removes it.
func (s *Server) OnList(hook func(dir string, n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onList = hook
}

// Close stops accepting connections, ends every session and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ss := range s.sessions {
		ss.close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		ss := newSession(s, c)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.sessions[ss] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			ss.run()
			s.mu.Lock()
			delete(s.sessions, ss)
			s.mu.Unlock()
		}()
	}
}

// tlsConfig returns the server-side TLS configuration (nil without TLS).
func (s *Server) tlsConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	return &tls.Config{Certificates: []tls.Certificate{s.cert.pair}, MinVersion: tls.VersionTLS12}
}

func (s *Server) mlsd() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.opts.DisableMLSD
}

func (s *Server) checkLogin(user, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return user == s.opts.User && password == s.opts.Password
}

// entry is one line of a directory listing.
type entry struct {
	name  string
	dir   bool
	size  int64
	mtime time.Time
}

var errNotFound = errors.New("no such file or folder")

// list returns the entries of folder dir, sorted by name, after running the listing hook.
func (s *Server) list(dir string) ([]entry, error) {
	dir = clean(dir)
	s.mu.Lock()
	s.listings++
	hook, n := s.onList, s.listings
	s.mu.Unlock()
	if hook != nil {
		hook(dir, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isDirLocked(dir) {
		return nil, errNotFound
	}
	seen := map[string]bool{}
	var out []entry
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p, f := range s.files {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		rest := p[len(prefix):]
		if name, _, sub := strings.Cut(rest, "/"); sub {
			if !seen[name] {
				seen[name] = true
				out = append(out, entry{name: name, dir: true, mtime: f.mtime})
			}
			continue
		}
		out = append(out, entry{name: rest, size: int64(len(f.data)), mtime: f.mtime})
	}
	for d := range s.dirs {
		if name, ok := strings.CutPrefix(d, prefix); ok && name != "" && !strings.Contains(name, "/") && !seen[name] {
			seen[name] = true
			out = append(out, entry{name: name, dir: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// isDirLocked reports whether p is a folder: created explicitly, or the parent of a file.
func (s *Server) isDirLocked(p string) bool {
	if s.dirs[p] {
		return true
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	for f := range s.files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	for d := range s.dirs {
		if strings.HasPrefix(d, prefix) {
			return true
		}
	}
	return false
}

func (s *Server) isDir(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isDirLocked(clean(p))
}

// stat returns a copy of the file at p.
func (s *Server) stat(p string) (file, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[clean(p)]
	if !ok {
		return file{}, false
	}
	return file{data: f.data[:len(f.data):len(f.data)], mtime: f.mtime}, true
}

// clean makes p an absolute, clean slash path.
func clean(p string) string {
	return path.Clean("/" + p)
}
