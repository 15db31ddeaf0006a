// Package pgdsn reads a PostgreSQL connection string, in any form the state backend accepts (a URL
// postgres://… or libpq's key=value pairs, as pgx parses them), for what must never be printed (Secrets)
// and what may (Describe). A connection string is never printed as written: it may hold a password in its
// user information, in a password= or sslpassword= parameter, or anywhere when it is malformed.
package pgdsn

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unparsable is what Describe returns for a connection string that pgx cannot parse.
const Unparsable = "(a PostgreSQL connection string that does not parse)"

// Describe names the server a connection string connects to by its host(s), port, user and database only,
// as a URL without password or parameters: postgres://user@host:5432/db (a Unix socket folder as
// postgres://user@/db?host=/run/postgresql&port=5432). Values missing from the string are pgx's (the
// environment's PGHOST, PGUSER, …, then the defaults). A string that does not parse is Unparsable.
func Describe(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return Unparsable
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + cfg.Database}
	if strings.HasPrefix(cfg.Host, "/") {
		u.RawQuery = url.Values{"host": {cfg.Host}, "port": {strconv.Itoa(int(cfg.Port))}}.Encode()
		return u.String()
	}
	hosts := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	for _, f := range cfg.Fallbacks { // one per host, and per TLS attempt (sslmode=prefer tries twice)
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !strings.HasPrefix(f.Host, "/") && !contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	u.Host = strings.Join(hosts, ",")
	return u.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	// kvPassword finds a password= or sslpassword= pair of key=value form, quoted ('…', with \ escapes) or
	// not (up to white space), also in a string that does not parse.
	kvPassword = regexp.MustCompile(`(?i)(?:^|\s)(?:ssl)?password\s*=\s*(?:'((?:[^'\\]|\\.)*)'?|((?:[^\s\\]|\\.)*))`)
	// queryPassword finds a password= or sslpassword= parameter of a URL's query.
	queryPassword = regexp.MustCompile(`(?i)[?&](?:ssl)?password=([^&#]*)`)
	unescapeKV    = regexp.MustCompile(`\\(.)`)
	// scheme is a URL's scheme and the slashes after it, as far as they are written.
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:/*`)
)

// Secrets returns the passwords a connection string carries or makes pgx use: the URL's user password, the
// password and sslpassword parameters of either form, the password pgx takes from $PGPASSWORD, a passfile
// (~/.pgpass) or a service file, and $PGSSLPASSWORD. A string that does not parse gives what can be told
// of it: the parameters as written, and the text between the first : and the last @ as a URL's password.
// Register them all with the redactor of anything that may print an error of the backend.
func Secrets(dsn string) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" && !contains(out, v) {
				out = append(out, v)
			}
		}
	}
	cfg, err := pgconn.ParseConfig(dsn)
	parsed := err == nil
	if parsed {
		add(cfg.Password)
	}
	add(os.Getenv("PGPASSWORD"), os.Getenv("PGSSLPASSWORD"))
	for _, m := range queryPassword.FindAllStringSubmatch(dsn, -1) {
		add(unescaped(m[1])...)
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[1] + m[2]
		add(v, unescapeKV.ReplaceAllString(v, "$1"))
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
	} else if !parsed {
		// Malformed (pgx's multi-host URL is refused by url.Parse, but then pgx parses it): the user
		// information ends at the last @.
		rest := dsn[len(scheme.FindString(dsn)):]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(unescaped(pw)...)
			}
		}
	}
	return out
}

// unescaped returns s as written and percent-decoded (as a path and as a query: + is a space there).
func unescaped(s string) []string {
	out := []string{s}
	if v, err := url.PathUnescape(s); err == nil {
		out = append(out, v)
	}
	if v, err := url.QueryUnescape(s); err == nil {
		out = append(out, v)
	}
	return out
}
