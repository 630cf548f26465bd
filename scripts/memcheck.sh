#!/usr/bin/env bash
# Memory checking (a separate command, not part of scripts/test.sh): runs
# the pg_regress suite against a private cluster ("hmem", port 5485) whose
# postmaster runs under valgrind memcheck, so every backend, the outbox
# worker and pg_cron's workers (forked from it) are checked, then reads
# every process's valgrind log.
#
#   scripts/memcheck.sh [--no-install] [test...]
#
# Tests default to the Makefile's REGRESS list; "setup" always runs first.
# --no-install checks the velt already installed instead of building and
# installing this tree first (to check a variant build).
#
# Exit status: 1 if any valgrind error or definitely-lost leak has a frame
# in velt.so (in any of its stacks: where it happened, where the memory was
# allocated or freed); the offending reports are printed.  Errors in other
# code are reported, not counted.  pg_regress differences are reported too
# but do not decide: under valgrind every process is many times slower and
# larger, so tests that measure time or memory (keepalive_memory's RSS check
# always) may differ.
# 2 if the check itself could not run or did not finish in time.
# The last line reads "memcheck: N processes checked, N errors in velt code".
#
# Suppressions: test/valgrind.supp (PostgreSQL's known false positives and
# library internals).  Logs stay in the /tmp folder that is printed.
#
# Environment: VELT_MEMCHECK_TIMEOUT (seconds for the whole suite, default
# 1800; a full run takes about 4 minutes on 2 cores), VELT_MEMCHECK_TRACK_ORIGINS=no (faster, but without where an
# uninitialised value came from).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=hmem
port=5485
suite_timeout=${VELT_MEMCHECK_TIMEOUT:-1800}
track_origins=${VELT_MEMCHECK_TRACK_ORIGINS:-yes}
pg_bin=/usr/lib/postgresql/$VELT_PG_VERSION/bin
pg_config=$pg_bin/pg_config
datadir=/var/lib/postgresql/$VELT_PG_VERSION/$name
confdir=/etc/postgresql/$VELT_PG_VERSION/$name
supp=$VELT_ROOT/test/valgrind.supp

install=1
if [ "${1:-}" = --no-install ]; then
	install=0
	shift
fi
case "${1:-}" in -*) echo "usage: $0 [--no-install] [test...]" >&2; exit 2 ;; esac

