package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// allCommandFlags lists every command path ("plan", "state history") of the command table with its flags, as
// the commands parse them.
func allCommandFlags(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var visit func(path string, h handler)
	visit = func(path string, h handler) {
		c := describe(h)
		if c == nil {
			t.Fatalf("command %q does not parse its arguments with newCommand", path)
		}
		var fl []string
		c.fs.VisitAll(func(f *flag.Flag) { fl = append(fl, f.Name) })
		out[path] = fl
		for name, sub := range c.complete.subs {
			visit(path+" "+name, sub)
		}
	}
	for name, h := range commands() {
		visit(name, h)
	}
	return out
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"completion", shell}, &out, &errb); code != 0 {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errb.String())
	}
	return out.String()
}

// TestCompletionCoversEveryCommandAndFlag: each shell's script names every command, subcommand and flag of
// the command table, so a new flag is completed without touching the generator.
func TestCompletionCoversEveryCommandAndFlag(t *testing.T) {
	cmds := allCommandFlags(t)
	for _, must := range []string{"plan", "state list", "state history", "init", "completion"} {
		if _, ok := cmds[must]; !ok {
			t.Fatalf("command table lacks %q: %v", must, cmds)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		s := completionScript(t, shell)
		for path, flags := range cmds {
			words := strings.Fields(path)
			last := words[len(words)-1]
			switch shell {
			case "fish":
				if !strings.Contains(s, "-a '"+last+"'") {
					t.Errorf("%s: command %q not offered", shell, path)
				}
			default:
				if !strings.Contains(s, "'"+path+"')") {
					t.Errorf("%s: command %q has no case", shell, path)
				}
			}
			for _, f := range flags {
				want := flagSpelling(f)
				if shell == "fish" {
					want = "-l " + f
					if len(f) == 1 {
						want = "-s " + f
					}
				}
				if !strings.Contains(s, want) {
					t.Errorf("%s: flag %s of %q missing", shell, want, path)
				}
			}
		}
	}
}

// TestBashCompletionCompletes checks the bash script's syntax (bash -n) and then runs it: commands,
// subcommands, flags of a subcommand, a flag's values from the component registries, and files.
func TestBashCompletionCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "possync.bash")
	if err := os.WriteFile(script, []byte(completionScript(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		var q []string
		for _, w := range words {
			q = append(q, shellQuote(w))
		}
		prog := "source " + shellQuote(script) + "\nCOMP_WORDS=(" + strings.Join(q, " ") + ")\nCOMP_CWORD=" +
			itoa(len(words)-1) + "\n_possync\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command(bash, "--norc", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("complete %q: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"possync", "pl"}, []string{"plan"}},
		{[]string{"possync", "st"}, []string{"state"}},
		{[]string{"possync", "state", ""}, []string{"history", "list", "migrate", "set-merchant", "show"}},
		{[]string{"possync", "state", "history", "--li"}, []string{"--limit"}},
		{[]string{"possync", "plan", "--log-format", ""}, []string{"text", "json"}},
		{[]string{"possync", "init", "--source", "retailpos_c"}, []string{"retailpos_customers"}},
		{[]string{"possync", "init", "--source", "file", "--sink", "e"}, []string{"ecom"}},
		{[]string{"possync", "completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"possync", "plan", "sh"}, []string{"shop.yaml"}},
		{[]string{"possync", "connectors", "retailpos_p"}, []string{"retailpos_promotions"}},
		{[]string{"possync", "demo", "bike"}, []string{"bikeshop"}},
		{[]string{"possync", "schema", ""}, nil},
		{[]string{"possync", "plan", "--out", "x.json", "sh"}, []string{"shop.yaml"}},
	}
	for _, c := range cases {
		if got := complete(c.words...); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("complete %q = %q, want %q", c.words, got, c.want)
		}
	}
}

// TestZshFishCompletionSyntax checks the zsh and fish scripts' syntax when those shells are installed
// (Debian's zsh and fish packages; required under CI=true), and asks fish for completions.
func TestZshFishCompletionSyntax(t *testing.T) {
	for _, sh := range []struct{ shell, flag string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		bin, err := exec.LookPath(sh.shell)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Errorf("no %s under CI=true (.ci/run installs it)", sh.shell)
			}
			t.Logf("no %s: its syntax is not checked", sh.shell)
			continue
		}
		path := filepath.Join(t.TempDir(), "possync."+sh.shell)
		if err := os.WriteFile(path, []byte(completionScript(t, sh.shell)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, sh.flag, path).CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", sh.shell, sh.flag, err, out)
		}
	}
}

// TestFishCompletionCompletes asks fish itself (complete -C) what the fish script offers.
func TestFishCompletionCompletes(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no fish under CI=true (.ci/run installs it)")
		}
		t.Skip("no fish")
	}
	script := filepath.Join(t.TempDir(), "possync.fish")
	if err := os.WriteFile(script, []byte(completionScript(t, "fish")), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		out, err := exec.Command(fish, "--no-config", "-c", "source "+shellQuote(script)+"; complete -C "+shellQuote(line)).CombinedOutput()
		if err != nil {
			t.Fatalf("fish complete %q: %v\n%s", line, err, out)
		}
		var words []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			w, _, _ := strings.Cut(l, "\t")
			words = append(words, w)
		}
		return words
	}
	cases := []struct{ line, want string }{
		{"possync st", "state"},
		{"possync state ", "history list migrate set-merchant show"},
		{"possync state history --li", "--limit"},
		{"possync init --source retailpos_c", "retailpos_customers"},
	}
	for _, c := range cases {
		if got := strings.Join(complete(c.line), " "); got != c.want {
			t.Errorf("fish complete %q = %q, want %q", c.line, got, c.want)
		}
	}
}

// TestEveryCommandHelp: every command and subcommand of the table answers -h with its usage on stdout,
// listing every flag it parses, and exit 0 (the table completion is generated from).
func TestEveryCommandHelp(t *testing.T) {
	for path, flags := range allCommandFlags(t) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(strings.Fields(path), "-h"), &out, &errb)
		if code != 0 || !strings.HasPrefix(out.String(), "Usage: possync "+path) {
			t.Errorf("possync %s -h: exit %d, stdout %q", path, code, out.String())
			continue
		}
		for _, f := range flags {
			if !strings.Contains(out.String(), "\n  -"+f) {
				t.Errorf("possync %s -h does not list -%s:\n%s", path, f, out.String())
			}
		}
	}
}
