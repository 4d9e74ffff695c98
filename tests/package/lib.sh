# tests/package/lib.sh — shell functions shared by the package test
# (tests/package/run) and the fresh-root run-through
# (tests/package/fresh_root_runthrough.sh). Sourced, not run.

# The Debian mirror (and security mirror) apt uses on this machine: the first
# enabled source for bookworm / bookworm-security in sources.list(.d).
host_mirror() {        # $1 = suite
    local suite=$1 f
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -r $f ]] || continue
            # deb [opts] URI SUITE COMPONENTS...
            sed -E 's/\[[^]]*\]//' "$f" | awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -r $f ]] || continue
            awk -v s="$suite" '
                function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no" && suites ~ ("(^| )" s "( |$)")) { split(uris, u, " "); print u[1] } types = uris = suites = ""; enabled = "" }
                /^[[:space:]]*$/ { flush(); next }
                /^#/ { next }
                tolower($1) == "types:"   { $1 = ""; types = $0 }
                tolower($1) == "uris:"    { $1 = ""; uris = $0 }
                tolower($1) == "suites:"  { $1 = ""; suites = $0 }
                tolower($1) == "enabled:" { enabled = tolower($2) }
                END { flush() }' "$f"
        done
    } | sed -E 's/^ +//; s#/+$##' | head -n 1
}

# chroot_cmd ROOTDIR CMD...: run CMD inside ROOTDIR with a clean environment,
# through the command in the array CHROOT_WRAP if set (e.g. nsenter --net=…).
chroot_cmd() {
    local r=$1; shift
    ${CHROOT_WRAP[@]+"${CHROOT_WRAP[@]}"} chroot "$r" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb \
        DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
        "$@"
}

# wait_gone PID SECONDS: poll until the process is gone.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Every process whose root directory is the test root (or below it).
procs_in_root() {      # uses $R, the root directory
    local p l
    for p in /proc/[0-9]*; do
        l=$(readlink "$p/root" 2>/dev/null) || continue
        [[ $l == "$R" || $l == "$R"/* ]] && echo "${p#/proc/}"
    done
    return 0
}

# doc_sql NAME: the ```sql block that follows "<!-- test_migrate.sh: NAME -->"
# in $DEPLOY_MD (docs/deploy.md), as written.
doc_sql() {
    awk -v marker="<!-- test_migrate.sh: $1 -->" '
        index($0, marker) { found = 1; next }
        found && /^```sql/ { inblock = 1; next }
        inblock && /^```/ { exit }
        inblock { print }' "$DEPLOY_MD"
}
