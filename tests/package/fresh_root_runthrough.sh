#!/usr/bin/env bash
# tests/package/fresh_root_runthrough.sh — a new operator's run through
# README.md and docs/deploy.md on a fresh Debian 12 root (issue 22), timed.
#
# NOT part of `make test` / CI: it needs root, debootstrap, the Debian mirror
# and several minutes (a full debootstrap, the build dependencies, a package
# build and apache2 + PostgreSQL downloaded afresh, with no cache).  Run it by
# hand:
#
#     sudo tests/package/fresh_root_runthrough.sh
#
# What it does, in the order of the docs, each step printed PASS or FAIL:
#   - debootstrap bookworm (the default variant, what a minimal Debian 12
#     server has) into a new directory, from the mirror this host's apt uses;
#     /proc /sys /dev /dev/pts, a private /dev/shm and /run mounted; no
#     systemd inside;
#   - a git clone of this checkout's HEAD into /root/mod_shop (the operator's
#     checkout; uncommitted changes are not in it);
#   - deploy.md §1: the prerequisites, `make deb`, `apt-get install ./dist/…deb`;
#   - §2 the roles and database (the doc's own SQL blocks), §3
#     `mod-shop-migrate` with ~/.pgpass, §4 the site, a2enmod, configtest,
#     restart; the first 200 of /api/health/ready (the time to first 200);
#   - the first user and product with the admin POSTs, htpasswd, Basic auth
#     (200 / 401 / 403), a charge and an order as that user; a graceful reload;
#     `mod-shop-migrate --from-apache-conf --user shop_owner`;
#   - several sites: a second site on the same database is the same shop
#     (one name in /api/admin/status and /server-status?auto);
#   - backup and restore: pg_dump as the owner, pg_restore into a second
#     database made as in §2, mod-shop-migrate applies none;
#   - §9 `apt-get remove` with both sites enabled: exit 0, the sites named,
#     configtest passes; purge; apache2 restarted with both sites enabled
#     serves them without the API.
#
# Services run in a private network namespace (nsenter), so the doc's ports
# (80, 8080, 5432 on 127.0.0.1) are used as written and nothing of this host
# is touched.  Downloads happen outside it: each documented `apt-get install`
# is run first with --download-only (outside), then as written (inside, so
# that the packages' own scripts start apache2 and PostgreSQL as on a real
# machine).  There is no systemd: where deploy.md says `systemctl X apache2`
# the run uses `service apache2 X` (Debian's init script), as deploy.md says
# for a machine without systemd.
#
# Cleanup (a trap, every exit path): apache2 and PostgreSQL by their pid
# files, then every process whose root is the fresh root, by PID; the network
# namespace; unmounts in reverse order; the root directory (FRESH_KEEP=1
# keeps it, unmounted). The logs stay beside it, in <root>.logs/.
#
# Environment:
#   FRESH_ROOT=dir        where to debootstrap (default: a new /tmp/fresh-root.XXXXXX)
#   FRESH_MIRROR=url      Debian mirror (default: the one this host's apt uses)
#   FRESH_VARIANT=name    debootstrap --variant (default: none, i.e. required + important)
#   FRESH_KEEP=1          keep the root directory afterwards
#
# Prints the timings (total to the first 200; debootstrap; apt; build) and
# "fresh-root: N passed, M failed" last; exits non-zero if a step failed.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
HERE=$ROOT/tests/package
# host_mirror, chroot_cmd, wait_gone, procs_in_root
. "$HERE/lib.sh"
SUITE=bookworm
DEPLOY_MD=$ROOT/docs/deploy.md

[[ $(id -u) == 0 ]] || { echo "fresh_root_runthrough.sh: must run as root (debootstrap, chroot, mount)" >&2; exit 2; }

START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PASS=0 FAIL=0
FAILED=()
declare -A T=()          # timings, seconds
APT_S=0                  # every apt-get the operator runs, downloads included
exec 3>&1 4>&2

