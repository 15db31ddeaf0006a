package spec

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// prefixLen is how much of a secret identifies it: any text holding the first prefixLen characters of a
// secret (or of one of its encoded forms), in any letter case, is taken as an echo of the secret.
const prefixLen = 8

// Redactor replaces known secret values in text with Mask, also when a server echoes them transformed: cut
// to a prefix, upper- or lower-cased, URL-encoded (query or path escaping) or base64-encoded (standard or
// URL alphabet, padded or not, and at any byte offset, as inside a Basic authorization); and when possync's
// own formatting escaped them: Go's %q and strconv.Quote (a `"` as \", as net/textproto's errors print a
// server's reply) and JSON strings (json.Marshal writes & < > as \u0026 \u003c \u003e), so that a
// document may be redacted after it is marshalled. A match starts wherever the first 8 characters of a form
// appear (the whole form when it is shorter) and extends as far as the text keeps following the form,
// ignoring case. The zero value redacts nothing; a nil Redactor returns text unchanged.
//
// Values shorter than 3 characters are never masked (Add ignores them): masking "a" or "42" would garble
// every message. A prefix of a secret shorter than 8 characters is not recognised either, so text that
// may end inside a secret must be redacted before it is cut, never after.
type Redactor struct{ forms []string }

// Add registers secret values (empty ones and those shorter than 3 characters are ignored: masking "a"
// would garble text).
func (r *Redactor) Add(values ...string) {
	for _, v := range values {
		if len(v) < 3 {
			continue
		}
		for _, f := range secretForms(v) {
			f = asciiLower(f)
			if len(f) >= 3 && !slices.Contains(r.forms, f) {
				r.forms = append(r.forms, f)
			}
		}
	}
	sort.SliceStable(r.forms, func(i, j int) bool { return len(r.forms[i]) > len(r.forms[j]) })
}

// Redact returns s with every echo of a registered secret replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil || len(r.forms) == 0 {
		return s
	}
	lower := asciiLower(s) // same byte offsets as s
	var spans [][2]int
	for _, f := range r.forms {
		spans = appendMatches(spans, lower, f)
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// appendMatches appends the spans of lower (a lower-cased text) that start with form's identifying prefix
// and follow form as far as they can. form is lower-case.
func appendMatches(spans [][2]int, lower, form string) [][2]int {
	needle := form[:min(prefixLen, len(form))]
	for i := 0; i <= len(lower)-len(needle); {
		k := strings.Index(lower[i:], needle)
		if k < 0 {
			break
		}
		start := i + k
		end := start + len(needle)
		for end < len(lower) && end-start < len(form) && lower[end] == form[end-start] {
			end++
		}
		spans = append(spans, [2]int{start, end})
		i = start + 1
	}
	return spans
}

// secretForms returns v and the encodings of v a server may echo, or possync's formatting may make.
func secretForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	// Escaped inside a quoted string: Go's (%q, strconv.Quote, %+q) and JSON's (with and without HTML escaping).
	for _, q := range []string{strconv.Quote(v), strconv.QuoteToASCII(v), jsonString(v, true), jsonString(v, false)} {
		forms = append(forms, q[1:len(q)-1])
	}
	if len(v) < 6 {
		return forms // base64 of fewer than 6 bytes is too short to tell from other text
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(v)))
		// v after 1 or 2 other bytes (as the password of "user:password"): the characters that depend on
		// the bytes before it only are dropped (2 for 1 byte, 3 for 2 bytes).
		for k, drop := range []int{2, 3} {
			e := enc.EncodeToString(append(make([]byte, k+1), v...))
			if len(e) > drop+prefixLen {
				forms = append(forms, e[drop:])
			}
		}
	}
	return forms
}

// jsonString is v as a JSON string, quotes included, with or without json.Marshal's HTML escaping.
func jsonString(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// asciiLower lower-cases ASCII letters only, so that the result has s's byte offsets.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
