#!/usr/bin/env bash
# image-smoke.sh: prove that deploy/Dockerfile's image works, without a Docker daemon or Docker Hub.
#
# It does what the image does, read from the Dockerfile itself (so that the two cannot drift):
#   1. the build stage: the Dockerfile's `RUN ... go build ... -o /out/possync ...` line, run as written on this
#      machine with /out/ moved to a temp dir (it also runs the line's `ldd` and `version`);
#   2. the runtime stage: a Debian bookworm root filesystem (`debootstrap --variant=minbase bookworm`, what
#      debian:bookworm-slim is made from), the runtime stage's RUN line run inside it (chroot: apt-get install
#      ca-certificates tzdata, useradd uid 10001), and the binary copied to the COPY line's destination;
#   3. runs as the image's USER (its uid and primary group), in its WORKDIR, with only its ENV and the image's
#      PATH: `possync version`; `validate` and `apply` of a file -> file pipeline with the local state under
#      POSSYNC_STATE_DIR, checking the records file and the exit codes (0; 0 with no changes on a second
#      apply; 75 while another process holds the pipeline's lock); and, when POSSYNC_TEST_PG_URL is set, the
#      same apply with the PostgreSQL state (POSSYNC_STATE_URL, over loopback: a chroot shares the network).
#
# The root filesystem takes minutes to make, so it is cached under IMAGE_SMOKE_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/possync/image-smoke), keyed by the SHA-256 of the runtime stage's text and of
# this script's recipe; a change to either makes a new one (older ones are removed).
#
# Needs root (debootstrap, chroot, mount) and debootstrap (Debian package `debootstrap`). Without them it
# prints SKIP and exits 0, except under CI=true, where it fails. Exit codes: 0 passed (or skipped), 1 failed.
# Environment: IMAGE_SMOKE_CACHE (above), IMAGE_SMOKE_MIRROR (default http://deb.debian.org/debian),
# POSSYNC_TEST_PG_URL (optional outside CI; required under CI=true), GO (default go).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
dockerfile=deploy/Dockerfile
recipe_version=1 # bump when the way the root filesystem is made changes
mirror="${IMAGE_SMOKE_MIRROR:-http://deb.debian.org/debian}"
cache="${IMAGE_SMOKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/possync/image-smoke}"
PATH="$PATH:/usr/sbin:/sbin"

say() { printf '==> %s\n' "$*"; }
fail() { printf 'image-smoke: FAIL: %s\n' "$*" >&2; exit 1; }
skip() {
	if [ "${CI:-}" = true ]; then
		fail "$* (CI=true: the image smoke test must run)"
	fi
	printf 'image-smoke: SKIP: %s\n' "$*"
	exit 0
}
# seconds since the script started, for the timings it prints.
elapsed() { echo "$((SECONDS))s"; }

[ "$(id -u)" -eq 0 ] || skip "not root (debootstrap, chroot and mount need root)"
command -v debootstrap >/dev/null 2>&1 || skip "debootstrap is not installed (apt-get install debootstrap)"
command -v chroot >/dev/null 2>&1 || skip "chroot is not installed"
if [ "${CI:-}" = true ] && [ -z "${POSSYNC_TEST_PG_URL:-}" ]; then
	fail "CI=true but POSSYNC_TEST_PG_URL is not set: the PostgreSQL state of the image cannot be checked"
fi

