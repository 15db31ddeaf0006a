#!/usr/bin/env bash
# Starts vsftpd on 127.0.0.1 for the ascend source's tests against a real FTP daemon. Needs root (it adds the
# local FTP user 4321 with a random password), vsftpd and openssl. On success it prints shell export lines
# for the tests (.ci/run evals them):
#   POSSYNC_TEST_FTP_ADDR, POSSYNC_TEST_FTP_USER, POSSYNC_TEST_FTP_PASSWORD, POSSYNC_TEST_FTP_DIR (the local
#   folder the user sees as /), POSSYNC_TEST_FTPS_ADDR, POSSYNC_TEST_FTPS_CA (PEM of the self-signed
#   certificate), POSSYNC_TEST_FTPS_FINGERPRINT (its SHA-256), POSSYNC_TEST_VSFTPD_PID (to stop it).
# Everything else goes to stderr; the daemon's own output goes to a log in its work folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vsftpd="$(command -v vsftpd || echo /usr/sbin/vsftpd)"
user=4321

work="$(mktemp -d /tmp/possync-vsftpd.XXXXXX)"
root="$work/root"
mkdir -p "$root" /var/run/vsftpd/empty
chmod 755 "$work" "$root"

# The user's shell must be listed in /etc/shells for PAM (pam_shells); 4-digit names need --badname.
if ! id "$user" >/dev/null 2>&1; then
	useradd --badname --no-create-home --home-dir "$root" --shell /bin/sh "$user" >&2 2>/dev/null ||
		useradd --no-create-home --home-dir "$root" --shell /bin/sh "$user" >&2
else
	# Left by an earlier run on this machine: its home is that run's (removed) folder.
	usermod --home "$root" --shell /bin/sh "$user" >&2
fi
password="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
echo "$user:$password" | chpasswd

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
fingerprint="$(openssl x509 -in "$work/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)"

# A free control port with ten free passive ports above it.
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 50); do
	port=$((20000 + RANDOM % 30000))
	ok=1
	for p in $(seq "$port" $((port + 10))); do free "$p" || { ok=0; break; }; done
	[ "$ok" = 1 ] && break
done
[ "$ok" = 1 ] || { echo "start-vsftpd: no free port range found" >&2; exit 1; }

"$vsftpd" "$here/vsftpd.conf" -olisten_port="$port" -opasv_min_port=$((port + 1)) -opasv_max_port=$((port + 10)) \
	-olocal_root="$root" -orsa_cert_file="$work/cert.pem" -orsa_private_key_file="$work/key.pem" \
	</dev/null >"$work/vsftpd.log" 2>&1 &
pid=$!

for _ in $(seq 50); do
	free "$port" || break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start-vsftpd: vsftpd exited:" >&2
		cat "$work/vsftpd.log" >&2
		exit 1
	fi
	sleep 0.1
done
if free "$port"; then
	echo "start-vsftpd: vsftpd is not listening on 127.0.0.1:$port" >&2
	kill "$pid" 2>/dev/null || true
	exit 1
fi
echo "start-vsftpd: vsftpd (pid $pid) serves $root on 127.0.0.1:$port" >&2

cat <<VARS
export POSSYNC_TEST_FTP_ADDR=127.0.0.1:$port
export POSSYNC_TEST_FTP_USER=$user
export POSSYNC_TEST_FTP_PASSWORD=$password
export POSSYNC_TEST_FTP_DIR=$root
export POSSYNC_TEST_FTPS_ADDR=127.0.0.1:$port
export POSSYNC_TEST_FTPS_CA=$work/cert.pem
export POSSYNC_TEST_FTPS_FINGERPRINT=$fingerprint
export POSSYNC_TEST_VSFTPD_PID=$pid
VARS
