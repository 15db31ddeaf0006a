package ftptest

import (
	"errors"
	"path"
	"strings"
)

var (
	errExists   = errors.New("already exists")
	errNoParent = errors.New("the parent folder does not exist")
	errReadOnly = errors.New("permission denied")
	errIsDir    = errors.New("is a folder")
)

// readOnlyLocked reports whether p lies in a folder Options.ReadOnly lists.
func (s *Server) readOnlyLocked(p string) bool {
	for _, d := range s.opts.ReadOnly {
		d = clean(d)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// mkdir creates the folder p; its parent must exist and p must not.
func (s *Server) mkdir(p string) error {
	p = clean(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.readOnlyLocked(path.Dir(p)):
		return errReadOnly
	case s.files[p] != nil || s.isDirLocked(p):
		return errExists
	case !s.isDirLocked(path.Dir(p)):
		return errNoParent
	}
	s.dirs[p] = true
	return nil
}

// rename moves the file from to the path to, replacing a file there, as rename(2) does.
func (s *Server) rename(from, to string) error {
	from, to = clean(from), clean(to)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[from]
	switch {
	case f == nil:
		return errNotFound
	case s.readOnlyLocked(path.Dir(from)) || s.readOnlyLocked(path.Dir(to)):
		return errReadOnly
	case s.isDirLocked(to):
		return errIsDir
	case !s.isDirLocked(path.Dir(to)):
		return errNoParent
	}
	delete(s.files, from)
	s.files[to] = f
	return nil
}

func (ss *session) mkd(arg string) {
	p := ss.abs(arg)
	if err := ss.srv.mkdir(p); err != nil {
		ss.reply(550, "%s: %v", p, err)
		return
	}
	ss.reply(257, "%q created", p)
}

// rnfr accepts the file to rename; only files can be renamed.
func (ss *session) rnfr(arg string) {
	p := ss.abs(arg)
	if _, ok := ss.srv.stat(p); !ok {
		ss.reply(550, "%s: %v", p, errNotFound)
		return
	}
	ss.renaming = p
	ss.reply(350, "ready for RNTO")
}

func (ss *session) rnto(arg string) {
	from := ss.renaming
	ss.renaming = ""
	if from == "" {
		ss.reply(503, "RNFR first")
		return
	}
	to := ss.abs(arg)
	if err := ss.srv.rename(from, to); err != nil {
		ss.reply(550, "rename %s to %s: %v", from, to, err)
		return
	}
	ss.reply(250, "renamed")
}
