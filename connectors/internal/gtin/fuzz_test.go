package gtin

import (
	"errors"
	"strings"
	"testing"
)

// FuzzNormalize feeds arbitrary barcode text to Normalize. It must not panic; a rejected value is an *Error
// with a known reason and a detail; an accepted one is 14 ASCII digits whose check digit holds, and
// normalising it again gives itself (the normal form is a fixed point).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"036000291452", "36000291452", "0036000291452", "00036000291452", "4006381333931",
		"036000291453", "6.89228E+11", "", "   ", "0 36000 29145 2", "12345", "123456789012345",
		"０３６０００２９１４５２", "03600029145\x00", "\xff\xfe", "-36000291452",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		g, err := Normalize(raw)
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Normalize(%q): error %T %v, want *Error", raw, err, err)
			}
			switch ge.Reason {
			case ReasonNonDigit, ReasonLength, ReasonCheckDigit:
			default:
				t.Fatalf("Normalize(%q): unknown reason %q", raw, ge.Reason)
			}
			if ge.Detail == "" || err.Error() == "" {
				t.Fatalf("Normalize(%q): empty error detail", raw)
			}
			if g != "" {
				t.Fatalf("Normalize(%q) = %q with an error", raw, g)
			}
			return
		}
		if g == "" {
			if strings.ReplaceAll(raw, " ", "") != "" {
				t.Fatalf("Normalize(%q) = \"\" without an error for a non-empty value", raw)
			}
			return
		}
		if len(g) != 14 || strings.Trim(g, "0123456789") != "" {
			t.Fatalf("Normalize(%q) = %q, want 14 ASCII digits", raw, g)
		}
		if CheckDigit(g[:13]) != g[13] {
			t.Fatalf("Normalize(%q) = %q, whose check digit does not hold", raw, g)
		}
		again, err := Normalize(g)
		if err != nil || again != g {
			t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q", raw, again, err, g)
		}
	})
}
