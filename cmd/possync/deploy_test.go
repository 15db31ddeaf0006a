package main

// The deployment files (deploy/, docs/deploy.md) checked against the binary, so that they cannot rot: every
// CronJob's scheduling policy, the flags and environment variables it passes, the Dockerfile's build and
// entrypoint, and the exit codes the docs and the Airflow DAG map.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/state"
)

// repoRoot is the repository's root, from cmd/possync.
const repoRoot = "../.."

// cronJob is the part of a CronJob manifest the checks read.
type cronJob struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Schedule          string `yaml:"schedule"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				BackoffLimit          *int `yaml:"backoffLimit"`
				ActiveDeadlineSeconds *int `yaml:"activeDeadlineSeconds"`
				PodFailurePolicy      struct {
					Rules []struct {
						Action      string `yaml:"action"`
						OnExitCodes *struct {
							ContainerName string `yaml:"containerName"`
							Operator      string `yaml:"operator"`
							Values        []int  `yaml:"values"`
						} `yaml:"onExitCodes"`
					} `yaml:"rules"`
				} `yaml:"podFailurePolicy"`
				Template struct {
					Spec struct {
						RestartPolicy string      `yaml:"restartPolicy"`
						Containers    []container `yaml:"containers"`
						Volumes       []struct {
							Name      string `yaml:"name"`
							ConfigMap *struct {
								Name string `yaml:"name"`
							} `yaml:"configMap"`
						} `yaml:"volumes"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type container struct {
	Name    string   `yaml:"name"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// readCronJobs parses every CronJob document of a multi-document YAML file.
func readCronJobs(t *testing.T, path string) []cronJob {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []cronJob
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var cj cronJob
		err := dec.Decode(&cj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if cj.Kind == "CronJob" {
			out = append(out, cj)
		}
	}
	return out
}

// TestDeployManifests checks the single-merchant CronJob and the CronJobs deploy/k8s/many/generate.sh makes
// from the example pipelines.
func TestDeployManifests(t *testing.T) {
	usage := commandUsage(t, "run")
	envRead := envVarsRead(t)

	t.Run("single", func(t *testing.T) {
		dir := filepath.Join(repoRoot, "deploy/k8s/single")
		jobs := readCronJobs(t, filepath.Join(dir, "cronjob.yaml"))
		if len(jobs) != 1 {
			t.Fatalf("deploy/k8s/single/cronjob.yaml: %d CronJobs, want 1", len(jobs))
		}
		files := kustomizeFiles(t, dir)
		checkCronJob(t, jobs[0], usage, envRead, files)
		validateFiles(t, dir, files)
	})

	t.Run("many", func(t *testing.T) {
		if _, err := exec.LookPath("bash"); err != nil {
			t.Skip("no bash")
		}
		examples, err := filepath.Glob(filepath.Join(repoRoot, "examples/*/*.yaml"))
		if err != nil || len(examples) < 3 {
			t.Fatalf("example pipelines: %v (%d)", err, len(examples))
		}
		// Two examples are both catalog.yaml: the generator must refuse the clash...
		out := t.TempDir()
		gen := exec.Command("bash", filepath.Join(repoRoot, "deploy/k8s/many/generate.sh"), out)
		gen.Args = append(gen.Args, examples...)
		if b, err := gen.CombinedOutput(); err == nil || !strings.Contains(string(b), "both make the CronJob possync-catalog") {
			t.Errorf("generate.sh with two catalog.yaml files: want a refusal naming possync-catalog, got %v:\n%s", err, b)
		}
		// ... and make one CronJob per file otherwise.
		var unique []string
		seen := map[string]bool{}
		for _, e := range examples {
			if b := filepath.Base(e); !seen[b] {
				seen[b] = true
				unique = append(unique, e)
			}
		}
		out = t.TempDir()
		gen = exec.Command("bash", filepath.Join(repoRoot, "deploy/k8s/many/generate.sh"), "-e", "20", out)
		gen.Args = append(gen.Args, unique...)
		if b, err := gen.CombinedOutput(); err != nil {
			t.Fatalf("generate.sh: %v\n%s", err, b)
		}
		jobs := readCronJobs(t, filepath.Join(out, "cronjobs.yaml"))
		if len(jobs) != len(unique) {
			t.Fatalf("generate.sh made %d CronJobs for %d files", len(jobs), len(unique))
		}
		files := kustomizeFiles(t, out)
		names := map[string]bool{}
		for _, cj := range jobs {
			checkCronJob(t, cj, usage, envRead, files)
			if names[cj.Metadata.Name] {
				t.Errorf("CronJob name %s twice", cj.Metadata.Name)
			}
			names[cj.Metadata.Name] = true
			// Every 20 minutes: three minutes per hour, 20 apart.
			minutes := strings.Split(strings.Fields(cj.Spec.Schedule)[0], ",")
			if len(minutes) != 3 {
				t.Errorf("%s: schedule %q, want three minutes per hour", cj.Metadata.Name, cj.Spec.Schedule)
			}
			if d := cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds; d == nil || *d >= 20*60 {
				t.Errorf("%s: activeDeadlineSeconds %v, want below the 20-minute interval", cj.Metadata.Name, d)
			}
		}
		// The ConfigMap's files are the pipeline files, unchanged.
		for _, e := range unique {
			src, _ := os.ReadFile(e)
			dst, err := os.ReadFile(filepath.Join(out, "pipelines", filepath.Base(e)))
			if err != nil || !bytes.Equal(src, dst) {
				t.Errorf("generate.sh's copy of %s differs or is missing (%v)", e, err)
			}
		}
	})
}

// checkCronJob checks one CronJob's invariants: Forbid, the exit-code policy, restartPolicy Never, a possync
// command with flags its usage lists, a pipeline file from the mounted ConfigMap, environment variables
// possync reads, and the state URL from a Secret.
func checkCronJob(t *testing.T, cj cronJob, usage string, envRead map[string]bool, files []string) {
	t.Helper()
	name := cj.Metadata.Name
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("%s: concurrencyPolicy %q, want Forbid", name, cj.Spec.ConcurrencyPolicy)
	}
	js := cj.Spec.JobTemplate.Spec
	if js.BackoffLimit == nil {
		t.Errorf("%s: no backoffLimit", name)
	}
	if d := js.ActiveDeadlineSeconds; d == nil || *d <= 0 {
		t.Errorf("%s: no activeDeadlineSeconds (retries of exit %d must end)", name, outcome.ExitLocked)
	}
	if rp := js.Template.Spec.RestartPolicy; rp != "Never" {
		t.Errorf("%s: restartPolicy %q, want Never (podFailurePolicy needs it)", name, rp)
	}
	cs := js.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(cs))
	}
	c := cs[0]
	actions := map[int]string{}
	for _, r := range js.PodFailurePolicy.Rules {
		if r.OnExitCodes == nil {
			continue
		}
		if r.OnExitCodes.ContainerName != c.Name || r.OnExitCodes.Operator != "In" {
			t.Errorf("%s: onExitCodes rule for container %q, operator %q; want %q, In", name, r.OnExitCodes.ContainerName, r.OnExitCodes.Operator, c.Name)
		}
		for _, v := range r.OnExitCodes.Values {
			actions[v] = r.Action
		}
	}
	for code, want := range map[int]string{outcome.ExitLocked: "Ignore", outcome.ExitInvalid: "FailJob", outcome.ExitBlocked: "FailJob"} {
		if actions[code] != want {
			t.Errorf("%s: podFailurePolicy action for exit %d is %q, want %s", name, code, actions[code], want)
		}
	}
	for _, code := range []int{outcome.ExitOK, outcome.ExitFailure} {
		if a, ok := actions[code]; ok {
			t.Errorf("%s: podFailurePolicy has an action %s for exit %d, which must count (retry, then fail)", name, a, code)
		}
	}

	// The command: the image's entrypoint is possync (see TestDockerfile), so args are possync's.
	if len(c.Command) > 0 {
		t.Errorf("%s: command %v overrides the image's possync entrypoint", name, c.Command)
	}
	if len(c.Args) < 2 || c.Args[0] != "run" {
		t.Fatalf("%s: args %v, want run FILE [flags]", name, c.Args)
	}
	for _, a := range c.Args[2:] {
		if !strings.HasPrefix(a, "-") {
			continue // a flag's value
		}
		flag := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
		if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(flag) + `(\s|$)`).MatchString(usage) {
			t.Errorf("%s: flag %s is not in `possync run -h`", name, a)
		}
	}
	// The pipeline file is in the ConfigMap mounted at its folder.
	file := c.Args[1]
	mounted := false
	for _, m := range c.VolumeMounts {
		if filepath.Dir(file) != m.MountPath {
			continue
		}
		for _, v := range js.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == "possync-pipelines" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("%s: %s is not in the ConfigMap possync-pipelines's mount", name, file)
	}
	if !slices.Contains(files, filepath.Base(file)) {
		t.Errorf("%s: runs %s, which the ConfigMap does not hold (it holds %v)", name, filepath.Base(file), files)
	}

	fromSecret := false
	for _, e := range c.Env {
		if !envRead[e.Name] {
			t.Errorf("%s: env %s is not a variable possync reads", name, e.Name)
		}
		if e.Name == "POSSYNC_STATE_URL" {
			fromSecret = e.Value == "" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
		}
	}
	if !fromSecret {
		t.Errorf("%s: POSSYNC_STATE_URL must come from a Secret (secretKeyRef), never a literal value", name)
	}
}

// commandUsage is the output of `possync CMD -h`.
func commandUsage(t *testing.T, cmd string) string {
	t.Helper()
	r := runPossync(t, cmd, "-h")
	if r.code != 0 {
		t.Fatalf("possync %s -h: %s", cmd, r)
	}
	return r.stdout
}

// stateURLEnv is the variable of the shared state (the PostgreSQL backend, issue #13).
const stateURLEnv = "POSSYNC_STATE_URL"

// envVarsRead is the set of POSSYNC_* variables named in a string literal of the project's non-test Go
// sources (what the binary can read). Until the PostgreSQL backend is merged POSSYNC_STATE_URL is not among
// them; it is then added with a note, so that the manifests can already carry it.
func envVarsRead(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`"(POSSYNC_[A-Z0-9_]+)"`)
	vars := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			vars[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !vars["POSSYNC_STATE_DIR"] {
		t.Fatalf("the scan of the sources found no POSSYNC_STATE_DIR (found %v): the scan is broken", vars)
	}
	if !vars[stateURLEnv] {
		t.Logf("%s is not read by this build (the PostgreSQL state backend is not merged): allowed in the manifests", stateURLEnv)
		vars[stateURLEnv] = true
	}
	return vars
}

// kustomizeFiles lists the base names of the pipeline files of a kustomization's ConfigMap
// possync-pipelines, and checks that each exists.
func kustomizeFiles(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	var files []string
	for _, g := range k.ConfigMapGenerator {
		if g.Name != "possync-pipelines" {
			continue
		}
		for _, f := range g.Files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("kustomization's file %s: %v", f, err)
			}
			files = append(files, filepath.Base(f))
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s/kustomization.yaml: no files in the ConfigMap possync-pipelines", dir)
	}
	// When kubectl is installed, the kustomization must also build (informational otherwise: not in CI).
	if _, err := exec.LookPath("kubectl"); err == nil {
		if out, err := exec.Command("kubectl", "kustomize", dir).CombinedOutput(); err != nil {
			t.Errorf("kubectl kustomize %s: %v\n%s", dir, err, out)
		}
	}
	return files
}

// validateFiles runs `possync validate --no-env` on the kustomization's pipeline files.
func validateFiles(t *testing.T, dir string, files []string) {
	t.Helper()
	args := []string{"validate", "--no-env"}
	for _, f := range files {
		matches, _ := filepath.Glob(filepath.Join(dir, "pipelines", f))
		args = append(args, matches...)
	}
	if r := runPossync(t, args...); r.code != 0 {
		t.Errorf("possync validate --no-env of the deployed pipeline files: %s", r)
	}
}

// TestDockerfile checks the image's build (cgo, the duckdb_arrow tag, a glibc runtime base), that its
// entrypoint is possync, and that CI runs the image itself (make image-smoke).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, w := range []string{"CGO_ENABLED=1", "-tags duckdb_arrow", "./cmd/possync", "ARG GO_IMAGE=golang:1.26-bookworm"} {
		if !strings.Contains(df, w) {
			t.Errorf("deploy/Dockerfile does not contain %q", w)
		}
	}
	// DuckDB is C++: the runtime base must have glibc and libstdc++ (ldd: libstdc++.so.6, libc.so.6).
	base := regexp.MustCompile(`(?m)^ARG RUN_IMAGE=(\S+)`).FindStringSubmatch(df)
	if base == nil || !(strings.HasPrefix(base[1], "debian:bookworm") || strings.HasPrefix(base[1], "gcr.io/distroless/cc")) {
		t.Errorf("deploy/Dockerfile's runtime base %v: want debian:bookworm-slim or distroless/cc (glibc and libstdc++)", base)
	}
	ep := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindStringSubmatch(df)
	if ep == nil || filepath.Base(ep[1]) != "possync" || !strings.Contains(df, "COPY --from=build /out/possync "+ep[1]) {
		t.Errorf("deploy/Dockerfile: ENTRYPOINT %v is not the possync binary the build stage copies", ep)
	}
	cmd := regexp.MustCompile(`(?m)^CMD \["([^"]+)"\]`).FindStringSubmatch(df)
	if cmd == nil {
		t.Fatal("deploy/Dockerfile has no CMD")
	}
	if r := runPossync(t, cmd[1]); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
		t.Errorf("possync %s (the image's CMD): %s", cmd[1], r)
	}

	// The image itself is run by deploy/image-smoke.sh (as root, with debootstrap): CI must install
	// debootstrap and run it, or the image is only checked as text.
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^image-smoke:\n\tdeploy/image-smoke\.sh$`).Match(mk) {
		t.Error("Makefile: no target image-smoke running deploy/image-smoke.sh")
	}
	for _, w := range []string{"debootstrap:debootstrap", "\nmake image-smoke\n"} {
		if !strings.Contains(string(ci), w) {
			t.Errorf(".ci/run does not contain %q: CI does not run the image smoke test", w)
		}
	}
}

// TestDeployExitCodes checks that docs/deploy.md's exit-code table and the Airflow DAG's constants are
// runner/outcome's codes.
func TestDeployExitCodes(t *testing.T) {
	codes := []int{outcome.ExitOK, outcome.ExitFailure, outcome.ExitInvalid, outcome.ExitBlocked, outcome.ExitLocked, outcome.ExitInterrupted}

	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs/deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The table of the section "## Exit codes ...", up to the next section.
	_, section, ok := strings.Cut(string(doc), "\n## Exit codes")
	if !ok {
		t.Fatal("docs/deploy.md has no section \"## Exit codes\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var table []int
	reasons := map[int]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| (\\d+) \\| ([^|]*)\\|").FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		table = append(table, n)
		reasons[n] = m[2]
	}
	if !slices.Equal(table, codes) {
		t.Errorf("docs/deploy.md's exit-code table lists %v, want %v (runner/outcome)", table, codes)
	}
	// The reasons the docs name are those Classify and the report give.
	for code, want := range map[int][]string{
		outcome.ExitOK:      {outcome.ReasonOK, outcome.ReasonNoop},
		outcome.ExitFailure: {outcome.ReasonReject},
	} {
		for _, w := range want {
			if !strings.Contains(reasons[code], "`"+w+"`") {
				t.Errorf("docs/deploy.md: exit %d's reasons %q do not name %s", code, reasons[code], w)
			}
		}
	}
	for _, err := range []error{&outcome.StaleError{}, &outcome.BlockedError{}, &state.LockedError{}, &state.LockLostError{}, &outcome.InterruptedError{}} {
		reason, code := outcome.Classify(err)
		if !strings.Contains(reasons[code], "`"+reason+"`") {
			t.Errorf("docs/deploy.md: exit %d's reasons %q do not name %s (Classify of %T)", code, reasons[code], reason, err)
		}
	}

	dag, err := os.ReadFile(filepath.Join(repoRoot, "deploy/airflow/possync_dag.py"))
	if err != nil {
		t.Fatal(err)
	}
	for name, code := range map[string]int{"EXIT_OK": outcome.ExitOK, "EXIT_FAILURE": outcome.ExitFailure,
		"EXIT_INVALID": outcome.ExitInvalid, "EXIT_BLOCKED": outcome.ExitBlocked, "EXIT_LOCKED": outcome.ExitLocked,
		"EXIT_INTERRUPTED": outcome.ExitInterrupted} {
		m := regexp.MustCompile(`(?m)^` + name + ` = (\d+)$`).FindStringSubmatch(string(dag))
		if m == nil || m[1] != fmt.Sprint(code) {
			t.Errorf("deploy/airflow/possync_dag.py: %s = %v, want %d", name, m, code)
		}
	}
	// The DAG never retries 2 and 3, and retries 75.
	py := string(dag)
	for _, w := range []string{"code == EXIT_INVALID:\n        raise AirflowFailException", "code == EXIT_BLOCKED:\n        raise AirflowFailException",
		"code == EXIT_LOCKED:\n        # Another run (another worker, a CronJob, a person) holds the lock: try again later.\n        raise AirflowException("} {
		if !strings.Contains(py, w) {
			t.Errorf("deploy/airflow/possync_dag.py does not map %q", strings.SplitN(w, "\n", 2)[0])
		}
	}
}
