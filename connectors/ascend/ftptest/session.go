package ftptest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dataTimeout bounds how long the server waits for a client to open a passive data connection.
const dataTimeout = 10 * time.Second

// session is one control connection.
type session struct {
	srv *Server

	mu   sync.Mutex // guards conn, for close from another goroutine
	conn net.Conn

	r *bufio.Reader
	w *bufio.Writer

	user     string
	loggedIn bool
	cwd      string
	secure   bool // the control connection runs TLS
	protP    bool // data connections run TLS (PROT P)
	pasv     net.Listener
	renaming string // the path an accepted RNFR names, until RNTO
}

func newSession(srv *Server, c net.Conn) *session {
	ss := &session{srv: srv, cwd: "/"}
	ss.setConn(c)
	return ss
}

func (ss *session) setConn(c net.Conn) {
	ss.mu.Lock()
	ss.conn = c
	ss.mu.Unlock()
	ss.r, ss.w = bufio.NewReader(c), bufio.NewWriter(c)
}

func (ss *session) close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_ = ss.conn.Close()
}

func (ss *session) reply(code int, format string, args ...any) {
	fmt.Fprintf(ss.w, "%d %s\r\n", code, fmt.Sprintf(format, args...))
	_ = ss.w.Flush()
}

// run serves commands until QUIT, a read error or Close.
func (ss *session) run() {
	defer func() {
		ss.closePasv()
		ss.close()
	}()
	ss.reply(220, "ftptest ready")
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if !ss.handle(strings.ToUpper(cmd), arg) {
			return
		}
	}
}

// handle runs one command; it returns false when the session must end.
func (ss *session) handle(cmd, arg string) bool {
	if cmd != "RNTO" {
		ss.renaming = "" // RNTO must follow RNFR at once
	}
	if refuse := ss.srv.opts.Refuse; refuse != nil && ss.loggedIn && cmd != "QUIT" {
		if msg := refuse(cmd, arg); msg != "" {
			ss.reply(550, "%s", msg)
			return true
		}
	}
	switch cmd {
	case "QUIT":
		ss.reply(221, "bye")
		return false
	case "USER":
		ss.user, ss.loggedIn = arg, false
		ss.reply(331, "password please")
		return true
	case "PASS":
		if ss.srv.checkLogin(ss.user, arg) {
			ss.loggedIn = true
			ss.reply(230, "logged in")
		} else {
			ss.reply(530, "Login incorrect.")
		}
		return true
	case "AUTH":
		return ss.auth(arg)
	case "FEAT":
		ss.feat()
		return true
	case "SYST":
		ss.reply(215, "UNIX Type: L8")
		return true
	case "NOOP":
		ss.reply(200, "ok")
		return true
	case "PBSZ":
		ss.reply(200, "PBSZ=0")
		return true
	case "PROT":
		return ss.prot(arg)
	}
	if !ss.loggedIn {
		ss.reply(530, "log in first")
		return true
	}
	switch cmd {
	case "OPTS":
		ss.reply(200, "ok")
	case "TYPE":
		ss.reply(200, "type set to %s", arg)
	case "PWD":
		ss.reply(257, "%q is the current folder", ss.cwd)
	case "CWD":
		ss.cwdTo(arg)
	case "CDUP":
		ss.cwdTo("..")
	case "PASV":
		ss.openPasv(false)
	case "EPSV":
		ss.openPasv(true)
	case "LIST", "NLST", "MLSD":
		ss.listing(cmd, arg)
	case "RETR":
		ss.retr(arg)
	case "MKD":
		ss.mkd(arg)
	case "RNFR":
		ss.rnfr(arg)
	case "RNTO":
		ss.rnto(arg)
	case "SIZE":
		if f, ok := ss.srv.stat(ss.abs(arg)); ok {
			ss.reply(213, "%d", len(f.data))
		} else {
			ss.reply(550, "no such file")
		}
	case "MDTM":
		if f, ok := ss.srv.stat(ss.abs(arg)); ok {
			ss.reply(213, "%s", f.mtime.UTC().Format("20060102150405"))
		} else {
			ss.reply(550, "no such file")
		}
	default:
		ss.reply(502, "%s not implemented", cmd)
	}
	return true
}

func (ss *session) feat() {
	lines := []string{"211-Features:"}
	if ss.srv.mlsd() {
		lines = append(lines, " MLST type*;size*;modify*;")
	}
	lines = append(lines, " MDTM", " SIZE", " UTF8", " EPSV", " PASV")
	if ss.srv.cert != nil {
		lines = append(lines, " AUTH TLS", " PBSZ", " PROT")
	}
	for _, l := range lines {
		fmt.Fprintf(ss.w, "%s\r\n", l)
	}
	ss.reply(211, "End")
}

