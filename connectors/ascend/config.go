package ascend

import (
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// location is one configured Ascend location.
type location struct {
	ShortName string `spec:"short_name"`
	Status    string `spec:"status"`
}

// config is the decoded configuration of an ascend source.
type config struct {
	Host             string        `spec:"host"`
	Port             int           `spec:"port"`
	User             string        `spec:"user"`
	Password         spec.Secret   `spec:"password"`
	Passive          bool          `spec:"passive"`
	TLS              string        `spec:"tls"`
	CAFile           string        `spec:"ca_file"`
	Fingerprint      string        `spec:"fingerprint"`
	Timeout          time.Duration `spec:"timeout"`
	Dir              string        `spec:"dir"`
	ArchiveDir       string        `spec:"archive_dir"`
	Locations        []location    `spec:"locations"`
	Mode             string        `spec:"mode"`
	Settle           time.Duration `spec:"settle"`
	MaxRejectPercent float64       `spec:"max_reject_percent"`
	MinRowsPercent   float64       `spec:"min_rows_percent,shared"`
	Timezone         string        `spec:"timezone"`
}

var userPattern = regexp.MustCompile(`^[0-9]{4}$`)

// decodeConfig decodes and checks a configuration; relative paths resolve against env.Dir. It touches no
// file and no network.
func decodeConfig(cfg spec.Config, env connectors.Env) (*config, error) {
	c := &config{Port: 21, Passive: true, TLS: "none", Timeout: 30 * time.Second, Dir: "/", Settle: 2 * time.Second,
		MaxRejectPercent: 5, MinRowsPercent: 50, Timezone: "UTC"}
	if err := cfg.Decode(c); err != nil {
		return nil, err
	}
	if c.ArchiveDir != "" && !path.IsAbs(c.ArchiveDir) {
		c.ArchiveDir = path.Join(c.Dir, c.ArchiveDir) // remote paths: relative to the upload folder
	} else if c.ArchiveDir != "" {
		c.ArchiveDir = path.Clean(c.ArchiveDir)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(env.Dir, c.CAFile)
	}
	return c, nil
}

func (c *config) check() error {
	switch {
	case c.Host == "":
		return fmt.Errorf("host is required")
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("port %d is not a TCP port (1-65535)", c.Port)
	case !userPattern.MatchString(c.User):
		return fmt.Errorf("user %q: want the 4-digit FTP account ID from the POS FTP email", c.User)
	case c.Password.IsZero():
		return fmt.Errorf("password is required")
	case !c.Passive:
		return fmt.Errorf("passive: false (active FTP) is not supported; remove it or set it to true")
	case c.TLS != "none" && c.TLS != "explicit":
		return fmt.Errorf("tls %q: want none or explicit", c.TLS)
	case c.TLS == "none" && (c.CAFile != "" || c.Fingerprint != ""):
		return fmt.Errorf("ca_file and fingerprint need tls: explicit")
	case c.CAFile != "" && c.Fingerprint != "":
		return fmt.Errorf("set ca_file or fingerprint, not both")
	case c.Timeout <= 0:
		return fmt.Errorf("timeout must be positive")
	case c.ArchiveDir != "" && c.ArchiveDir == path.Clean(c.Dir):
		return fmt.Errorf("archive_dir %q is the upload folder (dir): name another folder, such as archive", c.ArchiveDir)
	case c.Settle < 0:
		return fmt.Errorf("settle must not be negative")
	case c.MaxRejectPercent < 0 || c.MaxRejectPercent > 100:
		return fmt.Errorf("max_reject_percent %g is not a percentage (0-100)", c.MaxRejectPercent)
	case c.MinRowsPercent < 0 || c.MinRowsPercent > 100:
		return fmt.Errorf("min_rows_percent %g is not a percentage (0-100; 0 turns the check off)", c.MinRowsPercent)
	}
	if c.Fingerprint != "" {
		fp, err := parseFingerprint(c.Fingerprint)
		if err != nil {
			return err
		}
		c.Fingerprint = fp
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return fmt.Errorf("timezone %q: use an IANA time zone name such as America/Los_Angeles", c.Timezone)
	}
	return c.checkLocations()
}

func (c *config) checkLocations() error {
	if len(c.Locations) == 0 {
		return fmt.Errorf("locations: list at least one location")
	}
	seen := map[string]bool{}
	count := map[string]int{}
	for i, l := range c.Locations {
		switch {
		case l.ShortName == "":
			return fmt.Errorf("locations: location %d has no short_name", i+1)
		case strings.ContainsAny(l.ShortName, "/\\"):
			return fmt.Errorf("locations: short_name %q cannot contain a slash", l.ShortName)
		case seen[l.ShortName]:
			return fmt.Errorf("locations: short_name %q is listed twice", l.ShortName)
		}
		switch l.Status {
		case statusNone, statusSingle, statusMulti:
		default:
			return fmt.Errorf("locations: %q: status %q: want none, single-site or multi-site", l.ShortName, l.Status)
		}
		seen[l.ShortName] = true
		count[l.Status]++
	}
	switch c.Mode {
	case statusSingle:
		if count[statusSingle] != 1 {
			return fmt.Errorf("mode single-site reads exactly one single-site location; %d are listed", count[statusSingle])
		}
	case statusMulti:
		if count[statusMulti] == 0 {
			return fmt.Errorf("mode multi-site needs at least one multi-site location")
		}
	default:
		return fmt.Errorf("mode %q: want single-site or multi-site", c.Mode)
	}
	return nil
}

// parseFingerprint normalises a SHA-256 fingerprint to 64 lowercase hex digits.
func parseFingerprint(s string) (string, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(s, ":", ""), " ", ""))
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		return "", fmt.Errorf("fingerprint: want the SHA-256 of the server certificate as 64 hex digits (colons allowed)")
	}
	return h, nil
}

// readLocations returns the locations this pipeline reads (status equal to mode), in configured order.
func (c *config) readLocations() []location {
	var out []location
	for _, l := range c.Locations {
		if l.Status == c.Mode {
			out = append(out, l)
		}
	}
	return out
}
