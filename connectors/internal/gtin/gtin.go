// Package gtin normalises product barcodes (UPC-A, EAN-13, GTIN-14) to their 14-digit GTIN, the one form in
// which the same barcode written by different systems compares equal (domain README §7.1).
package gtin

import (
	"fmt"
	"strings"
)

// Reasons a value is not a GTIN (§7.1 of the domain reference).
const (
	ReasonNonDigit   = "non_digit"
	ReasonLength     = "length"
	ReasonCheckDigit = "check_digit"
)

// Error is a value that is not a valid GTIN. Reason is one of the Reason constants; Detail explains it,
// quoting the value (e.g. `"036000291453" fails the GS1 check digit: it ends in 3, the check digit is 2`).
type Error struct {
	Reason string
	Detail string
}

func (e *Error) Error() string { return e.Reason + ": " + e.Detail }

// Normalize turns a UPC-A, EAN-13 or GTIN-14 (spaces allowed; 11 digits = a UPC-A whose leading zero a
// spreadsheet dropped) into its 14-digit GTIN, left-padded with zeros, after checking the GS1 mod-10 check
// digit. An empty value (after removing spaces) has no GTIN: "", nil. Any other value that is not 11 to 14
// ASCII digits with a valid check digit is an *Error.
func Normalize(raw string) (string, error) {
	s := strings.ReplaceAll(raw, " ", "")
	if s == "" {
		return "", nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", &Error{ReasonNonDigit, fmt.Sprintf("%q has a character other than a digit (spreadsheet exponent forms such as 6.89228E+11 lose digits)", raw)}
		}
	}
	if len(s) < 11 || len(s) > 14 {
		return "", &Error{ReasonLength, fmt.Sprintf("%q has %d digits; a UPC-A, EAN-13 or GTIN-14 has 11 to 14", raw, len(s))}
	}
	g := strings.Repeat("0", 14-len(s)) + s
	if want := CheckDigit(g[:13]); g[13] != want {
		return "", &Error{ReasonCheckDigit, fmt.Sprintf("%q fails the GS1 check digit: it ends in %c, the check digit is %c", raw, g[13], want)}
	}
	return g, nil
}

// CheckDigit computes the GS1 mod-10 check digit of the ASCII digits before it: from the right, weights 3,
// 1, 3, ...
func CheckDigit(digits string) byte {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}
