package main

// `possync test`: the cases of a pipeline's companion NAME_test.yaml (package pipetest).

import (
	"context"
	"fmt"
	"io"
	"regexp"

	"github.com/possync/possync/pipetest"
)

// cmdTest runs the test files of the given pipelines. Exit codes: 0 every case passed, 1 a case failed,
// 2 a test file or pipeline that cannot be read or is invalid, or bad flags.
func cmdTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("test", "possync test FILE... [flags]",
		"Run the cases of each pipeline's companion test file (NAME_test.yaml beside NAME.yaml; docs/testing.md):\n"+
			"the sources are replaced by the cases' input rows, the state by their state rows (in a scratch folder),\n"+
			"and the rows after the transforms and the planned actions are compared with the expected ones.\n"+
			"Nothing is read from the network or the environment, and no real state is touched.", stderr)
	runPat := c.fs.String("run", "", "run only the cases whose name matches this regular expression")
	asJSON := c.fs.Bool("json", false, "print the results as JSON")
	schema := c.fs.Bool("schema", false, "print the JSON Schema of test files and exit")
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil {
		return 2
	}
	if *schema {
		b, err := pipetest.JSONSchema()
		if err != nil {
			fmt.Fprintln(stderr, "possync test:", err)
			return 1
		}
		_, _ = stdout.Write(b)
		return 0
	}
	if len(pos) == 0 {
		c.usage(stderr)
		return 2
	}
	var opts pipetest.Options
	if *runPat != "" {
		if opts.Run, err = regexp.Compile(*runPat); err != nil {
			fmt.Fprintf(stderr, "possync test: -run: %v\n", err)
			return 2
		}
	}
	code := 0
	var results []*pipetest.Result
	for _, file := range pos {
		res, err := pipetest.RunFile(ctx, file, opts)
		if err != nil {
			fmt.Fprintf(stderr, "possync test: %v\n", err)
			code = 2
			results = append(results, &pipetest.Result{File: pipetest.TestFileFor(file), Error: err.Error()})
			continue
		}
		results = append(results, res)
		if !res.OK() && code == 0 {
			code = 1
		}
		if !*asJSON {
			if err := pipetest.WriteText(stdout, res); err != nil {
				fmt.Fprintln(stderr, "possync test:", err)
				return 1
			}
		}
	}
	if *asJSON {
		if err := pipetest.WriteJSON(stdout, results); err != nil {
			fmt.Fprintln(stderr, "possync test:", err)
			return 1
		}
	}
	return code
}
