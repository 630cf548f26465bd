# Shared by scripts/test.sh and scripts/demo.sh: installs what is missing,
# builds and installs velt, and starts and stops the Velt stand-in.
# Source it; it defines functions only.

VELT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VELT_PG_VERSION=${VELT_PG_VERSION:-15}
# The PostgreSQL versions the test command runs the suite against.
VELT_SUPPORTED_PG="15 17 18"
# Seconds one version's suite may take in all.
VELT_SUITE_TIMEOUT=${VELT_SUITE_TIMEOUT:-1800}
# The stand-in needs Debian's python3-yaml and python3-jsonschema, which
# serve /usr/bin/python3 only (another python3 may come first on PATH).
VELT_PYTHON=/usr/bin/python3
# Throwaway credentials shared by the stand-in and the test cluster.
VELT_TEST_API_KEY=${VELT_TEST_API_KEY:-standin-api-key}
VELT_TEST_AUTH_TOKEN=${VELT_TEST_AUTH_TOKEN:-standin-auth-token}
# The request schemas of Velt's OpenAPI spec, vendored as an extract
# (test/standin/extract_openapi.py); the stand-in validates every request
# body against them.
VELT_OPENAPI=${VELT_OPENAPI:-$VELT_ROOT/test/standin/openapi_requests.json}

# What building and testing velt needs, for any PostgreSQL version.
VELT_PACKAGES="make gcc pkg-config curl ca-certificates procps postgresql-common
postgresql-$VELT_PG_VERSION postgresql-server-dev-$VELT_PG_VERSION
libcurl4-openssl-dev libjson-c-dev python3 python3-jsonschema
postgresql-$VELT_PG_VERSION-cron openssl nghttp2-proxy"
# What static analysis and fuzzing need (run once, on this machine's own
# release: scripts/lint.sh, scripts/fuzz.sh).
VELT_STATIC_PACKAGES="clang-14 libclang-rt-14-dev cppcheck clang-tidy-14"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get only what is not installed yet, so a prepared machine skips it.
# Installs VELT_PACKAGES, or the packages given as arguments.
velt_install_packages() {
	local missing=() pkg
	for pkg in ${*:-$VELT_PACKAGES}; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		log "all packages present"
		return 0
	fi
	log "installing: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
	# a fresh postgresql package starts its default cluster; the tests use
	# their own throwaway cluster and do not need it
}

# Prints "OK FAILED": the tests pg_regress's log $1 reports as passed and
# as failed.  PostgreSQL 15 and 16 print "name ... ok"; 17 and later print
# TAP ("ok 3 - name", "not ok 4 - name").
velt_count_regress_results() {
	local ok bad
	ok=$(grep -cE '(\.\.\. ok( |$)|^ok [0-9]+ )' "$1")
	bad=$(grep -cE '(\.\.\. FAILED|^not ok [0-9]+ )' "$1")
	echo "${ok:-0} ${bad:-0}"
}

velt_build_install() {
	local pg_config=/usr/lib/postgresql/$VELT_PG_VERSION/bin/pg_config
	log "building velt"
	make -C "$VELT_ROOT" -s PG_CONFIG="$pg_config" >/dev/null
	as_root make -C "$VELT_ROOT" -s PG_CONFIG="$pg_config" install >/dev/null
}