# the tests: the Makefile's REGRESS list unless named, "setup" first and once
if [ $# -gt 0 ]; then
	requested="$*"
else
	requested=$(printf 'memcheck-print-regress:\n\t@echo $(REGRESS)\n' |
		make -s --no-print-directory -C "$VELT_ROOT" -f Makefile -f - \
			PG_CONFIG="$pg_config" memcheck-print-regress) ||
		{ log "could not read REGRESS from the Makefile"; exit 2; }
fi
tests=setup
for t in $requested; do
	[ "$t" = setup ] || tests="$tests $t"
	[ -f "$VELT_ROOT/sql/$t.sql" ] || { log "no such test: $t"; exit 2; }
done

if [ ! -f "$VELT_OPENAPI" ]; then
	log "Velt's OpenAPI spec is missing at $VELT_OPENAPI (set VELT_OPENAPI)"
	exit 2
fi
VELT_PACKAGES="$VELT_PACKAGES valgrind libc6-dbg" velt_install_packages || exit 2

out=$(mktemp -d /tmp/velt-memcheck.XXXXXX)
chmod 755 "$out"
mkdir "$out/valgrind" "$out/regress"
chown postgres: "$out/valgrind"
log "logs in $out"

pm_pid=
stop_postmaster() {
	[ -n "$pm_pid" ] || return 0
	# a fast shutdown: every backend exits through proc_exit, so valgrind
	# writes its final report (and leak check) for each of them
	kill -INT "$pm_pid" 2>/dev/null
	local i
	for i in $(seq 1 600); do
		kill -0 "$pm_pid" 2>/dev/null || break
		sleep 1
	done
	if kill -0 "$pm_pid" 2>/dev/null; then
		log "the postmaster did not stop within 600 s: immediate shutdown"
		kill -QUIT "$pm_pid" 2>/dev/null
		sleep 30
		kill -KILL "$pm_pid" 2>/dev/null
	fi
	wait "$pm_pid" 2>/dev/null
	pm_pid=
}
cleanup() {
	stop_postmaster
	pg_dropcluster "$VELT_PG_VERSION" "$name" 2>/dev/null
	velt_stop_standin
	[ -n "${VELT_TLS_CA:-}" ] && rm -rf "$(dirname "$VELT_TLS_CA")"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

if [ "$install" -eq 1 ]; then
	velt_build_install || exit 2
fi
lib=$("$pg_config" --pkglibdir)/velt.so
[ -f "$lib" ] || { log "velt is not installed ($lib)"; exit 2; }

velt_start_standin || exit 2
velt_start_blackhole || exit 2
velt_start_tls_standin || exit 2
velt_start_h2_front || exit 2

# a fresh private cluster; its server is started below, not by pg_ctlcluster
velt_create_private_cluster "$name" "$port" || exit 2
cat >>"$confdir/postgresql.conf" <<CONF
# memcheck: every process runs many times slower
authentication_timeout = '10min'
# every backend's leak check scans shared memory: keep it small
shared_buffers = '16MB'
# which process (backend type) each valgrind log belongs to
log_line_prefix = '%m [%p] %b %q%u@%d '
log_connections = on
CONF

vg_opts=(
	--tool=memcheck
	# backends and workers are forked (followed anyway); of the programs
	# exec'd, only COPY FROM PROGRAM's shell and curl (the stand-in helpers)
	# would be traced: they are not velt and run natively
	--trace-children=yes
	--trace-children-skip='*/sh,*/bash,*/dash,*/curl'
	--log-file="$out/valgrind/%p.log"
	--num-callers=30
	# full source paths, to tell velt's frames from PostgreSQL's inline
	# functions compiled into velt.so
	--fullpath-after=
	--error-limit=no
	--suppressions="$supp"
	--gen-suppressions=all
	# at exit, which suppressions hid how many errors
	--show-error-list=yes
	--leak-check=full
	--show-leak-kinds=definite
	--errors-for-leak-kinds=definite
	--track-origins="$track_origins"
	--vgdb=no
)
log "starting the postmaster under valgrind"
# setpriv execs (no intermediate process), so $! is the postmaster itself
env -i PATH=/usr/bin:/bin LANG=C.UTF-8 PGSYSCONFDIR=/etc/postgresql-common \
	setpriv --reuid=postgres --regid=postgres --init-groups -- \
	nice -n 10 valgrind "${vg_opts[@]}" \
	"$pg_bin/postgres" -D "$datadir" -c config_file="$confdir/postgresql.conf" \
	>"$out/postmaster.log" 2>&1 &
pm_pid=$!
ready=0
for _ in $(seq 1 300); do
	kill -0 "$pm_pid" 2>/dev/null || break
	if "$pg_bin/pg_isready" -q -h /var/run/postgresql -p "$port"; then ready=1; break; fi
	sleep 1
done
if [ "$ready" -ne 1 ]; then
	log "the postmaster did not start within 300 s:"
	tail -n 30 "$out/postmaster.log" >&2
	exit 2
fi
# keep the very velt.so the server loaded (its debug information tells
# velt's frames), even if someone reinstalls velt during the run
# (map_files names its ranges without the leading zeros that maps shows)
mapped=$(awk -v lib="$lib" 'index($0, " " lib) { print $1; exit }' "/proc/$pm_pid/maps" |
	sed -E 's/^0+([0-9a-f])/\1/; s/-0+([0-9a-f])/-\1/')
if [ -n "$mapped" ] && cp "/proc/$pm_pid/map_files/$mapped" "$out/velt.so" 2>/dev/null; then
	checked_lib=$out/velt.so
else
	log "could not copy the loaded velt.so from the server; reading $lib"
	checked_lib=$lib
fi
log "postmaster $pm_pid ready; velt.so sha256 $(sha256sum "$checked_lib" | cut -c1-16)"

log "pg_regress under valgrind: $tests"
started=$(date +%s)
timeout --kill-after=30 "$suite_timeout" \
	env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
	PGPORT="$port" PGUSER=postgres PGHOST=/var/run/postgresql \
	nice -n 10 make -s -C "$VELT_ROOT" installcheck PG_CONFIG="$pg_config" \
	REGRESS="$tests" EXTRA_REGRESS_OPTS="--outputdir=$out/regress" ISOLATION= \
	2>&1 | tee "$out/regress.log"
regress_status=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - started))

