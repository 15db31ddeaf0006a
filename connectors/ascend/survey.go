package ascend

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/possync/possync/connectors"
)

// survey is what two listings of the upload folder, settle apart, show to a source reading some kinds of
// uploads.
type survey struct {
	// complete holds the uploads of each location read that did not change between the listings, sorted
	// oldest first.
	complete map[string][]upload
	// partial holds, per location read, the uploads still in progress.
	partial map[string][]partialUpload
	notes   []string
	// rejects are uploads whose Short Name matches no configured location.
	rejects []connectors.Reject
}

// partialUpload is an upload skipped because it is still being written.
type partialUpload struct {
	upload
	why string
}

// maxNamed caps how many file names one note lists.
const maxNamed = 5

// surveyFolder classifies the files of the second listing: uploads of the kinds wanted, of locations the
// pipeline reads, complete or partial; uploads of other locations are noted as ignored, and a Short Name
// matching no configured location is a reject naming the expected and found names.
func surveyFolder(first, second []*ftp.Entry, cfg *config, kinds map[string]bool, settle time.Duration) *survey {
	s := &survey{complete: map[string][]upload{}, partial: map[string][]partialUpload{}}
	byName := make(map[string]*ftp.Entry, len(first))
	for _, e := range first {
		byName[e.Name] = e
	}
	status := map[string]string{}
	for _, l := range cfg.Locations {
		status[l.ShortName] = l.Status
	}
	ignored := map[string][]string{}
	var unnamed []string
	for _, e := range second {
		if e.Type != ftp.EntryTypeFile {
			continue
		}
		if temporaryName(e.Name) {
			s.temporary(e.Name, cfg, kinds)
			continue
		}
		u, ok := parseUploadName(e.Name)
		if !ok {
			unnamed = append(unnamed, e.Name)
			continue
		}
		if !kinds[u.Kind] {
			continue
		}
		u.Size, u.MTime = int64(e.Size), e.Time
		st, known := status[u.ShortName]
		switch {
		case !known:
			s.rejects = append(s.rejects, connectors.Reject{Where: u.Name, Reason: unknownLocation(u.ShortName, cfg)})
		case st != cfg.Mode:
			ignored[u.ShortName] = append(ignored[u.ShortName], u.Name)
		default:
			if why := changed(byName[e.Name], e, settle); why != "" {
				s.partial[u.ShortName] = append(s.partial[u.ShortName], partialUpload{u, why})
			} else {
				s.complete[u.ShortName] = append(s.complete[u.ShortName], u)
			}
		}
	}
	for _, list := range s.complete {
		sort.Slice(list, func(i, j int) bool { return before(list[i], list[j]) })
	}
	for _, l := range cfg.Locations {
		if names := ignored[l.ShortName]; len(names) > 0 {
			sort.Strings(names)
			why := "status none: never read"
			if l.Status != statusNone {
				why = fmt.Sprintf("status %s; this pipeline reads %s locations", l.Status, cfg.Mode)
			}
			s.notes = append(s.notes, fmt.Sprintf("ignored %d upload(s) of location %q (%s); newest %s",
				len(names), l.ShortName, why, names[len(names)-1]))
		}
	}
	if len(unnamed) > 0 {
		s.notes = append(s.notes, fmt.Sprintf("ignored %d file(s) not named <ShortName>_<YYYYMMDD>_<HHMMSS>_<kind>.txt: %s",
			len(unnamed), nameList(unnamed)))
	}
	return s
}

// temporary notes a file with a temporary name when it is an upload this source would read.
func (s *survey) temporary(name string, cfg *config, kinds map[string]bool) {
	base := strings.TrimPrefix(name, ".")
	if i := strings.LastIndex(strings.ToLower(base), ".txt"); i >= 0 {
		base = base[:i+len(".txt")]
	}
	u, ok := parseUploadName(base)
	if !ok || !kinds[u.Kind] {
		return
	}
	for _, l := range cfg.readLocations() {
		if l.ShortName == u.ShortName {
			u.Name = name
			s.partial[u.ShortName] = append(s.partial[u.ShortName], partialUpload{u, "temporary name: still being uploaded"})
		}
	}
}

// changed says why an entry is not complete: it appeared, grew or was touched between the two listings.
func changed(was, now *ftp.Entry, settle time.Duration) string {
	switch {
	case was == nil:
		return fmt.Sprintf("appeared between two listings %s apart: still being uploaded", settle)
	case was.Size != now.Size:
		return fmt.Sprintf("size changed from %d to %d bytes between two listings %s apart: still being uploaded", was.Size, now.Size, settle)
	case !was.Time.Equal(now.Time):
		return fmt.Sprintf("modification time changed between two listings %s apart: still being uploaded", settle)
	}
	return ""
}

// unknownLocation explains a Short Name that matches no configured location.
func unknownLocation(found string, cfg *config) string {
	var names []string
	for _, l := range cfg.Locations {
		if strings.EqualFold(l.ShortName, found) {
			return fmt.Sprintf("ShortName %q matches no location; configured: %q (case differs; the Short Name must equal the "+
				"Neighborhood Descriptor exactly)", found, l.ShortName)
		}
		names = append(names, fmt.Sprintf("%q", l.ShortName))
	}
	return fmt.Sprintf("ShortName %q matches no location; configured: %s", found, strings.Join(names, ", "))
}

// nameList lists names, at most maxNamed of them.
func nameList(names []string) string {
	sort.Strings(names)
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}
