#!/bin/bash
# The Debian package, built and installed as an operator would (issue 20):
#   1. builds it with dpkg-buildpackage from an exported copy of the source
#      (git ls-files: the working tree, never the repository itself), and runs
#      lintian on it (errors fail the test, warnings are printed);
#   2. makes a fresh Debian 12 root with mmdebstrap (MariaDB, lighttpd, curl);
#   3. installs the package there (dpkg -i, apt-get -f install), with a
#      policy-rc.d so nothing starts at install, and checks what the postinst
#      made (user, /etc/lanyard/jwt.pem root:lanyard 0640);
#   4. follows doc/operations.md "Installing the Debian package" step by step:
#      database, password file, lanyard.yaml, migrate, the lighttpd snippet,
#      and asks lighttpd for /api/health.
# The only deviations from the doc: MariaDB and lighttpd are started by hand
# in the root (no systemd there), MariaDB with no TCP port (socket only) and
# lighttpd on a free loopback port, so that they collide with nothing on the
# host; both are stopped by PID.
# Everything (source copy, debs, the root, apt's downloads) is under
# BUILDDIR/pkg-deb; the root is removed after a pass and kept after a failure.
# Usage: tests/pkg/test-deb.sh [BUILDDIR]   (root; about 3-5 minutes)
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-${LANYARD_BUILDDIR:-$srcdir/build}}
mkdir -p "$builddir" && builddir=$(cd "$builddir" && pwd)
work=$builddir/pkg-deb
root=$work/root
suite=bookworm
mirror=${LANYARD_DEB_MIRROR:-http://deb.debian.org/debian}

say() { printf 'test-deb: %s\n' "$*"; }
fail() { printf 'test-deb: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { say "SKIP: needs root (mmdebstrap, chroot, mount)"; exit 77; }
for t in dpkg-buildpackage lintian mmdebstrap git; do
    command -v "$t" >/dev/null || fail "$t missing (tests/run-all.sh install_packages)"
done
git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
    { say "SKIP: $srcdir is not a git checkout (the source is exported with git ls-files)"; exit 77; }

mariadb_pid= lighttpd_pid=
cleanup() {
    local rc=$?
    [ -n "$lighttpd_pid" ] && kill "$lighttpd_pid" 2>/dev/null && wait "$lighttpd_pid" 2>/dev/null
    [ -n "$mariadb_pid" ] && kill "$mariadb_pid" 2>/dev/null && wait "$mariadb_pid" 2>/dev/null
    mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
    if [ $rc -eq 0 ]; then rm -rf "$root"; else say "kept $root for inspection"; fi
    return $rc
}
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work/src" "$work/tmp"
export TMPDIR=$work/tmp

# 1. Build from an export of the working tree (tracked and new files, the
#    ignored ones left out), so the repository gets no debian/.debhelper,
#    ../*.deb or build tree of the package's own.
version=$(dpkg-parsechangelog -l "$srcdir/debian/changelog" -S Version)
exp=$work/src/lanyard-$version
mkdir -p "$exp"
(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$exp"
say "building lanyard $version in $exp"
(cd "$exp" && dpkg-buildpackage -us -uc -b -j"${LANYARD_DEB_JOBS:-2}") >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "dpkg-buildpackage (log: $work/build.log)"; }
deb=$(ls "$work"/src/lanyard_"$version"_*.deb)
dpkg-deb -c "$deb" >"$work/contents.txt"
for f in ./usr/sbin/lanyard ./usr/sbin/lanyardctl ./usr/bin/lanyard-login \
         ./usr/share/lanyard/schema/001_init.sql ./etc/lanyard/lanyard.yaml.example \
         ./etc/lanyard/lighttpd/lanyard.conf ./etc/lanyard/apache2/lanyard.conf \
         ./etc/lanyard/nginx/lanyard-forward-auth.conf ./etc/lanyard/nginx/lanyard-forward-auth-fastcgi.conf \
         ./usr/share/lanyard/console/index.html \
         ./lib/systemd/system/lanyard.service ./lib/systemd/system/lanyard-purge.timer \
         ./usr/share/man/man8/lanyard.8.gz ./usr/share/man/man8/lanyardctl.8.gz \
         ./usr/share/doc/lanyard/copyright ./usr/share/doc/lanyard/operations.md; do
    grep -q " $f\$" "$work/contents.txt" || fail "package lacks $f"
done
lintian --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
if grep -q '^E:' "$work/lintian.txt"; then fail "lintian reports errors"; fi
say "package built: $deb, lintian: no errors ($(grep -c '^W:' "$work/lintian.txt" || true) warnings)"

# 2. A fresh root. apt's lists are kept for the apt-get -f install below.
say "mmdebstrap $suite into $root"
mmdebstrap --variant=apt --skip=cleanup/apt/lists \
    --include=mariadb-server,lighttpd,curl,adduser \
    "$suite" "$root" "$mirror" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -20 "$work/mmdebstrap.log"; fail "mmdebstrap (log: $work/mmdebstrap.log)"; }
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The host's environment (TMPDIR above, the CI's variables) stays outside.
root_env=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8)
in_root() { chroot "$root" "${root_env[@]}" "$@"; }
# No daemon starts at install (invoke-rc.d asks this).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# 3. Install.
cp "$deb" "$root/tmp/"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1 || true
in_root apt-get -f install -y -q >>"$work/install.log" 2>&1 ||
    { tail -20 "$work/install.log"; fail "apt-get -f install"; }
[ "$(in_root dpkg-query -W -f='${Status}' lanyard)" = "install ok installed" ] ||
    { tail -20 "$work/install.log"; fail "lanyard is not installed"; }
