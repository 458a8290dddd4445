# lib.sh -- what the shell integration tests share: a pgperf of their own
# in front of the fixture's PostgreSQL, and ok/FAILED bookkeeping.  Source
# it after the fixture's env file; it sets dir, port, passed and failed.
#
#   itest_init NAME BASE_PORT [EXTRA_PGPERF_LINES]
#   itest_http          a free port for pgperf's HTTP endpoint (http_port)
#   start_pgperf LOG    stop_pgperf    check NAME COMMAND...    itest_summary

itest_init() { # name, base port, extra [pgperf] lines
	dir="$WORK_DIR/$1-$$"
	mkdir -p "$dir"
	# below the ephemeral range (32768+), where outgoing connections take ports
	port=$(($2 + $$ % 1000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	printf '"app" "app-secret"\n' >"$dir/users.txt"
	chmod 600 "$dir/users.txt"
	cat >"$dir/pgperf.ini" <<INI
[databases]
appdb = host=127.0.0.1 port=$PG_PORT dbname=appdb
[pgperf]
listen_addr = 127.0.0.1
listen_port = $port
auth_file = users.txt
server_tls_sslmode = disable
${3:-}
INI
	passed=0
	failed=0
}

# Wait for a condition, not for a while: run the command (a shell function
# too) every 0.1 s until it succeeds; false after SECONDS.
wait_for() { # seconds, command...
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
export -f wait_for

itest_add_db() { # name, the rest of its [databases] line
	echo "$1 = $2" >"$dir/db_$1"
	sed -i "/^appdb = /r $dir/db_$1" "$dir/pgperf.ini"
}

itest_http() {
	http_port=$((port + 1))
	while (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; do http_port=$((http_port + 1)); done
	echo "http_listen_port = $http_port" >>"$dir/pgperf.ini"
}

start_pgperf() { # log file
	log=$1
	"$PGPERF_BIN" "$dir/pgperf.ini" >"$log" 2>&1 &
	pid=$!
	trap 'kill -INT $pid 2>/dev/null' EXIT
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
}

# SIGINT must end pgperf with status 0 (in the ASan build: no leak found)
stop_pgperf() {
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	trap - EXIT
	if [ "$rc" = 0 ]; then passed=$((passed + 1)); echo "ok: pgperf exited cleanly"
	else failed=$((failed + 1)); echo "FAILED: pgperf exit status $rc"; tail -20 "$log"; fi
}

# Several pgperf processes (pgperf-N.log in $dir): SIGINT must end each
# with status 0.  Arguments: "N:PID" pairs.
stop_processes() {
	local np n p
	for np in "$@"; do
		n=${np%%:*} p=${np#*:}
		kill -INT "$p"
		if wait "$p"; then
			passed=$((passed + 1))
			echo "ok: process $n exited cleanly"
		else
			failed=$((failed + 1))
			echo "FAILED: process $n exit status"
			tail -20 "$dir/pgperf-$n.log"
		fi
	done
}

# Run a command (a shell function too) for at most ITEST_TIMEOUT seconds.
check() { # name, command...
	local name=$1
	shift
	if timeout "${ITEST_TIMEOUT:-120}" bash -c '"$@"' check "$@" >"$dir/out" 2>&1; then
		passed=$((passed + 1))
		echo "ok: $name${CHECK_SHOW_LAST:+: $(tail -1 "$dir/out")}"
	else
		failed=$((failed + 1))
		echo "FAILED: $name"
		sed 's/^/    /' "$dir/out" | tail -40
	fi
}

itest_summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