log() { printf 'fresh-root: %s\n' "$*"; }
pass() { PASS=$((PASS + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); FAILED+=("$*"); printf 'FAIL %s\n' "$*"; }
check() {                # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; return 0; fi
    fail "$what"; return 1
}
die() { fail "$*"; exit 1; }
elapsed() { echo $((SECONDS - START)); }
# poll SECONDS CMD...: until CMD succeeds.
poll() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# ---------------------------------------------------------- the root ---

if [[ -n ${FRESH_ROOT:-} ]]; then
    [[ ! -e $FRESH_ROOT ]] || [[ -z $(ls -A "$FRESH_ROOT") ]] || { echo "FRESH_ROOT=$FRESH_ROOT is not empty" >&2; exit 2; }
    mkdir -p "$FRESH_ROOT"
    R=$(realpath -- "$FRESH_ROOT")
else
    R=$(mktemp -d /tmp/fresh-root.XXXXXX)
fi
chmod 755 "$R"
LOGS=$R.logs
mkdir -p "$LOGS"
MOUNTS=()
NS=modshop-fresh-$$
NSPATH=/run/netns/$NS
AP_PIDFILE=/run/apache2/apache2.pid          # inside the root (its /run is our tmpfs)
PG_PIDFILE=/var/lib/postgresql/15/main/postmaster.pid

root_pid() {             # the live PID in a pid file inside the root
    local f=$R$1 p
    [[ -r $f ]] || return 1
    p=$(head -n 1 "$f" 2>/dev/null | tr -dc 0-9)
    [[ -n $p ]] && kill -0 "$p" 2>/dev/null || return 1
    echo "$p"
}

cleanup() {
    local rc=$? p pids i m
    exec 1>&3 2>&4
    trap - EXIT INT TERM
    set +e
    if p=$(root_pid "$AP_PIDFILE"); then
        kill -TERM "$p"; wait_gone "$p" 15 || kill -KILL "$p"
    fi
    if p=$(root_pid "$PG_PIDFILE"); then
        kill -INT "$p"; wait_gone "$p" 15 || kill -KILL "$p"
    fi
    pids=$(procs_in_root)
    if [[ -n $pids ]]; then
        log "cleanup: stopping leftover processes in the root: $(echo $pids)"
        kill -KILL $pids 2>/dev/null
        for p in $pids; do wait_gone "$p" 5; done
    fi
    [[ ! -e $NSPATH ]] || ip netns delete "$NS" || log "cleanup: cannot delete netns $NS"
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${MOUNTS[i]}
        mountpoint -q "$m" 2>/dev/null || continue
        umount "$m" 2>/dev/null || umount -l "$m" || log "cleanup: cannot unmount $m"
    done
    if grep -qF " $R/" /proc/self/mountinfo; then
        fail "cleanup: mounts left below $R"
    elif [[ ${FRESH_KEEP:-} == 1 ]]; then
        log "FRESH_KEEP=1: root kept: $R (logs: $LOGS)"
    else
        rm -rf "$R"
    fi
    ((rc == 0)) || [[ -n ${DIED:-} ]] || fail "aborted (exit $rc)"
    report
    ((FAIL == 0)) || exit 1
    exit "$rc"
}
report() {
    printf '\n'
    log "timings (seconds):"
    local k
    for k in first_200 operator_to_200 debootstrap apt_to_200 build_deps build apt total; do
        [[ -z ${T[$k]:-} ]] || printf '  %-16s %s\n' "$k" "${T[$k]}"
    done
    echo "  (first_200: from the first command (debootstrap) to the first 200 of /api/health/ready;"
    echo "  operator_to_200: the same from the operator's first apt-get on the new machine; apt: every"
    echo "  apt-get of the docs, downloads included, apt_to_200 those before the first 200;"
    echo "  build_deps: make deb installing its build dependencies; build: the rest of make deb)"
    log "load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
    if ((${#FAILED[@]})); then log "failed:"; printf '  - %s\n' "${FAILED[@]}"; fi
    log "logs: $LOGS (kept; the root itself is removed unless FRESH_KEEP=1)"
    printf 'fresh-root: %d passed, %d failed\n' "$PASS" "$FAIL"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MIRROR=${FRESH_MIRROR:-$(host_mirror "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=$(host_mirror "$SUITE-security")

command -v debootstrap >/dev/null || apt-get install -y debootstrap >/dev/null
t0=$SECONDS
log "debootstrap ${FRESH_VARIANT:+--variant=$FRESH_VARIANT }$SUITE $R $MIRROR (log: $LOGS/debootstrap.log)"
debootstrap ${FRESH_VARIANT:+--variant=$FRESH_VARIANT} "$SUITE" "$R" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
    { tail -n 20 "$LOGS/debootstrap.log"; die "debootstrap"; }
T[debootstrap]=$((SECONDS - t0))
pass "debootstrap $SUITE (${T[debootstrap]}s)"
{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ -z $SECURITY_MIRROR ]] || echo "deb $SECURITY_MIRROR $SUITE-security main"
} >"$R/etc/apt/sources.list"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"

mount -t proc proc "$R/proc" && MOUNTS+=("$R/proc")
{ mount -t sysfs -o ro sysfs "$R/sys" 2>/dev/null || mount --bind -o ro /sys "$R/sys"; } && MOUNTS+=("$R/sys")
mount --bind /dev "$R/dev" && MOUNTS+=("$R/dev")
mount --bind /dev/pts "$R/dev/pts" && MOUNTS+=("$R/dev/pts")
mount -t tmpfs -o mode=1777,size=256m shm "$R/dev/shm" && MOUNTS+=("$R/dev/shm")
mount -t tmpfs -o mode=755 run "$R/run" && MOUNTS+=("$R/run")
install -d -m 1777 "$R/run/lock"
ip netns add "$NS"
ip -n "$NS" link set lo up

net_root() { chroot_cmd "$R" "$@"; }                       # the host's network: downloads
ns_root() { local CHROOT_WRAP=(nsenter "--net=$NSPATH"); chroot_cmd "$R" "$@"; }   # the private one
# apt_doc LOGNAME ARGS...: a documented `apt-get ARGS` (timed): the downloads
# outside the namespace, then the command as written inside it.
apt_doc() {
    local name=$1 t=$SECONDS rc=0; shift
    if [[ $1 == update ]]; then
        net_root apt-get "$@" >>"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
    else
        [[ $1 != install ]] ||
            net_root apt-get -y --download-only -o Dpkg::Use-Pty=0 "$@" >>"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
        ((rc)) || ns_root apt-get -y -o Dpkg::Use-Pty=0 "$@" >>"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
    fi
    APT_S=$((APT_S + SECONDS - t))
    return "$rc"
}
# Commands of the operator, in /root (their home), inside the namespace.
sh_root() { ns_root bash -c "cd /root && $1"; }
ok_out() {               # ok_out DESCRIPTION CMD: run, log the output, check the exit status
    local out rc=0
    out=$(sh_root "$2" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/    | /' >>"$LOGS/steps.log"
    printf '%s\n' "$out" | sed 's/^/    | /' | tail -n 4
    check "$1" test "$rc" = 0
}
http_code() { sh_root "curl -s -o /dev/null -w '%{http_code}' --max-time 5 $1" 2>/dev/null || true; }

# ------------------------------------------- deploy.md §1: packages ---

# Every `apt-get update` / `apt-get install <name>` line of §1, as written
# (the prerequisites and the build tools), in order.
mapfile -t APT_LINES < <(awk '/^## 1\. /{s=1; next} /^## /{s=0} s' "$ROOT/docs/deploy.md" |
    grep -E '^apt-get (update|install [a-z])' | sed -E 's/ *#.*//')
((${#APT_LINES[@]})) || die "§1 has no apt-get line"
OPERATOR_START=$SECONDS      # the operator's first command on the new machine
for line in "${APT_LINES[@]}"; do
    read -r -a args <<<"${line#apt-get }"
    check "§1 $line" apt_doc apt-prereq "${args[@]}" ||
        { tail -n 20 "$LOGS/apt-prereq.log"; die "§1 $line (see $LOGS/apt-prereq.log)"; }
done

# "git clone <this repository's URL> mod_shop && cd mod_shop": this checkout's
# HEAD, cloned from the host (the root reaches only Debian's mirror).
git clone -q --no-hardlinks "$ROOT" "$R/root/mod_shop"
pass "§1 git clone: /root/mod_shop at $(git -C "$R/root/mod_shop" log -1 --format=%h)"

# A real Debian starts what it installs; without systemd, invoke-rc.d runs the
# init scripts. Whatever did not start is started as deploy.md says.
started() { root_pid "$1" >/dev/null; }
if poll 2 started "$PG_PIDFILE"; then
    pass "installing postgresql started the cluster 15/main"
else
    log "postgresql did not start on installation: service postgresql start"
    ok_out "service postgresql start" "service postgresql start" || true
fi
check "PostgreSQL is running" poll 20 started "$PG_PIDFILE" || die "no PostgreSQL"
if poll 2 started "$AP_PIDFILE"; then
    pass "installing apache2 started apache2"
else
    log "apache2 did not start on installation: service apache2 start"
    ok_out "service apache2 start" "service apache2 start" || true
fi

# make deb: the build dependencies (installed by build-deb itself) timed apart
# from the build. Outside the namespace (it downloads); policy-rc.d keeps
# those installs from (re)starting services on the host's network.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
t0=$SECONDS
deps_done=
while IFS= read -r line; do
    printf '%s\n' "$line" >>"$LOGS/make-deb.log"
    [[ -n $deps_done || $line != "build-deb: source:"* ]] || deps_done=$((SECONDS - t0))
done < <(net_root bash -c 'cd /root/mod_shop && make deb; echo "make-deb-exit=$?"' 2>&1 </dev/null)
rm -f "$R/usr/sbin/policy-rc.d"
T[build_deps]=${deps_done:-?}
T[build]=$((SECONDS - t0 - ${deps_done:-0}))
APT_S=$((APT_S + ${deps_done:-0}))
if grep -qx 'make-deb-exit=0' "$LOGS/make-deb.log"; then
    pass "§1 make deb (build deps ${T[build_deps]}s, build ${T[build]}s)"
else
    tail -n 20 "$LOGS/make-deb.log"
    die "§1 make deb (see $LOGS/make-deb.log)"
fi
DEB=$(cd "$R/root/mod_shop" && ls dist/libapache2-mod-shop_*.deb | head -n 1)
VERSION=$(dpkg-deb -f "$R/root/mod_shop/$DEB" Version)
check "§1 the version names the commit (0.1.0+git<N>.<hash>-1): $VERSION" \
    grep -qE "^0\.1\.0\+git[0-9]+\.$(git -C "$R/root/mod_shop" rev-parse --short=7 HEAD)-1\$" <<<"$VERSION" || true
# "apt-get install ./dist/libapache2-mod-shop_*.deb" (from the checkout).
t0=$SECONDS
if net_root bash -c "cd /root/mod_shop && apt-get install -y --download-only ./dist/libapache2-mod-shop_*.deb" >>"$LOGS/apt-deb.log" 2>&1 </dev/null &&
   ns_root bash -c "cd /root/mod_shop && apt-get install -y -o Dpkg::Use-Pty=0 ./dist/libapache2-mod-shop_*.deb" >>"$LOGS/apt-deb.log" 2>&1 </dev/null; then
    pass "§1 apt-get install ./$DEB"
else
    tail -n 20 "$LOGS/apt-deb.log"
    die "§1 apt-get install ./$DEB"
fi
APT_S=$((APT_S + SECONDS - t0))
T[apt]=$APT_S
check "§1 the package enabled nothing" test ! -e "$R/etc/apache2/mods-enabled/shop.load" || true
# Where the example site, shop.conf and mod-shop-migrate(8) say deploy.md is,
# and the files its links name.
for f in README deploy operations design log-messages directives api; do
    check "§1 the package ships /usr/share/doc/libapache2-mod-shop/$f.md" \
        test -f "$R/usr/share/doc/libapache2-mod-shop/$f.md" || true
done

# -------------------------------------------- deploy.md §2: database ---

# The doc's own SQL blocks (doc_sql: the markers test_migrate.sh uses).
doc_sql superuser >"$R/root/superuser.sql"
ok_out "§2 the superuser block (roles shop_owner and shop, database shop)" \
    "cd /tmp && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 </root/superuser.sql" || die "§2 database"
# pg_hba.conf: Debian's default already has "host all all 127.0.0.1/32
# scram-sha-256", which the example site's host=localhost uses.
check "§2 Debian's pg_hba.conf lets both roles in over 127.0.0.1 (scram-sha-256)" \
    grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+scram-sha-256' "$R/etc/postgresql/15/main/pg_hba.conf" || true

# ----------------------------------------------- deploy.md §3: migrate ---

printf 'localhost:5432:shop:shop_owner:owner-secret\n' >"$R/root/.pgpass"
chmod 600 "$R/root/.pgpass"
out=$(sh_root "mod-shop-migrate --dsn 'host=localhost dbname=shop user=shop_owner'" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | sed 's/^/    | /'
check "§3 mod-shop-migrate --dsn … user=shop_owner with ~/.pgpass" test "$rc" = 0 || die "§3 migrate"
n_mig=$(ls "$R/usr/share/mod-shop/sql/migrations/"*.sql | wc -l)
# The doc's sample output: the same lines (the migration names and counts).
doc_out=$(awk '/^mod-shop-migrate: /' "$ROOT/docs/deploy.md" | sed -E 's/^(mod-shop-migrate: database shop as shop_owner, migrations from).*/\1/')
got_out=$(sed -E 's/^(mod-shop-migrate: database shop as shop_owner, migrations from).*/\1/' <<<"$out")
check "§3 the output is the one deploy.md shows ($n_mig migrations)" test "$doc_out" = "$got_out" ||
    diff <(echo "$doc_out") <(echo "$got_out") | sed 's/^/    doc vs run: /' || true
doc_sql after-migrate >"$R/root/after-migrate.sql"
ok_out "§2 the after-migrate block" \
    "cd /tmp && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d shop </root/after-migrate.sql" || true

# -------------------------------------------- deploy.md §4: the site ---

# The block of §4 as written, but: `editor` is the operator's edit (the
# runtime role's password; the rest of the example stays), and systemctl
# (no systemd here) is Debian's init script through `service`.
awk '/^## 4\. /{s=1} s && /^```sh/{b=1; next} b && /^```/{exit} b{print}' "$ROOT/docs/deploy.md" |
    sed -E 's/^editor +(\S+).*/sed -i "s#password=CHANGE-ME#password=runtime-secret#" \1/;
            s/^systemctl (\w+) apache2/service apache2 \1/' >"$R/root/enable.sh"
sed 's/^/    §4: /' "$R/root/enable.sh"
t0=$SECONDS
ok_out "§4 the block as written (site, a2enmod, a2ensite, configtest, restart)" "set -e; . /root/enable.sh" || true
check "§4 the site file is root:root 0640" test "$(stat -c '%U:%G %a' "$R/etc/apache2/sites-available/shop.conf")" = "root:root 640" || true
for m in shop dbd slotmem_shm unique_id mpm_worker auth_basic authn_file authz_user reqtimeout; do
    check "§4 module $m enabled" test -L "$R/etc/apache2/mods-enabled/$m.load" || true
done
check "§4 mpm_event disabled" test ! -e "$R/etc/apache2/mods-enabled/mpm_event.load" || true
check "§4 apache2 runs after the restart" poll 20 started "$AP_PIDFILE" || true

API=http://127.0.0.1:8080/api
code=
first_200() { code=$(http_code "$API/health/ready"); [[ $code == 200 ]]; }
if poll 60 first_200; then
    T[first_200]=$(elapsed)
    T[operator_to_200]=$((SECONDS - OPERATOR_START))
    T[apt_to_200]=$APT_S
    pass "§4 first 200: GET /api/health/ready through the system apache2, $(elapsed)s after the first command"
else
    fail "§4 /api/health/ready answers $code, not 200 (see /var/log/apache2/shop_error.log)"
fi
check "§4 /api/health answers 200" test "$(http_code "$API/health")" = 200 || true
check "the default site (port 80) still answers and serves no API" \
    test "$(http_code http://127.0.0.1/api/health)" = 404 || true

# ------------------------------------ the first user and product (§4) ---

ok_json() {              # ok_json DESCRIPTION CMD REGEX: the output matches REGEX
    local out
    out=$(sh_root "$2" 2>&1 || true)
    printf '    | %s\n' "$out"
    check "$1" grep -qE "$3" <<<"$out"
}
ok_json "§4 POST /api/admin/users alice" \
    "curl -s -X POST -H 'Content-Type: application/json' -d '{\"login\":\"alice\"}' $API/admin/users" \
    '^\{"id":1,"login":"alice","balance":0,"created_at":"[0-9TZ:-]+"\}$' || true
ok_json "§4 POST /api/admin/products Fountain pen" \
    "curl -s -X POST -H 'Content-Type: application/json' -d '{\"name\":\"Fountain pen\",\"price\":12000,\"stock\":50}' $API/admin/products" \
    '^\{"id":1,"name":"Fountain pen","price":12000,"stock":50,"on_sale":true\}$' || true
sh_root "curl -s -X POST -H 'Content-Type: application/json' -d '{\"login\":\"bob\"}' $API/admin/users" >/dev/null
# htpasswd -c -B prompts for the password twice; the operator types it.
ok_out "§4 htpasswd -c -B /etc/apache2/shop.htpasswd alice" \
    "printf 'alice-pw\nalice-pw\n' | htpasswd -c -B /etc/apache2/shop.htpasswd alice && htpasswd -b -B /etc/apache2/shop.htpasswd bob bob-pw" || true
ok_out "§4 chown root:www-data, chmod 640 the htpasswd file" \
    "chown root:www-data /etc/apache2/shop.htpasswd && chmod 640 /etc/apache2/shop.htpasswd" || true
ok_json "§4 GET /api/users/1/points as alice (Basic)" "curl -s -u alice:alice-pw $API/users/1/points" \
    '^\{"user_id":1,"balance":0\}$' || true
check "Basic auth: no credentials 401" test "$(http_code "$API/users/1/points")" = 401 || true
check "Basic auth: wrong password 401" test "$(http_code "-u alice:nope $API/users/1/points")" = 401 || true
check "Basic auth: bob for alice's points 403" test "$(http_code "-u bob:bob-pw $API/users/1/points")" = 403 || true
ok_json "alice charges 20000 points" \
    "curl -s -u alice:alice-pw -X POST -H 'Content-Type: application/json' -d '{\"amount\":20000}' $API/users/1/points/charge" \
    '"balance":20000' || true
ok_json "alice orders the pen (201, AWAITING_PAYMENT)" \
    "curl -s -u alice:alice-pw -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{\"items\":[{\"product_id\":1,\"quantity\":1}]}' $API/users/1/orders" \
    '"status":"AWAITING_PAYMENT".* 201$' || true
ok_json "GET /api/products lists the pen" "curl -s $API/products" '"name":"Fountain pen"' || true
check "/api/admin from the host itself (Require local): 200" test "$(http_code "$API/admin/status")" = 200 || true

# Reload (§4: "configuration changes only need a graceful reload").
AP_PID=$(root_pid "$AP_PIDFILE" || true)
ok_out "§4 reload: service apache2 reload (systemctl reload apache2 without systemd)" "service apache2 reload" || true
check "reload kept the parent process and it answers" \
    poll 20 eval '[[ $(root_pid "$AP_PIDFILE") == "$AP_PID" ]] && [[ $(http_code "$API/health/ready") == 200 ]]' || true

# §3 with the site's parameters and the owner.
out=$(sh_root "mod-shop-migrate --from-apache-conf /etc/apache2/sites-available/shop.conf --user shop_owner" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | sed 's/^/    | /'
check "§3 mod-shop-migrate --from-apache-conf … --user shop_owner: 0 applied" \
    eval '((rc == 0)) && grep -q "0 applied, schema up to date" <<<"$out"' || true

# ---------------------------------------------- backup and restore ---

# "Backup and restore": pg_dump as the owner while the shop runs; restore into
# an empty database made as in §2 (here shop_restore), the after-migrate
# block, mod-shop-migrate applies none. ~/.pgpass covers the owner on localhost.
printf 'localhost:5432:*:shop_owner:owner-secret\n' >"$R/root/.pgpass"
ok_out "backup: pg_dump -Fc -h localhost -U shop_owner -d shop (the shop running)" \
    "pg_dump -Fc -h localhost -U shop_owner -d shop -f shop-\$(date +%F).dump" || true
sed -e 's/\bDATABASE shop\b/DATABASE shop_restore/g; s/\\connect shop$/\\connect shop_restore/' \
    -e '/CREATE ROLE/d' "$R/root/superuser.sql" >"$R/root/restore-db.sql"
ok_out "restore: pg_restore into an empty database made as in §2, after-migrate block, mod-shop-migrate applies none" \
    "set -e; cd /tmp; runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 </root/restore-db.sql
     pg_restore -h localhost -U shop_owner -d shop_restore --no-owner --role=shop_owner /root/shop-\$(date +%F).dump
     runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d shop_restore </root/after-migrate.sql
     mod-shop-migrate --dsn 'host=localhost dbname=shop_restore user=shop_owner' | tee /dev/stderr | grep -q '0 applied, schema up to date'
     test \"\$(runuser -u postgres -- psql -XAtd shop_restore -c 'SELECT login FROM users WHERE id = 1')\" = alice" || true

# ------------------------------------------------ several sites ---

# A second copy of the example on the same database, another port and name:
# deploy.md "Several sites": one database is one shop, named by the least ServerName.
sh_root "sed -e 's/127\.0\.0\.1:8080/127.0.0.1:8081/g; s/ServerName shop\.example\.org/ServerName shop2.example.org/; s/shop_error\.log/shop2_error.log/; s/shop_access\.log/shop2_access.log/' /etc/apache2/sites-available/shop.conf >/etc/apache2/sites-available/shop2.conf && chmod 640 /etc/apache2/sites-available/shop2.conf"
ok_out "several sites: a2ensite shop2, configtest, reload" \
    "a2ensite shop2 && apache2ctl configtest && service apache2 reload" || true
API2=http://127.0.0.1:8081/api
check "several sites: the second site answers ready 200" poll 30 eval '[[ $(http_code "$API2/health/ready") == 200 ]]' || true
shop1=$(sh_root "curl -s $API/admin/status" | grep -oE '"shop":"[^"]*"' || true)
shop2=$(sh_root "curl -s $API2/admin/status" | grep -oE '"shop":"[^"]*"' || true)
check "several sites: one database is one shop ($shop1 / $shop2, the least ServerName)" \
    test "$shop1" = '"shop":"shop.example.org"' -a "$shop2" = "$shop1" || true
check "several sites: the second site sees the first one's product" \
    eval 'sh_root "curl -s $API2/products/1" | grep -q "Fountain pen"' || true
auto=$(sh_root "curl -s 'http://127.0.0.1/server-status?auto'" || true)
check "/server-status?auto names the shop (ShopOutboxPending.shop.example.org)" \
    grep -q '^ShopOutboxPending.shop.example.org:' <<<"$auto" || true

# ------------------------------------------------- §9 uninstall ---

# The package removed with both sites enabled: the doc says exit 0, the sites
# named, apache2 restarted by the helper and still valid (no API).
AP_PID=$(root_pid "$AP_PIDFILE" || true)
t0=$SECONDS
out=$(ns_root apt-get remove -y -o Dpkg::Use-Pty=0 libapache2-mod-shop 2>&1 </dev/null) && rc=0 || rc=$?
APT_S=$((APT_S + SECONDS - t0))
printf '%s\n' "$out" >>"$LOGS/apt-remove.log"
printf '%s\n' "$out" | grep -E 'libapache2-mod-shop:|apache2|[Cc]onfiguration' | sed 's/^/    | /'
check "§9 apt-get remove with two sites enabled exits 0" test "$rc" = 0 || true
check "§9 remove names both sites (shop shop2)" \
    grep -qE 'enabled sites still use mod_shop: shop shop2 ?$' <<<"$out" || true
check "§9 remove: no 'configuration is broken'" eval '! grep -qi "configuration is broken" <<<"$out"' || true
check "§9 apache2ctl configtest passes after remove" ns_root apache2ctl configtest || true
# The helper restarts apache2 through invoke-rc.d, which a machine without
# systemd or a runlevel (this chroot) refuses: then the old parent still runs.
if p=$(root_pid "$AP_PIDFILE") && [[ $p != "$AP_PID" ]]; then
    pass "§9 remove restarted apache2 (another parent)"
elif grep -q 'could not determine current runlevel' <<<"$out"; then
    log "§9 remove did not restart apache2: invoke-rc.d has no runlevel here (no systemd); §9's restart follows"
else
    fail "§9 remove: apache2 neither restarted nor refused by invoke-rc.d"
fi
t0=$SECONDS
out=$(ns_root apt-get purge -y -o Dpkg::Use-Pty=0 libapache2-mod-shop 2>&1 </dev/null) && rc=0 || rc=$?
APT_S=$((APT_S + SECONDS - t0))
printf '%s\n' "$out" >>"$LOGS/apt-remove.log"
check "§9 apt-get purge" test "$rc" = 0 || true
check "§9 purge removed shop.load and mod_shop.so" \
    test ! -e "$R/etc/apache2/mods-available/shop.load" -a ! -e "$R/usr/lib/apache2/modules/mod_shop.so" || true
ok_out "§9 systemctl restart apache2 (service apache2 restart), both sites still enabled" "service apache2 restart" || true
check "§9 apache2 runs, and the site answers and serves no API (404)" \
    poll 20 eval '[[ $(http_code "$API/health") == 404 ]]' || true
check "§9 the database is untouched (alice is still there)" \
    eval '[[ $(sh_root "cd /tmp && runuser -u postgres -- psql -XAtd shop -c \"SELECT login FROM users WHERE id = 1\"") == alice ]]' || true

T[apt]=$APT_S
T[total]=$(elapsed)
# cleanup (the EXIT trap) stops everything, unmounts and prints the report.
