package ascend

import (
	"fmt"
	"strings"
)

// GTIN reject reasons (§7.1 of the domain reference).
const (
	reasonNonDigit   = "non_digit"
	reasonLength     = "length"
	reasonCheckDigit = "check_digit"
)

// gtinError is a UPC that is not a valid GTIN; Reason is one of the reason codes above.
type gtinError struct {
	Reason string
	Detail string
}

func (e *gtinError) Error() string { return e.Reason + ": " + e.Detail }

// normalizeGTIN turns a UPC-A, EAN-13 or GTIN-14 (spaces allowed; 11 digits = a UPC-A whose leading zero a
// spreadsheet dropped) into its 14-digit GTIN, left-padded with zeros, after checking the GS1 mod-10 check
// digit. An empty value (after removing spaces) has no GTIN: "", nil.
func normalizeGTIN(raw string) (string, error) {
	s := strings.ReplaceAll(raw, " ", "")
	if s == "" {
		return "", nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", &gtinError{reasonNonDigit, fmt.Sprintf("Upc %q has a character other than a digit (spreadsheet exponent forms such as 6.89228E+11 lose digits)", raw)}
		}
	}
	if len(s) < 11 || len(s) > 14 {
		return "", &gtinError{reasonLength, fmt.Sprintf("Upc %q has %d digits; a UPC-A, EAN-13 or GTIN-14 has 11 to 14", raw, len(s))}
	}
	g := strings.Repeat("0", 14-len(s)) + s
	if want := checkDigit(g[:13]); g[13] != want {
		return "", &gtinError{reasonCheckDigit, fmt.Sprintf("Upc %q fails the GS1 check digit: it ends in %c, the check digit is %c", raw, g[13], want)}
	}
	return g, nil
}

// checkDigit computes the GS1 mod-10 check digit of the digits before it: from the right, weights 3, 1, 3, ...
func checkDigit(digits string) byte {
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
