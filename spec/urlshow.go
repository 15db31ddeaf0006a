package spec

import "net/url"

// ShownURL is u as a message may show it: without its query and fragment (each as "…" when present) and
// without its password, which may hold an API key or token (an order export's URLkey=, a Pushgateway's
// token); of an opaque URL (host:port/path or user:password@host without //), the scheme only.
func ShownURL(u *url.URL) string {
	if u.Opaque != "" {
		return u.Scheme + ":…"
	}
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username()) // url.Redacted would keep the password's place: the user only
	}
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	s := c.String()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?…"
	}
	if u.Fragment != "" {
		s += "#…"
	}
	return s
}

// URLSecrets returns what of u may be a secret, for a Redactor: its password and the values of its query.
func URLSecrets(u *url.URL) []string {
	var out []string
	if pw, ok := u.User.Password(); ok {
		out = append(out, pw)
	}
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	return out
}
