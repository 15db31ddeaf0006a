package main

// `possync completion bash|zsh|fish`: shell completion scripts generated from the command table (commands)
// and each command's flag set (found by describe), so a new command or flag is completed without editing
// anything here.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/spec"
)

// argKind is what a positional argument or a flag's value completes to.
type argKind int

const (
	argFiles argKind = iota // file names (the default: most commands take a pipeline FILE)
	argNone                 // nothing to offer
	argDirs                 // directory names
	argWords                // a fixed list of words
)

// completeSpec describes a command's arguments for completion.
type completeSpec struct {
	args  argKind
	words []string // with argWords
	// flags overrides what a flag's value completes to (default: files for string flags, nothing else).
	flags map[string]valueSpec
	// subs are the subcommands (a command that dispatches, like state).
	subs map[string]handler
}

// valueSpec is what one value completes to.
type valueSpec struct {
	kind  argKind
	words []string
}

// flagValues are the values of flags shared by several commands, by flag name.
var flagValues = map[string]valueSpec{
	"log-format": {argWords, []string{"text", "json"}},
	"log-level":  {argWords, []string{"debug", "info", "warn", "error"}},
	"at":         {kind: argNone},
}

// compNode is one command of the tree completion is generated from.
type compNode struct {
	path  string // "plan", "state history"
	about string
	flags []compFlag
	args  valueSpec
	subs  []*compNode
}

// compFlag is one flag of a command.
type compFlag struct {
	name, usage string
	takesValue  bool
	value       valueSpec
}

// completionTree describes every command of table, recursively.
func completionTree(table map[string]handler) []*compNode {
	var out []*compNode
	for _, name := range sortedKeys(table) {
		out = append(out, describeNode(name, table[name]))
	}
	return out
}

func describeNode(path string, h handler) *compNode {
	n := &compNode{path: path}
	c := describe(h)
	if c == nil {
		return n
	}
	n.about = summary(c.about)
	n.args = valueSpec{c.complete.args, c.complete.words}
	c.fs.VisitAll(func(f *flag.Flag) {
		cf := compFlag{name: f.Name, usage: firstLine(f.Usage)}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			cf.takesValue = true
			if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
				cf.value = valueSpec{kind: argFiles}
			}
			if v, ok := flagValues[f.Name]; ok {
				cf.value = v
			}
			if v, ok := c.complete.flags[f.Name]; ok {
				cf.value = v
			}
		}
		n.flags = append(n.flags, cf)
	})
	for _, name := range sortedKeys(c.complete.subs) {
		n.subs = append(n.subs, describeNode(path+" "+name, c.complete.subs[name]))
	}
	return n
}

// walk visits every node, parents first.
func walk(nodes []*compNode, fn func(*compNode)) {
	for _, n := range nodes {
		fn(n)
		walk(n.subs, fn)
	}
}

// flagSpelling is how a flag is offered: -v for one letter, --name otherwise (the flag package takes both).
func flagSpelling(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func nodeNames(nodes []*compNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.path[strings.LastIndex(n.path, " ")+1:])
	}
	return out
}

func cmdCompletion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("completion", "possync completion bash|zsh|fish",
		"Print a shell completion script for possync's commands, flags and arguments.\n"+
			"  bash: source <(possync completion bash)   (or save it in /etc/bash_completion.d/possync)\n"+
			"  zsh:  possync completion zsh > \"${fpath[1]}/_possync\"\n"+
			"  fish: possync completion fish > ~/.config/fish/completions/possync.fish", stderr)
	c.complete = completeSpec{args: argWords, words: []string{"bash", "zsh", "fish"}}
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) != 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	tree := completionTree(commands())
	switch pos[0] {
	case "bash":
		writeBash(stdout, tree)
	case "zsh":
		writeZsh(stdout, tree)
	case "fish":
		writeFish(stdout, tree)
	default:
		fmt.Fprintf(stderr, "possync completion: no completion for shell %q (bash, zsh or fish)\n", pos[0])
		return 2
	}
	return 0
}

// shellQuote quotes s for sh (bash, zsh) in single quotes.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// valueAction encodes a value spec for the shared shell functions: "files", "dirs", "words a b", "none".
func valueAction(v valueSpec) string {
	switch v.kind {
	case argFiles:
		return "files"
	case argDirs:
		return "dirs"
	case argWords:
		return "words " + strings.Join(v.words, " ")
	}
	return "none"
}