log "stopping the postmaster (each process writes its leak check)"
stop_postmaster
cmp -s "$lib" "$checked_lib" ||
	log "note: $lib was reinstalled during the run (the server kept the one it had loaded)"

incomplete=0
if [ "$regress_status" -eq 124 ] || [ "$regress_status" -eq 137 ]; then
	log "the suite did not finish within $suite_timeout s (VELT_MEMCHECK_TIMEOUT)"
	incomplete=1
elif [ "$regress_status" -ne 0 ]; then
	if grep -qE '\.\.\. FAILED' "$out/regress.log"; then
		log "pg_regress reported differences (not decisive under valgrind):"
		[ -f "$out/regress/regression.diffs" ] && cat "$out/regress/regression.diffs"
	else
		log "pg_regress did not run to completion"
		incomplete=1
	fi
fi
grep -E 'terminated by signal|was terminated by exception' "$out/postmaster.log" >&2 &&
	log "server processes crashed (see above and $out/postmaster.log)"
log "suite time under valgrind: ${elapsed} s"

/usr/bin/python3 - "$out" "$checked_lib" <<'PY'
# Reads every valgrind log: prints in full each error or leak with a frame
# in velt's code, summarises the others, and writes the counts to status.
import glob, os, re, subprocess, sys

out, lib = sys.argv[1], sys.argv[2]

# velt's own source files (src/http.c...), from the debug information of
# the velt.so that ran: a frame is velt's if its source is one of them,
# wherever it was built (frames of PostgreSQL's inline functions compiled
# into velt.so are not, but their callers are); without debug information,
# if it is in velt.so
units = set()
dump = subprocess.run(["readelf", "--debug-dump=info", "--dwarf-depth=1", lib],
                      capture_output=True, text=True).stdout
for unit in dump.split("DW_TAG_compile_unit")[1:]:
    name = re.search(r"DW_AT_name\s*:[^\n]*?(\S+)\n", unit)
    if name and name.group(1).endswith(".c"):
        units.add(os.path.normpath(name.group(1)))
if not units:
    print("memcheck: no debug information in %s: velt's frames are recognised by object only" % lib)

frame_re = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*?) \((.*)\)$")

def velt_frame(line):
    m = frame_re.match(line)
    if not m:
        return None
    fn, loc = m.groups()
    if loc.startswith("in "):
        return fn if loc.endswith("/velt.so") else None
    path = os.path.normpath(loc.rsplit(":", 1)[0])
    if any(path == u or path.endswith("/" + u) for u in units):
        return "%s (%s)" % (fn, loc)
    return None

# each process's backend type (and application), from the server log
pid_kind = {}
with open(os.path.join(out, "postmaster.log"), errors="replace") as f:
    for line in f:
        m = re.match(r"\S+ \S+ \S+ \[(\d+)\] (.+?) (?:\S*@\S* )?[A-Z]+:  (.*)", line)
        if not m or m.group(2) == "not initialized":
            continue
        pid, kind, message = m.groups()
        app = re.search(r"application_name=(\S+)", message)
        if app:
            pid_kind[pid] = "%s, %s" % (kind, app.group(1))
        else:
            pid_kind.setdefault(pid, kind)