# --- Read the Dockerfile --------------------------------------------------------------------------------------
# instr lines: the Dockerfile with continuation lines joined and comments dropped.
joined="$(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta')"
# The runtime stage: everything after the last FROM.
runtime_stage="$(printf '%s\n' "$joined" | awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}')"
build_run="$(printf '%s\n' "$joined" | grep -E '^RUN .*go build' | head -n1 | sed -e 's/^RUN //')"
[ -n "$build_run" ] || fail "$dockerfile has no RUN line with go build"
[[ "$build_run" == *"-o /out/possync "* ]] || fail "$dockerfile's build RUN does not write -o /out/possync: $build_run"
runtime_run="$(printf '%s\n' "$runtime_stage" | grep -E '^RUN ' | sed -e 's/^RUN //')"
[ "$(printf '%s\n' "$runtime_run" | grep -c .)" -eq 1 ] || fail "$dockerfile's runtime stage must have exactly one RUN line"
copy="$(printf '%s\n' "$runtime_stage" | grep -E '^COPY --from=build ' || true)"
read -r _ _ copy_src copy_dst <<<"$copy"
[ "$copy_src" = /out/possync ] && [ -n "$copy_dst" ] || fail "$dockerfile: want COPY --from=build /out/possync DEST, got: $copy"
user="$(printf '%s\n' "$runtime_stage" | sed -n 's/^USER //p' | tail -n1)"
workdir="$(printf '%s\n' "$runtime_stage" | sed -n 's/^WORKDIR //p' | tail -n1)"
mapfile -t envs < <(printf '%s\n' "$runtime_stage" | sed -n 's/^ENV //p')
entrypoint="$(printf '%s\n' "$runtime_stage" | sed -n 's/^ENTRYPOINT \["\([^"]*\)"\]$/\1/p')"
[ -n "$user" ] && [ -n "$workdir" ] && [ "$entrypoint" = "$copy_dst" ] ||
	fail "$dockerfile: USER ($user), WORKDIR ($workdir) and ENTRYPOINT ($entrypoint = COPY's $copy_dst) expected"
state_dir=""
for e in "${envs[@]}"; do
	[[ "$e" == *=* && "$e" != *" "* ]] || fail "$dockerfile: ENV $e: only the KEY=VALUE form is supported here"
	[[ "$e" == POSSYNC_STATE_DIR=* ]] && state_dir="${e#POSSYNC_STATE_DIR=}"
done
[ -n "$state_dir" ] || fail "$dockerfile sets no POSSYNC_STATE_DIR"

work="$(mktemp -d /tmp/possync-image-smoke.XXXXXX)"
root="" # the root filesystem once made, for cleanup
cleanup() {
	local d
	for d in "$root" "$root.tmp"; do
		if [ -n "$root" ] && mountpoint -q "$d/proc" 2>/dev/null; then umount "$d/proc" || true; fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- 1. The build stage ----------------------------------------------------------------------------------------
say "build: ${build_run//\/out\//$work/out/} ($(elapsed))"
mkdir -p "$work/out"
command -v go >/dev/null 2>&1 || PATH="/usr/local/go/bin:$PATH"
(sh -ec "${build_run//\/out\//$work/out/}") || fail "the Dockerfile's build RUN failed"
say "built ($(elapsed))"

# --- 2. The runtime stage's root filesystem (cached) ------------------------------------------------------------
key="$(printf 'recipe %s\nmirror %s\n%s\n' "$recipe_version" "$mirror" "$runtime_stage" | sha256sum | cut -c1-16)"
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9 # one run at a time per cache (the runs share the cached root filesystem)
root="$cache/$key"
if [ ! -e "$root/.complete" ]; then
	say "making the root filesystem $root: debootstrap --variant=minbase bookworm ($(elapsed))"
	for d in "$root" "$root.tmp"; do
		if mountpoint -q "$d/proc" 2>/dev/null; then umount "$d/proc"; fi
	done
	rm -rf "$root" "$root.tmp"
	debootstrap --variant=minbase bookworm "$root.tmp" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
	# The sources debian:bookworm-slim has (its /etc/apt/sources.list.d/debian.sources).
	rm -f "$root.tmp/etc/apt/sources.list"
	cat >"$root.tmp/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: $mirror
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: ${mirror%/debian}/debian-security
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	# Docker provides these two files to every container (and so to the RUN line's apt-get).
	cp /etc/resolv.conf "$root.tmp/etc/resolv.conf"
	cp /etc/hosts "$root.tmp/etc/hosts"
	say "runtime RUN in the chroot: $runtime_run ($(elapsed))"
	mount -t proc proc "$root.tmp/proc"
	rc=0
	chroot "$root.tmp" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		/bin/sh -ec "$runtime_run" >"$work/run.log" 2>&1 || rc=$?
	umount "$root.tmp/proc"
	[ "$rc" -eq 0 ] || { tail -n 30 "$work/run.log" >&2; fail "the Dockerfile's runtime RUN failed in the chroot (log above)"; }
	touch "$root.tmp/.complete"
	mv "$root.tmp" "$root"
	# Older keys' root filesystems are of an older Dockerfile: remove them.
	for old in "$cache"/*/; do
		old="${old%/}"
		[ "$old" != "$root" ] || continue
		if mountpoint -q "$old/proc" 2>/dev/null; then umount "$old/proc"; fi
		rm -rf "$old"
	done
	say "root filesystem made ($(elapsed))"
else
	say "cached root filesystem $root ($(elapsed))"
fi

# --- 3. Run as the image runs ---------------------------------------------------------------------------------
install -m 0755 "$work/out/possync" "$root$copy_dst"
# USER 10001: the uid, and (as Docker does) the primary group of that uid in the image's /etc/passwd.
uid="$user"
gid="$(awk -F: -v u="$uid" '$3 == u {print $4}' "$root/etc/passwd")"
[ -n "$gid" ] || fail "uid $uid is not in the image's /etc/passwd (the runtime RUN's useradd)"
mount -t proc proc "$root/proc"
# A fresh WORKDIR and state for this run: nothing of an earlier run's state is reused.
smoke="$workdir/smoke"
rm -rf "${root:?}$smoke" "${root:?}$state_dir"
mkdir -p "$root$smoke"
cp runner/testdata/plan/first_run/input.csv "$root$smoke/input.csv"
cat >"$root$smoke/want.csv" <<-'EOF'
	sku,name,price,qty,enabled
	A-1,"Anchor, small",30.0,0,true
	B-2,Bottle,12.5,3,true
	C-3,Compass,,7,false
EOF
# pipeline NAME writes the file -> file pipeline NAME.
pipeline() {
	sed -e "s/^name: golden$/name: $1/" -e "s#path: out/records.csv#path: out-$1/records.csv#" \
		runner/testdata/plan/first_run/pipeline.yaml >"$root$smoke/$1.yaml"
}
pipeline local
chown -R "$uid:$gid" "$root$smoke"

# image [VAR=VALUE...] -- ARGS...: runs ARGS in the image as its USER, in WORKDIR, with the image's ENV and
# PATH (Docker's default) plus the given variables; output to $work/out.txt, exit code to $code.
image() {
	local extra=()
	while [ "$1" != -- ]; do extra+=("$1"); shift; done
	shift
	code=0
	chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$workdir" "${envs[@]}" "${extra[@]}" \
		/bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@" >"$work/out.txt" 2>&1 || code=$?
	sed 's/^/    /' "$work/out.txt"
}
# expect CODE WHAT: checks the last image run's exit code.
expect() {
	[ "$code" -eq "$1" ] || fail "$2: exit $code, want $1 (output above)"
}
# records NAME: checks the records file the pipeline NAME wrote.
records() {
	diff -u "$root$smoke/want.csv" "$root$smoke/out-$1/records.csv" ||
		fail "pipeline $1: the records file is not the input's records"
}

# What the runtime RUN installs for possync: the CA bundle (HTTPS APIs) and the time zones (`timezone:`).
for f in /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/Europe/Berlin; do
	[ -s "$root$f" ] || fail "the image has no $f (the runtime RUN's ca-certificates and tzdata)"
done

say "possync version ($(elapsed))"
image -- "$entrypoint" version
expect 0 "possync version"
grep -q '^duckdb: v' "$work/out.txt" || fail "possync version names no DuckDB version"

say "possync validate + apply, local state in $state_dir ($(elapsed))"
image -- "$entrypoint" validate smoke/local.yaml
expect 0 "possync validate"
image -- "$entrypoint" apply smoke/local.yaml
expect 0 "possync apply"
grep -q '^Applied: 3 created, 0 updated' "$work/out.txt" || fail "possync apply: want 3 created"
records local
[ -e "$root$state_dir/local.duckdb" ] || fail "no state file local.duckdb in $state_dir"
[ "$(stat -c %u "$root$state_dir/local.duckdb")" = "$uid" ] || fail "the state file is not owned by uid $uid"

say "possync apply again: nothing to change ($(elapsed))"
image -- "$entrypoint" apply smoke/local.yaml
expect 0 "second possync apply"
grep -q '^Applied: 0 created, 0 updated, 0 deactivated, 0 deleted' "$work/out.txt" || fail "second apply: want no changes"

say "possync apply while another process holds the lock: exit 75 ($(elapsed))"
image -- flock -n "$state_dir/local.lock" "$entrypoint" apply smoke/local.yaml
expect 75 "possync apply with the lock held"

if [ -n "${POSSYNC_TEST_PG_URL:-}" ]; then
	# A new pipeline name each run: the PostgreSQL state outlives the run.
	name="imagesmoke$(date +%s)$$"
	pipeline "$name"
	chown -R "$uid:$gid" "$root$smoke"
	say "possync apply with the PostgreSQL state (POSSYNC_STATE_URL, loopback) ($(elapsed))"
	image POSSYNC_STATE_URL="$POSSYNC_TEST_PG_URL" -- "$entrypoint" apply "smoke/$name.yaml"
	expect 0 "possync apply with the PostgreSQL state"
	grep -q '^Applied: 3 created, 0 updated' "$work/out.txt" || fail "possync apply (PostgreSQL): want 3 created"
	records "$name"
	[ ! -e "$root$state_dir/$name.duckdb" ] || fail "the PostgreSQL run wrote a local state file $name.duckdb"
	image POSSYNC_STATE_URL="$POSSYNC_TEST_PG_URL" -- "$entrypoint" apply "smoke/$name.yaml"
	expect 0 "second possync apply with the PostgreSQL state"
	grep -q '^Applied: 0 created, 0 updated, 0 deactivated, 0 deleted' "$work/out.txt" ||
		fail "second apply (PostgreSQL): want no changes"
else
	say "POSSYNC_TEST_PG_URL is not set: the PostgreSQL state is not checked"
fi

say "image smoke test passed ($(elapsed))"