// writeTables writes the shell functions bash and zsh share: per command path, its subcommands, flags,
// flags taking a value, each flag's value and the positional arguments, as case tables.
func writeTables(w io.Writer, tree []*compNode) {
	fmt.Fprintf(w, "_possync_subs() {\n  case \"$1\" in\n    '') echo %s ;;\n", shellQuote(strings.Join(nodeNames(tree), " ")))
	walk(tree, func(n *compNode) {
		if len(n.subs) > 0 {
			fmt.Fprintf(w, "    %s) echo %s ;;\n", shellQuote(n.path), shellQuote(strings.Join(nodeNames(n.subs), " ")))
		}
	})
	fmt.Fprint(w, "  esac\n}\n\n_possync_flags() {\n  case \"$1\" in\n")
	walk(tree, func(n *compNode) {
		var all []string
		for _, f := range n.flags {
			all = append(all, flagSpelling(f.name))
		}
		all = append(all, "--help")
		fmt.Fprintf(w, "    %s) echo %s ;;\n", shellQuote(n.path), shellQuote(strings.Join(all, " ")))
	})
	fmt.Fprint(w, "  esac\n}\n\n# _possync_value PATH FLAG: what FLAG's value completes to; empty when FLAG takes no value.\n_possync_value() {\n  case \"$1|$2\" in\n")
	walk(tree, func(n *compNode) {
		for _, f := range n.flags {
			if f.takesValue {
				fmt.Fprintf(w, "    %s|%s) echo %s ;;\n", shellQuote(n.path+"|-"+f.name), shellQuote(n.path+"|--"+f.name), shellQuote(valueAction(f.value)))
			}
		}
	})
	fmt.Fprint(w, "  esac\n}\n\n_possync_args() {\n  case \"$1\" in\n")
	walk(tree, func(n *compNode) {
		if len(n.subs) == 0 {
			fmt.Fprintf(w, "    %s) echo %s ;;\n", shellQuote(n.path), shellQuote(valueAction(n.args)))
		}
	})
	fmt.Fprint(w, "  esac\n}\n\n")
}

func writeBash(w io.Writer, tree []*compNode) {
	fmt.Fprint(w, "# bash completion for possync (generated by `possync completion bash`).\n\n")
	writeTables(w, tree)
	fmt.Fprint(w, `_possync_complete_action() {
  local cur="$2"
  case "$1" in
    files) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
    dirs) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;
    words\ *) COMPREPLY=($(compgen -W "${1#words }" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}

_possync() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" w i skip=0 v
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    if [[ $skip == 1 ]]; then skip=0; continue; fi
    if [[ $w == -* ]]; then
      if [[ $w != *=* && -n "$(_possync_value "$cmdpath" "$w")" ]]; then skip=1; fi
      continue
    fi
    if [[ " $(_possync_subs "$cmdpath") " == *" $w "* ]]; then cmdpath="${cmdpath:+$cmdpath }$w"; fi
  done
  if [[ $skip == 1 ]]; then
    _possync_complete_action "$(_possync_value "$cmdpath" "${COMP_WORDS[COMP_CWORD-1]}")" "$cur"
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_possync_flags "$cmdpath")" -- "$cur"))
    return
  fi
  v="$(_possync_subs "$cmdpath")"
  if [[ -n $v ]]; then
    COMPREPLY=($(compgen -W "$v" -- "$cur"))
    return
  fi
  _possync_complete_action "$(_possync_args "$cmdpath")" "$cur"
}

complete -F _possync possync
`)
}