// auth upgrades the control connection to TLS.
func (ss *session) auth(arg string) bool {
	cfg := ss.srv.tlsConfig()
	if cfg == nil || !strings.EqualFold(arg, "TLS") {
		ss.reply(504, "AUTH %s not supported", arg)
		return true
	}
	ss.reply(234, "AUTH TLS successful")
	tc := tls.Server(ss.conn, cfg)
	if err := tc.Handshake(); err != nil {
		return false
	}
	ss.setConn(tc)
	ss.secure = true
	return true
}

func (ss *session) prot(arg string) bool {
	switch {
	case !ss.secure:
		ss.reply(503, "AUTH TLS first")
	case strings.EqualFold(arg, "P"):
		ss.protP = true
		ss.reply(200, "PROT P")
	case strings.EqualFold(arg, "C"):
		ss.protP = false
		ss.reply(200, "PROT C")
	default:
		ss.reply(504, "PROT %s not supported", arg)
	}
	return true
}

// abs resolves a client path against the current folder.
func (ss *session) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return clean(p)
	}
	return clean(path.Join(ss.cwd, p))
}

func (ss *session) cwdTo(p string) {
	target := ss.abs(p)
	if !ss.srv.isDir(target) {
		ss.reply(550, "no such folder")
		return
	}
	ss.cwd = target
	ss.reply(250, "folder changed to %s", target)
}

func (ss *session) openPasv(extended bool) {
	ss.closePasv()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ss.reply(425, "cannot open a data port")
		return
	}
	ss.pasv = ln
	port := ln.Addr().(*net.TCPAddr).Port
	if extended {
		ss.reply(229, "Entering Extended Passive Mode (|||%d|)", port)
		return
	}
	ss.reply(227, "Entering Passive Mode (127,0,0,1,%d,%d)", port/256, port%256)
}

func (ss *session) closePasv() {
	if ss.pasv != nil {
		_ = ss.pasv.Close()
		ss.pasv = nil
	}
}

// transfer accepts the passive data connection, sends 150, lets send write the data and replies 226.
func (ss *session) transfer(send func(w io.Writer) error) {
	ln := ss.pasv
	ss.pasv = nil
	if ln == nil {
		ss.reply(425, "use PASV or EPSV first")
		return
	}
	defer ln.Close()
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(dataTimeout))
	}
	c, err := ln.Accept()
	if err != nil {
		ss.reply(425, "no data connection")
		return
	}
	defer c.Close()
	// The client reads this reply before it touches the data connection, so it precedes the TLS handshake.
	ss.reply(150, "opening data connection")
	if ss.protP {
		tc := tls.Server(c, ss.srv.tlsConfig())
		if err := tc.Handshake(); err != nil {
			ss.reply(425, "TLS handshake on the data connection failed")
			return
		}
		c = tc
	}
	if err := send(c); err != nil {
		ss.reply(426, "transfer aborted")
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.Close()
	ss.reply(226, "transfer complete")
}

func (ss *session) listing(cmd, arg string) {
	dir := ss.cwd
	// LIST may carry ls flags before the path ("LIST -a /in").
	for _, f := range strings.Fields(arg) {
		if !strings.HasPrefix(f, "-") {
			dir = ss.abs(f)
		}
	}
	if cmd == "MLSD" && !ss.srv.mlsd() {
		ss.reply(502, "MLSD not implemented")
		return
	}
	entries, err := ss.srv.list(dir)
	if err != nil {
		ss.reply(550, "%s: %v", dir, err)
		return
	}
	ss.transfer(func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, e := range entries {
			switch cmd {
			case "NLST":
				fmt.Fprintf(bw, "%s\r\n", e.name)
			case "MLSD":
				kind := "file"
				if e.dir {
					kind = "dir"
				}
				fmt.Fprintf(bw, "type=%s;size=%d;modify=%s; %s\r\n", kind, e.size, e.mtime.UTC().Format("20060102150405"), e.name)
			default:
				fmt.Fprintf(bw, "%s\r\n", lsLine(e))
			}
		}
		return bw.Flush()
	})
}

// lsLine formats an entry like `ls -l` does: the time for files of the last six months, the year otherwise.
func lsLine(e entry) string {
	mode := "-rw-r--r--"
	if e.dir {
		mode = "drwxr-xr-x"
	}
	t := e.mtime.UTC()
	stamp := t.Format("Jan _2 15:04")
	if time.Since(t) > 180*24*time.Hour || time.Until(t) > time.Hour {
		stamp = t.Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s 1 ftp ftp %12s %s %s", mode, strconv.FormatInt(e.size, 10), stamp, e.name)
}

func (ss *session) retr(arg string) {
	f, ok := ss.srv.stat(ss.abs(arg))
	if !ok {
		ss.closePasv()
		ss.reply(550, "no such file")
		return
	}
	ss.transfer(func(w io.Writer) error {
		_, err := w.Write(f.data)
		return err
	})
}
