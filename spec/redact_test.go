package spec

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestRedactorMasksTransformedEchoes: whatever a server does to a secret before echoing it (cut it, change
// its case, URL- or base64-encode it, embed it in a Basic authorization), the text that leaves possync holds
// none of its first 8 characters, and the text around it is kept.
func TestRedactorMasksTransformedEchoes(t *testing.T) {
	const tok = "secret_Ab12/Cd+34=ef?gh&ij"
	const pw = "Pa55word-42"
	var r Redactor
	r.Add(tok, pw, "ab", "p1n") // "ab": too short to mask, ignored
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range []struct {
		name, in, want string
	}{
		{"verbatim", "token " + tok + " refused", "token *** refused"},
		{"prefix of 12", "invalid token " + tok[:12] + "...", "invalid token ***..."},
		{"first 8 only", "key " + tok[:8] + "XYZ", "key ***XYZ"},
		{"upper-cased", "TOKEN " + strings.ToUpper(tok) + " REFUSED", "TOKEN *** REFUSED"},
		{"lower-cased", "token=" + strings.ToLower(tok) + ";", "token=***;"},
		{"query-escaped", "GET /p?token=" + url.QueryEscape(tok) + "&x=1", "GET /p?token=***&x=1"},
		{"path-escaped", "/stores/" + url.PathEscape(tok) + "/products", "/stores/***/products"},
		{"base64", "auth " + b64([]byte(tok)) + " bad", "auth *** bad"},
		{"base64 url alphabet, unpadded", "k=" + base64.RawURLEncoding.EncodeToString([]byte(tok)) + ".", "k=***."},
		// The characters that encode the user (and mix its last bits with the password's first) stay.
		{"basic auth of user:password", "Basic " + b64([]byte("7421:"+pw)) + " rejected", "Basic NzQyMTp*** rejected"},
		{"basic auth, 3-byte user", "Basic " + b64([]byte("abc:"+pw)), "Basic YWJjOl***"},
		{"basic auth, 2-byte user", "Basic " + b64([]byte("u:"+pw)), "Basic dTp***"},
		{"password verbatim", "login " + pw + " failed", "login *** failed"},
		{"two echoes", tok + " and " + strings.ToUpper(tok[:9]), "*** and ***"},
		{"unrelated text kept", "no secret here: secret_ but not the rest", "no secret here: secret_ but not the rest"},
		{"short value ignored", "abc ab", "abc ab"},
		{"short secret: exact and case-folded, not its base64", "pin p1n / P1N / cDFu", "pin *** / *** / cDFu"},
		{"non-ASCII around", "é " + tok + " ü", "é *** ü"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r.Redact(c.in)
			if got != c.want {
				t.Fatalf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, v := range []string{tok, pw} {
				for _, form := range []string{v[:8], strings.ToUpper(v[:8]), strings.ToLower(v[:8])} {
					if strings.Contains(got, form) {
						t.Errorf("Redact(%q) = %q still holds %q", c.in, got, form)
					}
				}
			}
		})
	}
	var nilR *Redactor
	if got := nilR.Redact("x " + tok); got != "x "+tok {
		t.Errorf("nil Redactor changed the text: %q", got)
	}
}

// TestRedactorMasksEscapedForms: a secret holding a quote, a backslash or one of & < > is masked also as Go's
// %q and JSON print it (net/textproto's errors quote a server's reply with %q; a report or plan is redacted
// after json.Marshal, which writes & as \u0026), and nothing after its first characters is left.
func TestRedactorMasksEscapedForms(t *testing.T) {
	const pw = `Pw7"Rt9xLm2Qa`
	const key = "Zq7k&UrlKey<9931>"
	const bs = `ab\cdEFghij`
	var r Redactor
	r.Add(pw, key, bs)
	marshal := func(v string) string {
		b, _ := json.Marshal(map[string]string{"error": "refused " + v})
		return string(b)
	}
	for _, c := range []struct{ name, in, want string }{
		{"%q of an FTP reply", fmt.Sprintf("550 %q", "Permission denied, password "+pw), `550 "Permission denied, password ***"`},
		{"%+q", fmt.Sprintf("%+q", "pw é "+pw), `"pw \u00e9 ***"`},
		{"json.Marshal escapes &, < and >", marshal(key), `{"error":"refused ***"}`},
		{"JSON escapes the quote", marshal(pw), `{"error":"refused ***"}`},
		{"%q doubles a backslash", fmt.Sprintf("%q", "k="+bs), `"k=***"`},
		{"JSON without HTML escaping", `{"k":"` + strings.ReplaceAll(pw, `"`, `\"`) + `"}`, `{"k":"***"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r.Redact(c.in)
			if got != c.want {
				t.Fatalf("Redact(%s) = %s, want %s", c.in, got, c.want)
			}
			for _, frag := range []string{"Rt9xLm2Qa", "UrlKey", "9931", "EFghij"} {
				if strings.Contains(got, frag) {
					t.Errorf("Redact(%s) = %s still holds %q", c.in, got, frag)
				}
			}
		})
	}
}