func writeZsh(w io.Writer, tree []*compNode) {
	fmt.Fprint(w, "#compdef possync\n# zsh completion for possync (generated by `possync completion zsh`).\n\n")
	writeTables(w, tree)
	fmt.Fprint(w, "_possync_about() {\n  case \"$1\" in\n")
	walk(tree, func(n *compNode) {
		fmt.Fprintf(w, "    %s) echo %s ;;\n", shellQuote(n.path), shellQuote(strings.ReplaceAll(n.about, ":", `\:`)))
	})
	fmt.Fprint(w, `  esac
}

_possync_complete_action() {
  case "$1" in
    files) _files ;;
    dirs) _files -/ ;;
    words\ *) local -a ws; ws=(${=${1#words }}); compadd -a ws ;;
  esac
}

_possync() {
  local cmdpath="" w i skip=0 v
  local -a cmds
  for ((i = 2; i < CURRENT; i++)); do
    w="${words[i]}"
    if [[ $skip == 1 ]]; then skip=0; continue; fi
    if [[ $w == -* ]]; then
      if [[ $w != *=* && -n "$(_possync_value "$cmdpath" "$w")" ]]; then skip=1; fi
      continue
    fi
    if [[ " $(_possync_subs "$cmdpath") " == *" $w "* ]]; then cmdpath="${cmdpath:+$cmdpath }$w"; fi
  done
  if [[ $skip == 1 ]]; then
    _possync_complete_action "$(_possync_value "$cmdpath" "${words[CURRENT-1]}")"
    return
  fi
  if [[ ${words[CURRENT]} == -* ]]; then
    local -a fl; fl=(${=$(_possync_flags "$cmdpath")})
    compadd -a fl
    return
  fi
  v="$(_possync_subs "$cmdpath")"
  if [[ -n $v ]]; then
    for w in ${=v}; do cmds+=("$w:$(_possync_about "${cmdpath:+$cmdpath }$w")"); done
    _describe -t commands 'possync command' cmds
    return
  fi
  _possync_complete_action "$(_possync_args "$cmdpath")"
}

if [[ $zsh_eval_context[-1] == loadautoload ]]; then
  _possync "$@"
else
  compdef _possync possync
fi
`)
}

// fishQuote quotes s for fish in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFish(w io.Writer, tree []*compNode) {
	fmt.Fprint(w, "# fish completion for possync (generated by `possync completion fish`).\n\ncomplete -c possync -f\n")
	// cond is the condition under which node n (a command path) is the one being completed.
	cond := func(path string, subs []*compNode) string {
		parts := strings.Fields(path)
		c := ""
		for i, p := range parts {
			if i > 0 {
				c += "; and "
			}
			c += "__fish_seen_subcommand_from " + p
		}
		if len(subs) > 0 {
			c += "; and not __fish_seen_subcommand_from " + strings.Join(nodeNames(subs), " ")
		}
		return c
	}
	var emit func(parentCond string, nodes []*compNode)
	emit = func(parentCond string, nodes []*compNode) {
		for _, n := range nodes {
			fmt.Fprintf(w, "complete -c possync -n %s -a %s -d %s\n", fishQuote(parentCond), fishQuote(nodeNames([]*compNode{n})[0]), fishQuote(n.about))
		}
		for _, n := range nodes {
			c := cond(n.path, n.subs)
			for _, f := range n.flags {
				opt := "-l " + f.name
				if len(f.name) == 1 {
					opt = "-s " + f.name
				}
				extra := ""
				if f.takesValue {
					extra = " -r"
					switch f.value.kind {
					case argFiles:
						extra += " -F"
					case argDirs:
						extra += " -a '(__fish_complete_directories)'"
					case argWords:
						extra += " -a " + fishQuote(strings.Join(f.value.words, " "))
					}
				}
				fmt.Fprintf(w, "complete -c possync -n %s %s%s -d %s\n", fishQuote(c), opt, extra, fishQuote(f.usage))
			}
			if len(n.subs) > 0 {
				emit(c, n.subs)
				continue
			}
			switch n.args.kind {
			case argFiles:
				fmt.Fprintf(w, "complete -c possync -n %s -F\n", fishQuote(c))
			case argDirs:
				fmt.Fprintf(w, "complete -c possync -n %s -a '(__fish_complete_directories)'\n", fishQuote(c))
			case argWords:
				fmt.Fprintf(w, "complete -c possync -n %s -a %s\n", fishQuote(c), fishQuote(strings.Join(n.args.words, " ")))
			}
		}
	}
	emit("__fish_use_subcommand", tree)
}

// componentNames are the names of every source, sink and transform, sorted and without repeats.
func componentNames() []string {
	cat := pipelines.DefaultCatalog()
	var out []string
	for _, k := range []spec.Kind{spec.KindSource, spec.KindSink, spec.KindTransform} {
		out = append(out, cat.Types(k)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
