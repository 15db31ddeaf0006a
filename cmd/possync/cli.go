package main

// The command line's conventions: every command answers -h/--help with its usage on stdout and exit 0, and
// lists every flag it takes; `possync version` and `possync --version` say what is running.
//
// The standard flag package stays: it already parses, documents and rejects flags, and the only hand-written
// parts (help exit codes, flags after positionals) are a few lines here. spf13/cobra would bring pflag's
// GNU-style parsing, which rejects the single-dash long flags (-json, -out) scripts use today.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/possync/possync/runner"
)

// command is one subcommand's flag set and usage.
type command struct {
	fs       *flag.FlagSet
	synopsis string // e.g. "possync plan FILE [flags]"
	about    string // what it does, one or two lines
	// complete describes the command's arguments for shell completion (completion.go); optional.
	complete completeSpec
	// more, when set, writes the rest of the usage after the flags (a parent command's subcommands).
	more func(w io.Writer)
}

// newCommand makes a command whose usage (synopsis, about, every flag) goes to stderr on a flag error.
func newCommand(name, synopsis, about string, stderr io.Writer) *command {
	c := &command{fs: flag.NewFlagSet("possync "+name, flag.ContinueOnError), synopsis: synopsis, about: about}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { c.usage(c.fs.Output()) }
	return c
}

// usage writes the synopsis, the description, every flag, and the command's more (a parent's subcommands).
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.synopsis, c.about)
	n := 0
	c.fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		out := c.fs.Output()
		c.fs.SetOutput(w)
		c.fs.PrintDefaults()
		c.fs.SetOutput(out)
	}
	if c.more != nil {
		c.more(w)
	}
}

// parse parses flags that may stand before or after the positional arguments. help is true when the
// arguments ask for help (-h, -help, --help before a lone "--"): the usage is then on stdout and the command
// exits 0. A flag error prints the usage on stderr.
func (c *command) parse(args []string, stdout io.Writer) (pos []string, help bool, err error) {
	if p, ok := stdout.(*probe); ok { // describe asks what the command is: answer and do nothing
		p.cmd = c
		return nil, true, nil
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			c.usage(stdout)
			return nil, true, nil
		}
	}
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, false, err
		}
		args = c.fs.Args()
		if len(args) == 0 {
			return pos, false, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// handler runs one command (or a subcommand of one) on its arguments and returns the exit code.
type handler = func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// probe is a stdout that asks a command to describe itself: the command's parse records the command (its
// flags, synopsis, about) and reports help, so the command returns before doing anything. Completion scripts
// and subcommand listings are generated from it, so they cannot drift from the flags the commands take.
type probe struct {
	io.Writer
	cmd *command
}

// describe returns the command that h parses its arguments with; nil if h parses none.
func describe(h handler) *command {
	p := &probe{Writer: io.Discard}
	h(context.Background(), []string{"--help"}, p, io.Discard)
	return p.cmd
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// summary is what a list of commands (a parent's subcommands, the shell completions) says of a command: the
// first sentence of its about, whose line breaks are joined. A sentence ends at a full stop that ends the
// text or stands before white space ("docs/state.md" and "2.00" go on).
func summary(about string) string {
	s := strings.Join(strings.Fields(about), " ")
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && (i+1 == len(s) || s[i+1] == ' ') {
			return s[:i+1]
		}
	}
	return s
}

// versionInfo is what `possync version` prints.
type versionInfo struct {
	Version, Commit, Go, DuckDB string
	Modified                    bool
}

func readVersion(ctx context.Context) versionInfo {
	v := versionInfo{Version: "(unknown)", Commit: "(unknown)", Go: "(unknown)", DuckDB: "(unknown)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Version, v.Go = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if d, err := runner.EngineVersion(ctx); err == nil {
		v.DuckDB = d
	} else {
		v.DuckDB = "(unavailable: " + err.Error() + ")"
	}
	return v
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("version", "possync version", "Print possync's module version, the VCS commit it was built from, and the embedded DuckDB's version.", stderr)
	c.complete.args = argNone
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) > 0 {
		return 2
	}
	v := readVersion(ctx)
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(stdout, "possync %s\ncommit: %s\ngo: %s\nduckdb: %s\n", v.Version, commit, v.Go, strings.TrimSpace(v.DuckDB))
	return 0
}
