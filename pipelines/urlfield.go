package pipelines

import (
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
)

// httpURL reports whether s, the value of an HTTPURL field at n, is an absolute http(s) URL, reporting at n
// what is wrong otherwise: an API connector speaks nothing else, and its requests would only fail at run
// time. The message quotes the URL without its query, fragment or password (spec.ShownURL): an order
// export's URL key, or another API's token, may travel there.
func (l *loader) httpURL(n *yaml.Node, path, s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		l.errorf(n, path, spec.CodeBadValue, "write an absolute URL such as https://api.example.com/v3",
			"the value is not a URL (it is not shown: it may hold a key)")
	case u.Scheme == "" || u.Host == "":
		l.errorf(n, path, spec.CodeBadValue, "write an absolute URL such as https://api.example.com/v3",
			"`%s` is not an absolute http(s) URL", spec.ShownURL(u))
	case !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		l.errorf(n, path, spec.CodeBadValue, "the API speaks HTTP: use https:// (or http:// for a local test server)",
			"`%s`: the scheme %s is not supported, only http and https", spec.ShownURL(u), u.Scheme)
	default:
		return true
	}
	return false
}
