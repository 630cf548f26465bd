# Sourced by bench/run.sh: starts and stops nginx as the benchmarks' fixed
# answer Velt.  Three servers on free ports of 127.0.0.1, one worker process:
#   canned   a constant success body for user "bench-user-1" (call overhead,
#            memory): the fastest answer an HTTP server can give
#   echo     njs (bench/echo_users.js) answers users/add naming every userId
#            it was sent; logs the time each request was answered to
#            answered.log ("SECONDS.MILLIS")
#   capture  as echo, and logs every request body, so the raw libcurl client
#            can send byte for byte what velt sent
#   distant  as echo, answering BENCH_LATENCY_MS (default 20) ms later: Velt
#            across a network; logs its answers to answered.log too, as
#            "SECONDS.MILLIS distant"

BENCH_PACKAGES="nginx libnginx-mod-http-js iproute2"
BENCH_CANNED_BODY='{"result":{"status":"success","message":"User(s) processed successfully.","data":{"bench-user-1":{"success":true,"id":"bench-bench-user-1","message":"User added."}}}}'

free_port() {
	"$VELT_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_install_packages() {
	# iproute2 for ss (the worker's connections); Debian's nginx package may
	# start its own nginx on port 80, the benchmarks do not use it
	velt_install_packages $BENCH_PACKAGES
}

# Sets BENCH_NGINX_DIR, BENCH_NGINX_PID, BENCH_CANNED_URL, BENCH_ECHO_URL,
# BENCH_CAPTURE_URL, BENCH_DISTANT_URL.
bench_start_responder() {
	local dir canned echo capture distant user_line="" i
	dir=$(mktemp -d /tmp/velt-bench-nginx.XXXXXX)
	chmod 755 "$dir"
	mkdir -p "$dir/tmp"
	chmod 777 "$dir/tmp"
	cp "$VELT_ROOT/bench/echo_users.js" "$dir/"
	chmod 644 "$dir/echo_users.js"
	canned=$(free_port) && echo=$(free_port) && capture=$(free_port) && distant=$(free_port) || return 1
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
$user_line
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	client_max_body_size 64m;
	client_body_buffer_size 64m;
	keepalive_requests 100000000;
	keepalive_timeout 600s;
	js_import echo from $dir/echo_users.js;
	log_format answered '\$msec';
	log_format answered_distant '\$msec distant';
	log_format body escape=none '\$request_body';
	server {
		listen 127.0.0.1:$canned;
		location / { default_type application/json; return 200 '$BENCH_CANNED_BODY'; }
	}
	server {
		listen 127.0.0.1:$echo;
		access_log $dir/answered.log answered;
		location / { js_content echo.addUsers; }
	}
	server {
		listen 127.0.0.1:$capture;
		access_log $dir/bodies.log body;
		location / { js_content echo.addUsers; }
	}
	server {
		listen 127.0.0.1:$distant;
		set \$bench_delay_ms ${BENCH_LATENCY_MS:-20};
		access_log $dir/answered.log answered_distant;
		location / { js_content echo.addUsersLater; }
	}
}
EOF
	nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" &
	BENCH_NGINX_PID=$!
	BENCH_NGINX_DIR=$dir
	for i in $(seq 1 100); do
		curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$capture/" -d '{"data":{"users":[]}}' && break
		kill -0 "$BENCH_NGINX_PID" 2>/dev/null || { cat "$dir/error.log" >&2; return 1; }
		sleep 0.1
	done
	: >"$dir/bodies.log"
	BENCH_CANNED_URL="http://127.0.0.1:$canned"
	BENCH_ECHO_URL="http://127.0.0.1:$echo"
	BENCH_CAPTURE_URL="http://127.0.0.1:$capture"
	BENCH_DISTANT_URL="http://127.0.0.1:$distant"
	log "nginx answering at $BENCH_CANNED_URL (canned), $BENCH_ECHO_URL (echo), $BENCH_CAPTURE_URL (capture), $BENCH_DISTANT_URL (distant)"
}

bench_stop_responder() {
	stop_process "${BENCH_NGINX_PID:-}"
	BENCH_NGINX_PID=
	[ -n "${BENCH_NGINX_DIR:-}" ] && rm -rf "$BENCH_NGINX_DIR"
	BENCH_NGINX_DIR=
}
