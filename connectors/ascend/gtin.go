package ascend

import (
	"errors"

	"github.com/possync/possync/connectors/internal/gtin"
)

// normalizeUpc normalises a row's Upc to its GTIN-14 (see gtin.Normalize); a value that is not a GTIN is a
// row reject whose reason is the GTIN reason code (non_digit, length, check_digit), naming the Upc column.
func normalizeUpc(upc string) (string, error) {
	g, err := gtin.Normalize(upc)
	var ge *gtin.Error
	if errors.As(err, &ge) {
		return "", &rowError{ge.Reason, "Upc " + ge.Detail}
	}
	return g, err
}
