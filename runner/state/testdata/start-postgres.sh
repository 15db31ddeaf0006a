#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for the PostgreSQL state backend's tests: initdb into a
# temporary folder, trust authentication on loopback, a random free port. PostgreSQL refuses to run as root,
# so as root it runs the cluster as the user `postgres` (created by Debian's package) or `nobody`.
# It finds the server binaries on PATH or under /usr/lib/postgresql/<version>/bin (Debian's layout).
# On success it prints shell export lines (.ci/run evals them):
#   POSSYNC_TEST_PG_URL (postgres://…@127.0.0.1:PORT/postgres), POSSYNC_TEST_PG_DATA (the cluster folder),
#   POSSYNC_TEST_PG_PID (the postmaster: `kill -INT` stops it fast, also when the caller is root).
# Everything else goes to stderr; the server's log goes to its folder.
set -euo pipefail

bin=""
if command -v initdb >/dev/null 2>&1; then
	bin="$(dirname "$(command -v initdb)")"
else
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ]; then bin="$d"; break; fi
	done
fi
[ -n "$bin" ] || { echo "start-postgres: initdb not found (install Debian's postgresql package)" >&2; exit 1; }

work="$(mktemp -d /tmp/possync-pg.XXXXXX)"
runas=()
if [ "$(id -u)" -eq 0 ]; then
	user=postgres
	id "$user" >/dev/null 2>&1 || user=nobody
	chown "$user" "$work"
	runas=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
	command -v setpriv >/dev/null 2>&1 || runas=(su -s /bin/sh "$user" -c)
fi
run() {
	if [ "${#runas[@]}" -eq 0 ]; then "$@"; elif [ "${runas[0]}" = su ]; then "${runas[@]}" "$(printf '%q ' "$@")"; else "${runas[@]}" "$@"; fi
}

free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 30000))
	if free "$p"; then port="$p"; break; fi
done
[ -n "$port" ] || { echo "start-postgres: no free port found" >&2; exit 1; }

run "$bin/initdb" -D "$work/data" -U possync --auth=trust --no-sync -E UTF8 --locale=C >"$work/initdb.log" 2>&1 ||
	{ echo "start-postgres: initdb failed:" >&2; cat "$work/initdb.log" >&2; exit 1; }
# Loopback only, no Unix socket in a system folder; fsync off: a throwaway test cluster.
run "$bin/pg_ctl" -D "$work/data" -l "$work/data/server.log" -w -t 60 \
	-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$work' -c fsync=off -c full_page_writes=off -c max_connections=200" \
	start >&2 || { echo "start-postgres: the server did not start:" >&2; cat "$work/data/server.log" >&2; exit 1; }
pid="$(head -n 1 "$work/data/postmaster.pid")"
echo "start-postgres: PostgreSQL ($bin, pid $pid) on 127.0.0.1:$port, data in $work/data" >&2

cat <<VARS
export POSSYNC_TEST_PG_URL=postgres://possync@127.0.0.1:$port/postgres?sslmode=disable
export POSSYNC_TEST_PG_DATA=$work/data
export POSSYNC_TEST_PG_PID=$pid
VARS
