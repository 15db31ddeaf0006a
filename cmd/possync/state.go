package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// stateSubcommands are the subcommands of `possync state`; each lives in a file of its own and registers
// itself here from an init function (state_migrate.go: migrate).
var stateSubcommands = map[string]func(context.Context, []string, io.Writer, io.Writer) int{}

// cmdState dispatches `possync state SUBCOMMAND ...`.
func cmdState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var names []string
	for n := range stateSubcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	use := fmt.Sprintf("Usage: possync state %s ...\n\nInspect or move a pipeline's state. Run 'possync state SUBCOMMAND -h' for its flags.\n",
		strings.Join(names, "|"))
	if len(args) == 0 {
		fmt.Fprint(stderr, use)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, use)
		return 0
	}
	sub, ok := stateSubcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "possync state: unknown subcommand %q\n\n%s", args[0], use)
		return 2
	}
	return sub(ctx, args[1:], stdout, stderr)
}