in_root getent passwd lanyard >/dev/null || fail "no lanyard user"
[ "$(in_root stat -c '%U:%G %a' /etc/lanyard/jwt.pem)" = "root:lanyard 640" ] ||
    fail "jwt.pem is $(in_root stat -c '%U:%G %a' /etc/lanyard/jwt.pem), not root:lanyard 640"
grep -q 'BEGIN PRIVATE KEY' "$root/etc/lanyard/jwt.pem" || fail "jwt.pem holds no PEM key"
in_root systemctl is-enabled lanyard.service >/dev/null 2>&1 && fail "lanyard.service enabled at install"
say "installed: user lanyard, /etc/lanyard/jwt.pem root:lanyard 0640, units not enabled"

# 4. doc/operations.md, "Installing the Debian package".
# MariaDB, as its unit would (no TCP port: the package's config uses the socket).
mkdir -p "$root/run/mysqld"; in_root chown mysql:mysql /run/mysqld
# chroot and env exec: $! is mariadbd's PID (likewise lighttpd's below).
chroot "$root" "${root_env[@]}" /usr/sbin/mariadbd --user=mysql --skip-networking \
    --socket=/run/mysqld/mysqld.sock >"$work/mariadb.log" 2>&1 &
mariadb_pid=$!
for _ in $(seq 1 60); do
    in_root mariadb -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$mariadb_pid" 2>/dev/null || { cat "$work/mariadb.log"; fail "mariadbd exited"; }
    sleep 0.5
done
in_root mariadb -e 'SELECT 1' >/dev/null || fail "mariadbd not ready after 30 s"

# Step 1: the database and its user (the password is generated, not typed).
in_root sh -ec '
umask 027
head -c 24 /dev/urandom | base64 | tr -d "/+=" > /etc/lanyard/db-password
chown root:lanyard /etc/lanyard/db-password
mariadb <<SQL
CREATE DATABASE lanyard CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER "lanyard"@"localhost" IDENTIFIED BY "$(cat /etc/lanyard/db-password)";
GRANT ALL ON lanyard.* TO "lanyard"@"localhost";
SQL'
# Step 2: the config, from the example, on the unix socket.
in_root sh -ec '
cp /etc/lanyard/lanyard.yaml.example /etc/lanyard/lanyard.yaml
sed -i "s|^  socket: \"\"|  socket: /run/mysqld/mysqld.sock|" /etc/lanyard/lanyard.yaml
chown root:lanyard /etc/lanyard/lanyard.yaml
chmod 0640 /etc/lanyard/lanyard.yaml'
grep -q '^  socket: /run/mysqld/mysqld.sock' "$root/etc/lanyard/lanyard.yaml" ||
    fail "the example's database.socket line was not found"
# Step 3: check, migrate, the first administrator.
in_root lanyardctl -c /etc/lanyard/lanyard.yaml config check >/dev/null || fail "config check"
in_root lanyardctl -c /etc/lanyard/lanyard.yaml migrate || fail "migrate"
in_root sh -ec 'umask 077; head -c 18 /dev/urandom | base64 > /root/admin-pw'
in_root lanyardctl -c /etc/lanyard/lanyard.yaml bootstrap --email admin@example.com \
    --password-file /root/admin-pw || fail "bootstrap"
# Step 4: lighttpd spawns the workers (as www-data, added to group lanyard).
in_root adduser --quiet www-data lanyard
in_root sh -ec '
cat > /etc/lighttpd/conf-available/50-lanyard.conf <<CONF
var.lanyard_bin     = "/usr/sbin/lanyard"
var.lanyard_config  = "/etc/lanyard/lanyard.yaml"
var.lanyard_socket  = "/run/lighttpd/lanyard.sock"
var.lanyard_procs   = 2
var.lanyard_console = "/usr/share/lanyard/console"
include "/etc/lanyard/lighttpd/lanyard.conf"
CONF
lighttpd-enable-mod lanyard'
# The test's own port, on loopback (Debian's lighttpd.conf says 80).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i -e "s/^server.port *=.*/server.port = $port/" "$root/etc/lighttpd/lighttpd.conf"
echo 'server.bind = "127.0.0.1"' >>"$root/etc/lighttpd/lighttpd.conf"
in_root lighttpd -tt -f /etc/lighttpd/lighttpd.conf || fail "lighttpd -tt"
mkdir -p "$root/run/lighttpd"; in_root chown www-data:www-data /run/lighttpd
chroot "$root" "${root_env[@]}" /usr/sbin/lighttpd -D -f /etc/lighttpd/lighttpd.conf >"$work/lighttpd.log" 2>&1 &
lighttpd_pid=$!

body=
for _ in $(seq 1 60); do
    body=$(curl -s --max-time 5 "http://127.0.0.1:$port/api/health" || true)
    case $body in *'"status":"ok"'*) break ;; esac
    kill -0 "$lighttpd_pid" 2>/dev/null || { cat "$work/lighttpd.log"; fail "lighttpd exited"; }
    sleep 0.5
done
say "GET /api/health: $body"
case $body in
    *'"status":"ok"'*'"database":"ok"'*) ;;
    *) cat "$work/lighttpd.log"; tail -5 "$root/var/log/lighttpd/error.log" 2>/dev/null
       fail "/api/health through lighttpd is not ok" ;;
esac
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/console/")
[ "$code" = 200 ] || fail "GET /console/ answered $code, not 200"
say "PASS: package built, installed in a fresh root, /api/health ok through lighttpd"
