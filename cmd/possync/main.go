// Command possync runs declarative POS ⇄ eCommerce sync pipelines: validate a pipeline file, plan what it
// would change (a dry run, like terraform plan), apply the plan, or run plan+apply for a scheduler.
//
// Exit codes: 0 success (plan: no changes); 1 failure; 2 invalid configuration (plan: changes planned);
// 3 blocked by a guard; 75 another run of the pipeline holds the lock; 130 interrupted (SIGINT or SIGTERM).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/possync/possync/connectors/all"
	_ "github.com/possync/possync/transforms/all"
)

const usage = `possync: declarative POS ⇄ eCommerce sync pipelines

Usage:
  possync validate FILE... [flags]          check pipeline files; all findings in one pass
  possync plan FILE [flags]                 show what applying would change (dry run)
  possync apply FILE [--plan plan.json]     apply a saved plan exactly, or plan and apply
  possync run FILE [--report FILE]          plan + apply for schedulers, with a JSON run report
  possync show PLAN.json [--html FILE]      render a saved plan: text, JSON, or an HTML page to approve
  possync check FILE                        test every connector's connectivity and credentials, and the state
  possync connectors [NAME]                 docs of every source, sink and transform
  possync schema                            print the JSON Schema of pipeline files
  possync demo [EXAMPLE] [--dir DIR]        run an embedded example against local emulators
  possync version                           module version, commit and DuckDB version (also --version)
  possync test FILE... [-run REGEX]         run the cases of each pipeline's NAME_test.yaml
  possync init --source TYPE --sink TYPE    scaffold a pipeline file from the components' declarations
  possync state list|show|history           read the pipelines' state and run journal
  possync explain FILE KEY                  one record's path: source rows, steps, state row, planned action
  possync completion bash|zsh|fish          shell completion script
  possync state migrate FILE --to BACKEND   move a pipeline's state between local and PostgreSQL
  possync state set-merchant FILE           record a renamed merchant in the pipeline's state

Run 'possync COMMAND -h' for a command's flags.
Exit codes: 0 ok (plan: no changes), 1 failure, 2 invalid config (plan: changes planned),
3 blocked by a guard, 75 pipeline locked by another run, 130 interrupted (SIGINT or SIGTERM).
`

// main runs a command with a context that SIGINT and SIGTERM cancel. The first signal lets the run stop
// cleanly: an apply finishes recording the batch the sink has taken, then ends with exit code 130 and says
// how far it got. It also puts the signals back to their default, so a second one ends the process at once
// (the next run then settles the batch in flight from its intents, as after a crash).
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	onSignal := context.AfterFunc(ctx, func() {
		stop()
		fmt.Fprintln(os.Stderr, "possync: interrupted: stopping after what is in flight (interrupt again to stop at once)")
	})
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	onSignal() // the stop below cancels ctx too: that is no signal
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := commands()
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "--version", "-version":
		return cmdVersion(ctx, nil, stdout, stderr)
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "possync: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return c(ctx, args[1:], stdout, stderr)
}

// commands is the table of possync's commands: dispatch, completion and usage read it.
func commands() map[string]handler {
	return map[string]handler{
		"validate":   cmdValidate,
		"plan":       cmdPlan,
		"apply":      cmdApply,
		"run":        cmdRun,
		"check":      cmdCheck,
		"connectors": cmdConnectors,
		"schema":     cmdSchema,
		"demo":       cmdDemo,
		"version":    cmdVersion,
		"state":      cmdState,
		"completion": cmdCompletion,
		"init":       cmdInit,
		"explain":    cmdExplain,
		"test":       cmdTest,
		"show":       cmdShow,
	}
}
