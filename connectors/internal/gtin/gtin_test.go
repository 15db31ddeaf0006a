package gtin

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want, reason, detail string
	}{
		{"036000291452", "00036000291452", "", ""},   // UPC-A
		{"36000291452", "00036000291452", "", ""},    // UPC-A whose leading zero a spreadsheet dropped
		{"0036000291452", "00036000291452", "", ""},  // the same UPC-A written as an EAN-13
		{"00036000291452", "00036000291452", "", ""}, // and as a GTIN-14
		{"4006381333931", "04006381333931", "", ""},  // EAN-13
		{"10614141000415", "10614141000415", "", ""}, // GTIN-14
		{"0 36000 29145 2", "00036000291452", "", ""},
		{"", "", "", ""},
		{"   ", "", "", ""},
		{"036000291453", "", ReasonCheckDigit, `"036000291453" fails the GS1 check digit: it ends in 3, the check digit is 2`},
		{"6.89228E+11", "", ReasonNonDigit, ""},
		{"03600029145A", "", ReasonNonDigit, ""},
		{"０36000291452", "", ReasonNonDigit, ""}, // a full-width digit is not an ASCII digit
		{"1234567890", "", ReasonLength, `"1234567890" has 10 digits; a UPC-A, EAN-13 or GTIN-14 has 11 to 14`},
		{"123456789012345", "", ReasonLength, ""},
	} {
		got, err := Normalize(tc.in)
		var ge *Error
		switch {
		case tc.reason == "" && (err != nil || got != tc.want):
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.reason != "" && (!errors.As(err, &ge) || ge.Reason != tc.reason):
			t.Errorf("Normalize(%q) error %v, want reason %s", tc.in, err, tc.reason)
		case tc.detail != "" && ge.Detail != tc.detail:
			t.Errorf("Normalize(%q) detail %q, want %q", tc.in, ge.Detail, tc.detail)
		}
	}
}

func TestCheckDigit(t *testing.T) {
	for digits, want := range map[string]byte{
		"03600029145": '2', "400638133393": '1', "1061414100041": '5', "0000000000000": '0',
	} {
		if got := CheckDigit(digits); got != want {
			t.Errorf("CheckDigit(%s) = %c, want %c", digits, got, want)
		}
	}
}
