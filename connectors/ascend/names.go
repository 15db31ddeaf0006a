package ascend

import (
	"regexp"
	"strings"
	"time"
)

// Upload kinds, the last part of an upload's name.
const (
	kindFull  = "full"
	kindInv   = "inv"
	kindPromo = "promo"
)

// upload is a file named <ShortName>_<YYYYMMDD>_<HHMMSS>_<full|inv|promo>.txt, as listed on the server.
type upload struct {
	Name      string
	ShortName string
	// Stamp is YYYYMMDD_HHMMSS from the name: uploads of a location sort by it.
	Stamp string
	Kind  string
	Size  int64
	MTime time.Time
}

var uploadName = regexp.MustCompile(`^(.+)_([0-9]{8})_([0-9]{6})_(full|inv|promo)\.txt$`)

// parseUploadName recognises an upload's name; the date and time must exist on the calendar and clock.
func parseUploadName(name string) (upload, bool) {
	m := uploadName.FindStringSubmatch(name)
	if m == nil {
		return upload{}, false
	}
	if _, err := time.Parse("20060102150405", m[2]+m[3]); err != nil {
		return upload{}, false
	}
	return upload{Name: name, ShortName: m[1], Stamp: m[2] + "_" + m[3], Kind: m[4]}, true
}

// temporaryName reports whether a name is one uploaders use while a transfer is in progress.
func temporaryName(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(name, ".") || strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") ||
		strings.HasSuffix(lower, ".filepart")
}

// before orders uploads of one location: by stamp, and a full before an inv of the same stamp.
func before(a, b upload) bool {
	if a.Stamp != b.Stamp {
		return a.Stamp < b.Stamp
	}
	return a.Kind == kindFull && b.Kind != kindFull
}
