#!/usr/bin/env bash
# test_auth_query.sh -- users whose secrets live only in PostgreSQL
# (auth_user + auth_query, PgBouncer's names): a role that is not in
# auth_file logs in through pgperf with its own password, and pgperf's
# server login for it uses what the client proved (no password known to
# pgperf); a wrong password, an unknown role and a role past its VALID
# UNTIL are refused alike; the default query is schema-qualified (a
# pg_shadow of the auth user's own on its search_path changes nothing).
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init auth_query 27000 "pool_mode = transaction
auth_user = aq_admin"
# any database name, for the long-name check
sed -i "s|^appdb = .*|&\n* = host=127.0.0.1 port=$PG_PORT|" "$dir/pgperf.ini"
printf '"aq_admin" "aq-admin-pw"\n' >>"$dir/users.txt"
pgsu() { "$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -q -v ON_ERROR_STOP=1 "$@"; }
pgsu -d appdb -c "drop schema if exists aq_admin cascade" >/dev/null
pgsu -c "drop role if exists aq_user" -c "drop role if exists aq_old" -c "drop role if exists aq_admin" \
	-c "create role aq_admin login superuser password 'aq-admin-pw'" \
	-c "alter role aq_admin set search_path = aq_admin, pg_catalog" \
	-c "create role aq_user login password 'aq-user-pw'" \
	-c "create role aq_old login password 'aq-old-pw' valid until '2001-01-01'" \
	-c "grant all on database appdb to aq_user, aq_old" >/dev/null || exit 1
# a trap the default query must not fall into: a pg_shadow of aq_admin's
# own, first on its search_path, that would let anyone in
pgsu -d appdb -c "create schema if not exists aq_admin authorization aq_admin" \
	-c "create table if not exists aq_admin.pg_shadow as select 'aq_evil'::name as usename, 'evil-pw'::text as passwd, null::timestamptz as valuntil" \
	>/dev/null || exit 1
start_pgperf "$dir/pgperf.log"
export port dir ROOT_DIR PG_DIR

login() { # user password -> prints current_user or the error
	PGPASSWORD=$2 psql -X -At "host=127.0.0.1 port=$port user=$1 dbname=appdb" \
		-c "select current_user" 2>&1 | tail -1
}
export -f login

known_in_postgres() {
	local out
	out=$(login aq_user aq-user-pw)
	echo "aq_user: $out"
	[ "$out" = aq_user ] || return 1
	# a second client on the same pool: the server connection is reused or
	# opened again with the keys proved before
	out=$(login aq_user aq-user-pw)
	[ "$out" = aq_user ] || return 1
}
refused_alike() {
	local a b c d
	a=$(login aq_user wrong-pw)
	b=$(login aq_nobody x)
	c=$(login aq_old aq-old-pw)
	d=$(login aq_evil evil-pw)
	printf '%s\n' "$a" "$b" "$c" "$d"
	echo "$a" | grep -q 'password authentication failed for user "aq_user"' &&
		echo "$b" | grep -q 'password authentication failed for user "aq_nobody"' &&
		echo "$c" | grep -q 'password authentication failed for user "aq_old"' &&
		echo "$d" | grep -q 'password authentication failed for user "aq_evil"'
}
no_password_kept() {
	# pgperf never had aq_user's password: its server login used the keys
	grep -c "new pool appdb/aq_user" "$dir/pgperf.log"
	! grep -q "aq-user-pw" "$dir/pgperf.log" "$dir/pgperf.ini" "$dir/users.txt"
}
password_changed() {
	# the server logins follow the latest login's proof
	pgsu -c "alter role aq_user password 'aq-user-pw2'" >/dev/null || return 1
	local out
	out=$(login aq_user aq-user-pw2)
	echo "after the change: $out"
	pgsu -c "alter role aq_user password 'aq-user-pw'" >/dev/null
	[ "$out" = aq_user ]
}
long_database_name() {
	# a conninfo too long for its buffer is refused, never cut short (a
	# cut one would lose user, password and sslmode to libpq's defaults)
	local db out
	db=$(printf 'd%.0s' $(seq 2100))
	out=$(PGPASSWORD=x psql -X -At "host=127.0.0.1 port=$port user=aq_user dbname=$db" -c "select 1" 2>&1 | tail -1)
	echo "$out" | cut -c1-120
	echo "$out" | grep -q 'password authentication failed for user "aq_user"' &&
		grep -q "auth_query: connection parameters too long" "$dir/pgperf.log"
}
export -f known_in_postgres refused_alike no_password_kept password_changed long_database_name pgsu
CHECK_SHOW_LAST=1 check "a role only PostgreSQL knows logs in, and so do its servers" known_in_postgres
CHECK_SHOW_LAST=1 check "wrong password, unknown role, VALID UNTIL passed, a planted pg_shadow: refused alike" refused_alike
CHECK_SHOW_LAST=1 check "pgperf keeps no password of it" no_password_kept
CHECK_SHOW_LAST=1 check "a password changed in PostgreSQL works at the next login, servers included" password_changed
CHECK_SHOW_LAST=1 check "a database name too long for the lookup's conninfo is refused, not cut" long_database_name
stop_pgperf
pgsu -d appdb -c "drop schema aq_admin cascade" >/dev/null
pgsu -c "drop role aq_user" -c "drop role aq_old" -c "drop role aq_admin" >/dev/null
itest_summary