logs = finished = 0
velt_errors, other_errors = [], []
used = {}                       # suppression name -> times it hid an error
for path in sorted(glob.glob(os.path.join(out, "valgrind", "*.log"))):
    logs += 1
    pid = os.path.basename(path)[:-4]
    records, cur, supp, done = [], [], None, False
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = re.match(r"^==\d+== ?(.*)$", line)
            u = re.match(r"^--\d+-- used_suppression:\s+(\d+) (\S+)", line)
            if u:
                used[u.group(2)] = used.get(u.group(2), 0) + int(u.group(1))
                continue
            if done:
                continue        # -s repeats the errors after the summary
            if supp is not None:
                supp.append(line)
                if line.startswith("}"):
                    if records:
                        records[-1][1].extend(supp)
                    supp = None
            elif m:
                body = m.group(1)
                if body.strip():
                    cur.append(body)
                elif cur:
                    records.append((cur, []))
                    cur = []
                if "ERROR SUMMARY:" in body:
                    finished += 1
                    done = True
            elif line.startswith("{"):
                if cur:
                    records.append((cur, []))
                    cur = []
                supp = [line]
    if cur:
        records.append((cur, []))
    for body, supp_lines in records:
        if body[0].startswith(" ") or not any(frame_re.match(l) for l in body):
            continue            # not an error report: preamble, summaries
        velt = [v for v in (velt_frame(l) for l in body) if v]
        text = "\n".join(l + ("   <== velt" if velt_frame(l) else "") for l in body)
        if supp_lines:
            text += "\n  (a suppression, were it not velt's fault:)\n" + "\n".join(supp_lines)
        (velt_errors if velt else other_errors).append((pid, body[0], velt, text))

def header(pid):
    return "== pid %s (%s), %s/valgrind/%s.log" % (
        pid, pid_kind.get(pid, "process type unknown"), out, pid)

with open(os.path.join(out, "other-errors.txt"), "w") as f:
    for pid, first, velt, text in other_errors:
        f.write(header(pid) + "\n" + text + "\n\n")
if other_errors:
    # one line per distinct report (its first two frames), with a count
    groups = {}
    for pid, first, velt, text in other_errors:
        frames = [frame_re.match(l).group(1) for l in text.splitlines() if frame_re.match(l)]
        key = re.sub(r"\d[\d,]*", "N", first) + " | " + " < ".join(frames[:3])
        groups.setdefault(key, []).append(pid)
    print("memcheck: %d reports outside velt's code (not counted), all in %s/other-errors.txt:"
          % (len(other_errors), out))
    for key, pids in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("  %4d x %s" % (len(pids), key))
for pid, first, velt, text in velt_errors:
    print()
    print("memcheck: ERROR IN VELT CODE, in %s" % velt[0])
    print(header(pid))
    print(text)
if velt_errors:
    print()
    print("memcheck: the errors in velt code, by innermost velt frame:")
    recap = {}
    for pid, first, velt, text in velt_errors:
        key = "%s: %s" % (velt[0], re.sub(r"0x[0-9A-Fa-f]+", "0x..", first))
        recap[key] = recap.get(key, 0) + 1
    for key, count in sorted(recap.items()):
        print("  %4d x %s" % (count, key))
if used:
    print("memcheck: suppressions used (test/valgrind.supp and valgrind's default.supp):")
    for name, count in sorted(used.items(), key=lambda kv: -kv[1]):
        print("  %6d x %s" % (count, name))
with open(os.path.join(out, "status"), "w") as f:
    f.write("%d %d %d %d\n" % (logs, finished, len(velt_errors), len(other_errors)))
PY
[ -s "$out/status" ] || { log "could not read the valgrind logs"; exit 2; }
read -r logs processes velt_errors other_errors <"$out/status"
if [ "$processes" -eq 0 ]; then
	log "no valgrind log was completed"
	exit 2
fi
log "$processes processes ran to their exit under valgrind; $((logs - processes)) more" \
	"exec'd an untraced program (COPY FROM PROGRAM's sh and curl) or were killed"
echo "memcheck: $processes processes checked, $velt_errors errors in velt code" \
	"($other_errors elsewhere, not counted; suite ${elapsed} s)"
[ "$velt_errors" -eq 0 ] || exit 1
[ "$incomplete" -eq 0 ] || exit 2
exit 0