# Waits (at most 15 s) for a server started in the background with pid $1
# to write its port to file $2; prints the port.
wait_for_port() {
	local pid=$1 port_file=$2 i
	for i in $(seq 1 150); do
		[ -s "$port_file" ] && { cat "$port_file"; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Starts a stand-in on a free port, with any extra arguments; prints
# "pid port" or fails.
start_standin_process() {
	local port_file port
	port_file=$(mktemp)
	rm -f "$port_file"
	"$VELT_PYTHON" "$VELT_ROOT/test/standin/velt_standin.py" --port 0 \
		--port-file "$port_file" --api-key "$VELT_TEST_API_KEY" \
		--auth-token "$VELT_TEST_AUTH_TOKEN" --openapi "$VELT_OPENAPI" "$@" >/dev/null &
	port=$(wait_for_port $! "$port_file") || return 1
	rm -f "$port_file"
	echo "$! $port"
}

# Starts the stand-in; sets VELT_STANDIN_PID and VELT_STANDIN_URL.
velt_start_standin() {
	local started
	started=$(start_standin_process) || { log "stand-in did not start within 15 s"; return 1; }
	VELT_STANDIN_PID=${started% *}
	VELT_STANDIN_URL="http://127.0.0.1:${started#* }"
	log "stand-in listening at $VELT_STANDIN_URL"
}

# A second stand-in that serves HTTPS with a fresh self-signed certificate
# for 127.0.0.1; sets VELT_TLS_PID, VELT_TLS_URL and VELT_TLS_CA (readable
# by the server).
velt_start_tls_standin() {
	local dir started
	dir=$(mktemp -d)
	chmod 755 "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" \
		>/dev/null 2>&1 || { log "could not make a test certificate"; return 1; }
	chmod 644 "$dir/cert.pem"
	started=$(start_standin_process --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem") ||
		{ log "TLS stand-in did not start"; return 1; }
	VELT_TLS_PID=${started% *}
	VELT_TLS_URL="https://127.0.0.1:${started#* }"
	VELT_TLS_CA="$dir/cert.pem"
}

# The HTTP/2 front for the http_connections test: nghttpx (Debian's
# nghttp2-proxy) on a free port, serving TLS with the TLS stand-in's
# certificate and offering h2 by ALPN, in front of the plain stand-in.  Sets
# VELT_H2_PID, VELT_H2_URL and VELT_H2_LOG: its access log, one "ALPN METHOD
# PATH STATUS" line per request, readable by the server.  Needs
# velt_start_standin and velt_start_tls_standin first.  One process (no
# daemon, no worker process) so that stop_process ends it; --conf=/dev/null
# keeps the package's sample configuration (a frontend on port 3000) out.
velt_start_h2_front() {
	local dir=${VELT_TLS_CA%/*} port deadline version
	command -v nghttpx >/dev/null ||
		{ log "nghttpx is missing: install nghttp2-proxy (velt_install_packages does)"; return 1; }
	VELT_H2_LOG="$dir/h2-access.log"
	: >"$VELT_H2_LOG" && chmod 644 "$VELT_H2_LOG" || return 1
	for _ in 1 2 3; do
		port=$("$VELT_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
			return 1
		# shellcheck disable=SC2016 # $alpn and the rest are nghttpx's variables
		nghttpx --conf=/dev/null --single-process --workers=1 --no-ocsp \
			--frontend="127.0.0.1,$port" --backend="127.0.0.1,${VELT_STANDIN_URL##*:}" \
			--accesslog-file="$VELT_H2_LOG" --accesslog-format='$alpn $method $path $status' \
			--errorlog-file="$dir/h2-error.log" "$dir/key.pem" "$dir/cert.pem" </dev/null >/dev/null 2>&1 &
		VELT_H2_PID=$!
		# ready once it answers over h2 (within 15 s); if it exited (the
		# port was taken after all), try another port
		deadline=$((SECONDS + 15))
		while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$VELT_H2_PID" 2>/dev/null; do
			version=$(curl -s -m 2 --noproxy '*' --http2 --cacert "$VELT_TLS_CA" -o /dev/null \
				-w '%{http_version}' "https://127.0.0.1:$port/_standin/stats")
			if [ "$version" = 2 ]; then
				VELT_H2_URL="https://127.0.0.1:$port"
				: >"$VELT_H2_LOG"	# the log holds the tests' requests only
				log "HTTP/2 front listening at $VELT_H2_URL"
				return 0
			fi
			sleep 0.1
		done
		velt_stop_h2_front
	done
	log "the HTTP/2 front (nghttpx) did not start; its log:"
	tail -n 20 "$dir/h2-error.log" >&2
	return 1
}

# Stops the HTTP/2 front of velt_start_h2_front, if it runs: SIGTERM ends
# nghttpx at once, SIGKILL if it is still there after 5 s.
velt_stop_h2_front() {
	local deadline=$((SECONDS + 5))
	if [ -n "${VELT_H2_PID:-}" ]; then
		kill "$VELT_H2_PID" 2>/dev/null
		while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$VELT_H2_PID" 2>/dev/null; do sleep 0.1; done
		kill -9 "$VELT_H2_PID" 2>/dev/null
		wait "$VELT_H2_PID" 2>/dev/null
	fi
	VELT_H2_PID= VELT_H2_URL=
}

# Starts a port where connecting hangs (test/blackhole.py) for the
# connect-timeout test; sets VELT_BLACKHOLE_PID and VELT_BLACKHOLE_URL.
velt_start_blackhole() {
	local port_file port
	port_file=$(mktemp)
	rm -f "$port_file"
	"$VELT_PYTHON" "$VELT_ROOT/test/blackhole.py" --port-file "$port_file" >/dev/null &
	VELT_BLACKHOLE_PID=$!
	port=$(wait_for_port "$VELT_BLACKHOLE_PID" "$port_file") ||
		{ log "blackhole port did not start"; return 1; }
	rm -f "$port_file"
	VELT_BLACKHOLE_URL="http://127.0.0.1:$port"
}

stop_process() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# Prints what the stand-in at VELT_STANDIN_URL says of its OpenAPI contract
# check ("N request bodies valid against M schemas"), or nothing if it
# checked none.
velt_standin_contract_summary() {
	curl -s -m 10 --noproxy '*' "$VELT_STANDIN_URL/_standin/stats" | "$VELT_PYTHON" -c '
import json, sys
stats = json.load(sys.stdin)
if stats.get("openapi_schemas", 0) > 0 and stats.get("openapi_validated", 0) > 0:
    print("%d request bodies valid against %d schemas" % (stats["openapi_validated"], stats["openapi_schemas"]))
' 2>/dev/null
}

velt_stop_standin() {
	velt_stop_h2_front
	stop_process "${VELT_STANDIN_PID:-}"
	stop_process "${VELT_TLS_PID:-}"
	stop_process "${VELT_BLACKHOLE_PID:-}"
	VELT_STANDIN_PID= VELT_TLS_PID= VELT_BLACKHOLE_PID=
}

# The settings of every test cluster, as postgresql.conf lines: velt and
# pg_cron preloaded, velt pointed at the stand-in with throwaway secrets,
# the worker's database, and the URLs of the other test servers (when
# started).
velt_cluster_settings() {
	cat <<CONF
shared_preload_libraries = 'velt,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = 'on'
max_worker_processes = '24'
velt.base_url = '$VELT_STANDIN_URL'
velt.api_key = '$VELT_TEST_API_KEY'
velt.auth_token = '$VELT_TEST_AUTH_TOKEN'
velt.retry_max_delay_ms = '2000'
velt.database = 'velt_worker'
CONF
	[ -n "${VELT_BLACKHOLE_URL:-}" ] && echo "regress.blackhole_url = '$VELT_BLACKHOLE_URL'"
	[ -n "${VELT_TLS_URL:-}" ] && echo "regress.tls_url = '$VELT_TLS_URL'"
	[ -n "${VELT_TLS_CA:-}" ] && echo "regress.tls_ca = '$VELT_TLS_CA'"
	[ -n "${VELT_H2_URL:-}" ] && echo "regress.h2_url = '$VELT_H2_URL'"
	[ -n "${VELT_H2_LOG:-}" ] && echo "regress.h2_log = '$VELT_H2_LOG'"
	return 0
}

# Creates, afresh and not started, a private cluster NAME on PORT (local
# connections trusted) with velt_cluster_settings; for tools that must not
# share the "regress" cluster of velt_in_cluster.
velt_create_private_cluster() {
	local name=$1 port=$2
	pg_dropcluster --stop "$VELT_PG_VERSION" "$name" 2>/dev/null
	pg_createcluster "$VELT_PG_VERSION" "$name" -p "$port" -- --auth=trust >/dev/null || return 1
	velt_cluster_settings >>"/etc/postgresql/$VELT_PG_VERSION/$name/postgresql.conf"
}

# Runs a command inside a throwaway cluster configured for the stand-in.
velt_in_cluster() {
	local options=() line
	# a run killed half-way can leave pg_virtualenv's cluster behind, and
	# the next pg_virtualenv would then refuse to create it
	if [ "$(id -u)" -eq 0 ] && pg_lsclusters -h 2>/dev/null | grep -q "^$VELT_PG_VERSION regress "; then
		log "removing a leftover $VELT_PG_VERSION/regress cluster"
		pg_dropcluster --stop "$VELT_PG_VERSION" regress
	fi
	# name = 'value' lines as pg_virtualenv's -o name=value
	while IFS= read -r line; do
		options+=(-o "$(printf '%s' "$line" | sed -E "s/^([^ ]+) = '(.*)'\$/\1=\2/")")
	done < <(velt_cluster_settings)
	# requests to 127.0.0.1 must not be sent to a proxy from the environment
	env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		pg_virtualenv -v "$VELT_PG_VERSION" "${options[@]}" "$@"
}
