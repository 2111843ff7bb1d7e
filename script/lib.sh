# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# script/lib.sh: what script/server, script/test, script/build and script/setup-deps share.
# Sourced, never run. The contract it implements is OPERATIONS.md (the two commands, the
# environment, pid files and restarts) and docs/RUNTIME.md (how chatd runs, the $CHAT_VAR
# layout).
#
#   deps_install         installs the Debian packages that are missing (apt-get, once)
#   build_tree DIR ARGS  autoreconf when needed, then an out-of-tree configure + make in DIR
#   stack_run            the private stack in the foreground: prepares $CHAT_VAR, starts
#                        PostgreSQL, Redis, `chatd --migrate`, CHAT_INSTANCES chatd processes
#                        and the web server (CHAT_WEB: lighttpd or nginx), waits for
#                        /healthz, then supervises them all until SIGINT/SIGTERM, when it
#                        stops everything it started.
#
# Every long-running process is started in its own session (setsid), so that a Ctrl-C on the
# terminal reaches only the supervisor, which then stops the stack in order, and so that a
# process that dies can be cleaned up with everything it left behind (PostgreSQL backends
# outlive a SIGKILLed postmaster) by killing its whole process group. The supervisor keeps
# the pids it started in memory; the pid files under $CHAT_VAR/run are for others (tests).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# Files we create are readable by the daemons' users whatever the caller's umask.
umask 022

say() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${SAY_TAG:-chatd}" "$*"; }
warn() { say "warning: $*" >&2; }
die() {
	say "error: $*" >&2
	exit 1
}

need_root() {
	[[ $EUID == 0 ]] || die "$(basename "$0") must run as root (it installs packages and creates the user chatd)"
}

# ---------------------------------------------------------------- Debian packages

# What building, running and testing chatd needs on a fresh Debian 12.
CHAT_PACKAGES=(
	build-essential autoconf automake libtool pkg-config autoconf-archive
	libfcgi-dev libpq-dev libhiredis-dev libjson-c-dev libjwt-dev check libsodium-dev libmagic-dev
	postgresql-15 postgresql-client-15 redis-server lighttpd nginx
	curl jq bats wrk openssl procps
)

# deps_install: installs the packages of CHAT_PACKAGES that are missing. When all are
# present it only asks dpkg (no network). Package scripts must not start system daemons
# (a system lighttpd would take port 80, a system redis and PostgreSQL their ports), so a
# policy-rc.d that forbids it stands for the time of the install.
deps_install() {
	local -a missing=()
	local -A installed=()
	local pkg status

	while IFS=$'\t' read -r pkg status; do
		[[ $status == ii* ]] && installed[$pkg]=1
	done < <(dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\n' "${CHAT_PACKAGES[@]}" 2>/dev/null || true)
	for pkg in "${CHAT_PACKAGES[@]}"; do
		[[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0

	need_root
	say "installing Debian packages: ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d ours=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# script/lib.sh: no daemons started by package installs\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	local rc=0
	{
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q &&
			apt-get install -y -q --no-install-recommends \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
				"${missing[@]}"
	} || rc=$?
	((ours)) && rm -f "$policy"
	((rc == 0)) || die "apt-get failed (status $rc) installing: ${missing[*]}"
}

# ---------------------------------------------------------------- build

# build_tree DIR [CONFIGURE_ARGS...]: builds chatd out of tree in $REPO/DIR. Runs
# `autoreconf -fi` only when configure is missing or older than configure.ac/Makefile.am,
# and configure only when DIR has no Makefile yet, configure is newer than its last run,
# or the arguments changed.
build_tree() {
	local dir=$REPO/$1
	shift
	local args="$*" jobs
	jobs=$(nproc 2>/dev/null || echo 2)

	[[ -f $REPO/configure.ac ]] || die "no configure.ac in $REPO: nothing to build yet"
	if [[ ! -x $REPO/configure || $REPO/configure -ot $REPO/configure.ac ||
		$REPO/configure -ot $REPO/Makefile.am ]]; then
		say "autoreconf -fi"
		(cd "$REPO" && autoreconf -fi) || die "autoreconf failed"
	fi
	if [[ -f $REPO/config.status ]]; then
		die "$REPO is configured in-tree (config.status): run 'make distclean' there; script/build builds out of tree"
	fi

	mkdir -p "$dir"
	if [[ ! -f $dir/Makefile || ! -f $dir/config.status || $dir/config.status -ot $REPO/configure ||
		"$(cat "$dir/.configure-args" 2>/dev/null)" != "$args" ]]; then
		say "configure $args (in ${dir#"$REPO"/})"
		rm -f "$dir/.configure-args"
		# shellcheck disable=SC2086 # the arguments are plain words (--enable-...)
		(cd "$dir" && "$REPO/configure" $args) >"$dir/configure.out" 2>&1 || {
			tail -n 30 "$dir/configure.out" >&2
			die "configure failed (full output: $dir/configure.out)"
		}
		printf '%s' "$args" >"$dir/.configure-args"
	fi
	say "make -j$jobs (in ${dir#"$REPO"/})"
	make --no-print-directory -C "$dir" -j"$jobs" || die "make failed in $dir"
}

# ---------------------------------------------------------------- process helpers

# proc_alive PID: true while PID runs (a zombie is dead).
proc_alive() {
	local st
	[[ -n ${1:-} ]] || return 1
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# group_alive PGID: true while any live process is in process group PGID.
group_alive() {
	local f st state pgrp
	for f in /proc/[0-9]*/stat; do
		{ read -r st <"$f"; } 2>/dev/null || continue
		st=${st##*) }
		read -r state _ pgrp _ <<<"$st"
		[[ $pgrp == "$1" && $state != Z ]] && return 0
	done
	return 1
}

# kill_group PGID: SIGKILL to the whole group, until nothing of it runs (10 s at most).
kill_group() {
	local pgid=$1 i
	for ((i = 0; i < 40; i++)); do
		kill -KILL -- "-$pgid" 2>/dev/null || true
		group_alive "$pgid" || return 0
		sleep 0.25
	done
	warn "process group $pgid still has live processes after SIGKILL"
	return 1
}

# wait_gone PID SECONDS: waits until PID is dead; false on timeout.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		proc_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# port_busy PORT: true when something accepts connections on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- stack: settings

PG_BIN=/usr/lib/postgresql/15/bin
CHAT_SYSUSER=chatd
WEB_USER=www-data
WEB_GROUP=www-data

# as_chatd CMD...: runs CMD as the system user chatd, without supplementary groups.
as_chatd() { setpriv --reuid="$CHAT_SYSUSER" --regid="$CHAT_SYSUSER" --clear-groups -- "$@"; }

# stack_check_web: lighttpd and nginx are supported, apache not yet (exit status 2).
stack_check_web() {
	case ${CHAT_WEB:=lighttpd} in
	lighttpd | nginx) ;;
	apache)
		say "error: CHAT_WEB=$CHAT_WEB is not supported yet: only lighttpd and nginx are" >&2
		exit 2
		;;
	*)
		say "error: CHAT_WEB must be lighttpd, apache or nginx (got '$CHAT_WEB')" >&2
		exit 2
		;;
	esac
}

# config_file_load FILE: `key = value` lines (# comments) as CHAT_KEY variables, for the
# keys not set in the environment already (the environment wins). chatd gets them too.
config_file_load() {
	local line key value
	[[ -r $1 ]] || die "cannot read the configuration file $1"
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line =~ ^[[:space:]]*# ]] && continue
		[[ $line =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]] || {
			[[ $line =~ ^[[:space:]]*$ ]] || die "$1: cannot read the line '$line'"
			continue
		}
		key=CHAT_${BASH_REMATCH[1]^^}
		value=${BASH_REMATCH[2]}
		[[ -n ${!key+set} ]] || export "$key=$value"
	done <"$1"
}

# stack_init: checks and completes the settings of OPERATIONS.md, makes paths absolute and
# exports what chatd reads. CHAT_DAEMON (default build/src/chatd) names the binary to run.
stack_init() {
	: "${CHAT_PORT:=8080}" "${CHAT_WEB:=lighttpd}" "${CHAT_INSTANCES:=1}"
	: "${CHAT_TOKEN_TTL:=86400}" "${CHAT_PRESENCE_TTL:=60}" "${CHAT_RATE_LIMIT:=20}"
	: "${CHAT_MAX_GROUP_MEMBERS:=500}" "${CHAT_MAX_MEDIA_BYTES:=26214400}"
	: "${CHAT_DAEMON:=$REPO/build/src/chatd}"

	stack_check_web
	local v
	for v in CHAT_PORT CHAT_INSTANCES CHAT_TOKEN_TTL CHAT_PRESENCE_TTL CHAT_RATE_LIMIT \
		CHAT_MAX_GROUP_MEMBERS CHAT_MAX_MEDIA_BYTES; do
		[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
	done
	((CHAT_PORT >= 1 && CHAT_PORT <= 65535)) || die "CHAT_PORT must be 1..65535"
	((CHAT_INSTANCES >= 1 && CHAT_INSTANCES <= 64)) || die "CHAT_INSTANCES must be 1..64"

	# $CHAT_VAR: default ./var of the repository; a relative path is taken from here.
	if [[ -z ${CHAT_VAR:-} ]]; then
		CHAT_VAR=$REPO/var
	fi
	CHAT_VAR=$(realpath -m -- "$CHAT_VAR")
	[[ $CHAT_VAR != / ]] || die "CHAT_VAR must not be /"
	CHAT_DAEMON=$(realpath -m -- "$CHAT_DAEMON")

	RUN=$CHAT_VAR/run
	LOG_DIR=$CHAT_VAR/log
	PGDATA=$CHAT_VAR/pg

	# Unix socket paths hold at most 107 bytes: reach a long $CHAT_VAR/run through a short
	# symbolic link in /tmp, named after a hash of the path. The longest socket is
	# run/fcgi/chatd-64.sock, 19 bytes after run/.
	SOCK_RUN=$RUN
	LONG_PATH_LINK=
	if ((${#RUN} > 80)); then
		LONG_PATH_LINK=/tmp/chatd-$(printf '%s' "$CHAT_VAR" | md5sum | cut -c1-12)
		SOCK_RUN=$LONG_PATH_LINK
	fi

	export CHAT_PORT CHAT_VAR CHAT_WEB CHAT_INSTANCES CHAT_TOKEN_TTL CHAT_PRESENCE_TTL \
		CHAT_RATE_LIMIT CHAT_MAX_GROUP_MEMBERS CHAT_MAX_MEDIA_BYTES
	[[ -n ${CHAT_JWT_SECRET:-} ]] && export CHAT_JWT_SECRET
	export CHAT_PG="host=$SOCK_RUN/pg dbname=chat user=$CHAT_SYSUSER"
	export CHAT_REDIS=$SOCK_RUN/redis.sock
	export CHAT_SQL_DIR=$REPO/sql
	export CHAT_SOCKET_GROUP=$WEB_GROUP
	export CHAT_USER=$CHAT_SYSUSER

	COMPONENTS=(postgres redis)
	local i
	for ((i = 1; i <= CHAT_INSTANCES; i++)); do
		COMPONENTS+=("chatd-$i")
	done
	COMPONENTS+=(web)
}

# ---------------------------------------------------------------- stack: preparation

# ensure_user: the system user chatd (no login shell, no home of its own).
ensure_user() {
	id -u "$CHAT_SYSUSER" >/dev/null 2>&1 && return 0
	say "creating the system user $CHAT_SYSUSER"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$CHAT_SYSUSER"
}

# ensure_reachable PATH USER...: every directory from / down to PATH must be searchable
# by each USER; adds the search bit for others (o+x) where it lacks, and says so.
ensure_reachable() {
	local path=$1 dir=/ part user
	shift
	local -a parts
	IFS=/ read -ra parts <<<"${path#/}"
	for part in "" "${parts[@]}"; do
		[[ -n $part ]] && dir=${dir%/}/$part
		[[ -d $dir ]] || return 0
		for user in "$@"; do
			if ! setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- test -x "$dir"; then
				say "adding the search bit (o+x) to $dir so that $user can reach $path"
				chmod o+x "$dir"
				break
			fi
		done
	done
}

# ensure_readable PATH USER: makes the tree PATH readable by all when USER cannot read it.
ensure_readable() {
	if ! setpriv --reuid="$2" --regid="$(id -g "$2")" --clear-groups -- test -r "$1"; then
		say "making $1 readable by all (a+rX) so that $2 can read it"
		chmod -R a+rX "$1"
	fi
}

# mkdir_as OWNER:GROUP MODE DIR: creates DIR and sets its owner and mode, every start.
mkdir_as() {
	mkdir -p "$3"
	chown "$1" "$3"
	chmod "$2" "$3"
}

# stack_refuse_if_running: a stack of this $CHAT_VAR that is still up keeps its pid files.
stack_refuse_if_running() {
	local f pid comm
	for f in "$RUN"/*.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		if proc_alive "$pid"; then
			comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
			case $comm in
			postgres | redis-server | lighttpd | nginx | chatd | lt-chatd)
				die "a stack is already running on $CHAT_VAR ($(basename "$f" .pid): pid $pid); stop it first"
				;;
			esac
		fi
		rm -f "$f"
	done
}

# stack_prepare: the user, the $CHAT_VAR layout of docs/RUNTIME.md with its owners and
# modes, the PostgreSQL cluster, and the configuration files under run/.
stack_prepare() {
	need_root
	[[ -x $CHAT_DAEMON ]] || die "no chatd binary at $CHAT_DAEMON (run script/build)"
	ensure_user
	getent group "$WEB_GROUP" >/dev/null || die "group $WEB_GROUP is missing (package lighttpd creates it)"

	# Daemons reach $CHAT_VAR as chatd and www-data; chatd runs the binary from the
	# repository and reads sql/; lighttpd serves www/ and lighttpd/errors/.
	mkdir -p "$CHAT_VAR"
	ensure_reachable "$CHAT_VAR" "$CHAT_SYSUSER" "$WEB_USER"
	ensure_reachable "$(dirname "$CHAT_DAEMON")" "$CHAT_SYSUSER"
	ensure_reachable "$REPO" "$CHAT_SYSUSER" "$WEB_USER"
	ensure_readable "$REPO/sql" "$CHAT_SYSUSER"
	ensure_readable "$REPO/www" "$WEB_USER"
	ensure_readable "$REPO/lighttpd/errors" "$WEB_USER"
	as_chatd test -x "$CHAT_DAEMON" || die "the user $CHAT_SYSUSER cannot run $CHAT_DAEMON (check its mode)"

	# The layout of docs/RUNTIME.md. $CHAT_VAR and run/ are writable by the group chatd
	# (jwt.key, redis.sock) with the sticky bit, so chatd cannot remove what root put there.
	mkdir_as "root:$CHAT_SYSUSER" 1771 "$CHAT_VAR"
	mkdir_as "root:$CHAT_SYSUSER" 1771 "$RUN"
	mkdir_as "$CHAT_SYSUSER:$CHAT_SYSUSER" 0700 "$RUN/pg"
	mkdir_as "$CHAT_SYSUSER:$WEB_GROUP" 0750 "$RUN/fcgi"
	mkdir_as root:root 0755 "$LOG_DIR"
	# lighttpd opens its logs after dropping to www-data.
	local f
	for f in "$LOG_DIR/web-error.log" "$LOG_DIR/web-access.log"; do
		touch "$f"
		chown "$WEB_USER:$WEB_GROUP" "$f"
		chmod 0640 "$f"
	done
	mkdir_as "$WEB_USER:$WEB_GROUP" 0700 "$CHAT_VAR/tmp"
	mkdir_as "$CHAT_SYSUSER:$WEB_GROUP" 2750 "$CHAT_VAR/media"
	mkdir_as "$CHAT_SYSUSER:$CHAT_SYSUSER" 0700 "$CHAT_VAR/redis"
	stack_refuse_if_running
	pg_refuse_if_running
	if [[ -n $LONG_PATH_LINK ]]; then
		ln -sfn "$RUN" "$LONG_PATH_LINK"
		say "socket paths go through $LONG_PATH_LINK -> $RUN (the full path is too long)"
	fi

	pg_prepare
	redis_prepare
	web_prepare
}

# pg_prepare: initdb once (as chatd, trust on the unix socket only), then our settings in
# chatd.conf, rewritten on every start and included from postgresql.conf.
pg_prepare() {
	if [[ ! -s $PGDATA/PG_VERSION ]]; then
		say "initdb $PGDATA"
		mkdir_as "$CHAT_SYSUSER:$CHAT_SYSUSER" 0700 "$PGDATA"
		(cd "$CHAT_VAR" && as_chatd "$PG_BIN/initdb" -D "$PGDATA" -U "$CHAT_SYSUSER" \
			--auth=trust -E UTF8 --locale=C.UTF-8) >"$LOG_DIR/initdb.log" 2>&1 || {
			tail -n 20 "$LOG_DIR/initdb.log" >&2
			die "initdb failed (see $LOG_DIR/initdb.log)"
		}
	fi
	# Each chatd holds one connection per thread (CHAT_THREADS workers, CHAT_POLL_THREADS
	# poll answerers, one housekeeper): size for all instances, plus room for tools.
	local per_chatd=$((${CHAT_THREADS:-16} + ${CHAT_POLL_THREADS:-4} + 2))
	local max_conn=$((CHAT_INSTANCES * per_chatd + 40))
	((max_conn < 200)) && max_conn=200
	cat >"$PGDATA/chatd.conf" <<-EOF
		# Written by script/lib.sh on every start: edits here are lost.
		listen_addresses = ''
		unix_socket_directories = '$SOCK_RUN/pg'
		unix_socket_permissions = 0700
		max_connections = $max_conn
		shared_buffers = 256MB
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		timezone = 'UTC'
		log_timezone = 'UTC'
		log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	chown "$CHAT_SYSUSER:$CHAT_SYSUSER" "$PGDATA/chatd.conf"
	grep -q "^include_if_exists = 'chatd.conf'" "$PGDATA/postgresql.conf" ||
		printf "\n# script/lib.sh\ninclude_if_exists = 'chatd.conf'\n" >>"$PGDATA/postgresql.conf"
}

# redis_prepare: unix socket only, append-only file under $CHAT_VAR/redis.
redis_prepare() {
	cat >"$RUN/redis.conf" <<-EOF
		# Written by script/lib.sh on every start: edits here are lost.
		port 0
		unixsocket $SOCK_RUN/redis.sock
		unixsocketperm 700
		daemonize no
		supervised no
		dir $CHAT_VAR/redis
		appendonly yes
		appendfsync everysec
		logfile ""
		pidfile ""
	EOF
}

# web_prepare: raises the open-files limit (inherited by every process of the stack), then
# renders the configuration of CHAT_WEB: lighttpd/chatd.conf.in into run/lighttpd.conf, or
# nginx/chatd.conf.in into run/nginx.conf (nginx_prepare), and has the server check it.
#
# It also sizes CHAT_MAX_HELD (unless set): each chatd holds at most its share of what the
# web server can hold with room to spare, so that chatd answers the polls beyond it 503
# itself while the web server still accepts everything else (a send that would wake the
# held polls included). A held poll costs lighttpd two descriptors, and lighttpd stops
# accepting anything at 90 % of them ("sockets disabled, out-of-fds"): its connection cap
# is set below that, and chatd's below the cap.
web_prepare() {
	local hard max_fds backends="" i conns held
	hard=$(ulimit -Hn)
	[[ $hard == unlimited ]] && hard=1048576
	max_fds=$((hard < 32768 ? hard : 32768))
	ulimit -n "$max_fds" 2>/dev/null || warn "could not raise the open-files limit to $max_fds"
	if [[ $CHAT_WEB == nginx ]]; then
		nginx_prepare "$max_fds"
		return
	fi
	conns=$(((max_fds * 9 / 10 - 256) / 2))
	held=$(((conns - 512) / CHAT_INSTANCES))
	: "${CHAT_MAX_HELD:=$((held > 1 ? held : 1))}"
	export CHAT_MAX_HELD
	for ((i = 1; i <= CHAT_INSTANCES; i++)); do
		backends+="${backends:+$'\n'}		\"chatd-$i\" => var.chatd_backend + ( \"socket\" => \"$SOCK_RUN/fcgi/chatd-$i.sock\" ),"
	done
	render_template "$REPO/lighttpd/chatd.conf.in" "$RUN/lighttpd.conf" \
		CHAT_PORT="$CHAT_PORT" \
		WEB_USER="$WEB_USER" WEB_GROUP="$WEB_GROUP" \
		DOCUMENT_ROOT="$REPO/www" \
		ERRORFILE_PREFIX="$REPO/lighttpd/errors/chatd-error-" \
		LOG_DIR="$LOG_DIR" TMP_DIR="$CHAT_VAR/tmp" MEDIA_DIR="$CHAT_VAR/media" \
		MAX_REQUEST_KB="$(((CHAT_MAX_MEDIA_BYTES + 65536 + 1023) / 1024))" \
		MAX_FDS="$max_fds" MAX_CONNECTIONS="$conns" \
		FASTCGI_BACKENDS="$backends"
	lighttpd -tt -f "$RUN/lighttpd.conf" >"$LOG_DIR/web-check.log" 2>&1 || {
		cat "$LOG_DIR/web-check.log" >&2
		die "lighttpd rejects $RUN/lighttpd.conf"
	}
}

# nginx_prepare NOFILE: renders nginx/chatd.conf.in into run/nginx.conf (sizes: see
# "Capacity" there) and has nginx check it. Each worker may open NOFILE descriptors (at most
# the hard limit); 2/3 of them are connections, and a worker takes at most half of the
# connections it has beyond 512 as requests in progress (a client and a chatd connection
# each, plus a body temp file). At least 4 workers, so that one nginx holds well over 10,000
# held polls even on a small machine.
nginx_prepare() {
	local nofile=$1 workers conns reqs held backends="" i
	workers=$(nproc 2>/dev/null || echo 1)
	((workers >= 4)) || workers=4
	((workers <= 64)) || workers=64
	conns=$((nofile * 2 / 3))
	reqs=$(((conns - 512) / 2))
	((reqs >= conns / 4)) || reqs=$((conns / 4))
	# chatd: two thirds of what the workers hold (they fill unevenly), and no more than
	# chatd's own descriptors allow.
	held=$((workers * reqs * 2 / 3))
	((held <= nofile - 1024)) || held=$((nofile - 1024))
	held=$((held / CHAT_INSTANCES))
	: "${CHAT_MAX_HELD:=$((held > 1 ? held : 1))}"
	export CHAT_MAX_HELD
	for ((i = 1; i <= CHAT_INSTANCES; i++)); do
		backends+="${backends:+$'\n'}		server unix:$SOCK_RUN/fcgi/chatd-$i.sock max_fails=1 fail_timeout=1s;"
	done
	render_template "$REPO/nginx/chatd.conf.in" "$RUN/nginx.conf" \
		CHAT_PORT="$CHAT_PORT" \
		WEB_USER="$WEB_USER" WEB_GROUP="$WEB_GROUP" \
		DOCUMENT_ROOT="$REPO/www" \
		LOG_DIR="$LOG_DIR" TMP_DIR="$CHAT_VAR/tmp" MEDIA_DIR="$CHAT_VAR/media" RUN_DIR="$RUN" \
		MAX_BODY_BYTES="$((CHAT_MAX_MEDIA_BYTES + 65536))" \
		WORKER_PROCESSES="$workers" WORKER_NOFILE="$nofile" \
		WORKER_CONNECTIONS="$conns" WORKER_REQUESTS="$reqs" \
		FASTCGI_BACKENDS="$backends"
	nginx -t -q -c "$RUN/nginx.conf" >"$LOG_DIR/web-check.log" 2>&1 || {
		cat "$LOG_DIR/web-check.log" >&2
		die "nginx rejects $RUN/nginx.conf"
	}
}

# render_template SRC DST NAME=VALUE...: replaces each @NAME@ in SRC; all must have a value.
render_template() {
	local src=$1 dst=$2 text kv left
	shift 2
	text=$(<"$src")
	for kv in "$@"; do
		text=${text//"@${kv%%=*}@"/"${kv#*=}"}
	done
	left=$(grep -o '@[A-Z_]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)
	[[ -z $left ]] || die "$src: no value for $left"
	printf '%s\n' "$text" >"$dst.tmp"
	mv -f "$dst.tmp" "$dst"
}

# ---------------------------------------------------------------- stack: processes

declare -A PIDS=() STARTED_AT=() QUICK_DEATHS=() RESTART_AT=()
LAST_PID=

# pg_leftovers: pids of the processes that work in $PGDATA. Every PostgreSQL process does
# (chdir to the data directory), and each child of the postmaster calls setsid(), so
# backends are neither in the postmaster's process group nor, once it died, its children.
pg_leftovers() {
	find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' -lname "$PGDATA" -printf '%h\n' \
		2>/dev/null | sed 's|^/proc/||'
}

# pg_end_leftovers: SIGKILL to what a dead postmaster left running, until none is left.
pg_end_leftovers() {
	local i pids
	for ((i = 0; i < 40; i++)); do
		pids=$(pg_leftovers)
		[[ -n $pids ]] || return 0
		# shellcheck disable=SC2086 # one pid a word
		kill -KILL $pids 2>/dev/null || true
		sleep 0.25
	done
	warn "PostgreSQL processes still run in $PGDATA after SIGKILL: $(pg_leftovers | tr '\n' ' ')"
	return 1
}

# pg_refuse_if_running: a PostgreSQL that is not ours must not run on $PGDATA.
pg_refuse_if_running() {
	local pid
	pid=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
	if [[ -n $pid ]] && proc_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
		die "PostgreSQL already runs on $PGDATA (pid $pid); stop it first"
	fi
}

start_postgres() {
	# Nothing of an earlier postmaster may still run: PostgreSQL would refuse to start while
	# its backends hold the old shared memory. A postmaster killed with SIGKILL also leaves
	# postmaster.pid behind; PostgreSQL ignores the file when its pid is gone, but if another
	# process has that pid by now, it would refuse to start: remove the file then.
	pg_end_leftovers || true
	local old
	old=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
	if [[ -n $old ]] && proc_alive "$old"; then
		rm -f "$PGDATA/postmaster.pid"
	fi
	(cd "$CHAT_VAR" && exec setsid setpriv --reuid="$CHAT_SYSUSER" --regid="$CHAT_SYSUSER" \
		--clear-groups -- "$PG_BIN/postgres" -D "$PGDATA") \
		>>"$LOG_DIR/postgres.log" 2>&1 </dev/null &
	LAST_PID=$!
	disown "$LAST_PID"
}

start_redis() {
	(cd "$CHAT_VAR" && exec setsid setpriv --reuid="$CHAT_SYSUSER" --regid="$CHAT_SYSUSER" \
		--clear-groups -- redis-server "$RUN/redis.conf") \
		>>"$LOG_DIR/redis.log" 2>&1 </dev/null &
	LAST_PID=$!
	disown "$LAST_PID"
}

# chatd runs as chatd from the start, with www-data as its one supplementary group so that
# it can give its socket to the web server (CHAT_SOCKET_GROUP).
start_chatd() {
	local name=chatd-$1
	(cd "$CHAT_VAR" && exec setsid env CHAT_INSTANCE="$name" \
		CHAT_SOCKET="$SOCK_RUN/fcgi/$name.sock" HOME="$CHAT_VAR" \
		setpriv --reuid="$CHAT_SYSUSER" --regid="$CHAT_SYSUSER" --groups="$WEB_GROUP" -- \
		"$CHAT_DAEMON") \
		>>"$LOG_DIR/$name.log" 2>&1 </dev/null &
	LAST_PID=$!
	disown "$LAST_PID"
}

# lighttpd starts as root (to open its logs) and drops to www-data itself. So does nginx's
# master (daemon off, in the configuration), whose workers run as www-data in its process
# group: web.pid is the master's.
start_web() {
	if [[ $CHAT_WEB == nginx ]]; then
		nginx_end_leftovers || true
		(cd "$CHAT_VAR" && exec setsid nginx -c "$RUN/nginx.conf") \
			>>"$LOG_DIR/web-error.log" 2>&1 </dev/null &
	else
		(cd "$CHAT_VAR" && exec setsid lighttpd -D -f "$RUN/lighttpd.conf") \
			>>"$LOG_DIR/web-error.log" 2>&1 </dev/null &
	fi
	LAST_PID=$!
	disown "$LAST_PID"
}

# nginx_leftovers: pids of nginx processes of this stack (they work in $CHAT_VAR). After a
# SIGKILL of the master its workers go on serving the port; the supervisor ends its process
# group, and this finds any that escaped it, so that a new master never shares the port
# (reuseport) with workers of the old one.
nginx_leftovers() {
	local d comm
	while IFS= read -r d; do
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		[[ $comm == nginx ]] && proc_alive "${d#/proc/}" && echo "${d#/proc/}"
	done < <(find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' -lname "$CHAT_VAR" \
		-printf '%h\n' 2>/dev/null)
	return 0
}

# nginx_end_leftovers: SIGKILL to them, until none is left (10 s at most).
nginx_end_leftovers() {
	local i pids
	for ((i = 0; i < 40; i++)); do
		pids=$(nginx_leftovers)
		[[ -n $pids ]] || return 0
		((i == 0)) && warn "ending nginx processes left by an earlier master: $(tr '\n' ' ' <<<"$pids")"
		# shellcheck disable=SC2086 # one pid a word
		kill -KILL $pids 2>/dev/null || true
		sleep 0.25
	done
	warn "nginx processes still run in $CHAT_VAR after SIGKILL: $(nginx_leftovers | tr '\n' ' ')"
	return 1
}

# start_component NAME: starts it and writes run/NAME.pid.
start_component() {
	local name=$1
	case $name in
	postgres) start_postgres ;;
	redis) start_redis ;;
	web) start_web ;;
	chatd-*) start_chatd "${name#chatd-}" ;;
	*) die "unknown component $name" ;;
	esac
	PIDS[$name]=$LAST_PID
	STARTED_AT[$name]=$SECONDS
	printf '%s\n' "$LAST_PID" >"$RUN/$name.pid.tmp"
	mv -f "$RUN/$name.pid.tmp" "$RUN/$name.pid"
}

# log_file NAME: where a component's output goes.
log_file() {
	if [[ $1 == web ]]; then
		echo "$LOG_DIR/web-error.log"
	else
		echo "$LOG_DIR/$1.log"
	fi
}

# log_tail NAME: the end of a component's log, for error messages.
log_tail() {
	local f
	f=$(log_file "$1")
	[[ -f $f ]] && tail -n 15 "$f" | sed "s/^/  $1| /" >&2
	return 0
}

# wait_for NAME SECONDS CMD...: waits until CMD succeeds while everything started so far
# keeps running.
wait_for() {
	local name=$1 limit=$2 i other
	shift 2
	for ((i = 0; i < limit * 4; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		for other in "${!PIDS[@]}"; do
			proc_alive "${PIDS[$other]}" && continue
			log_tail "$other"
			die "$other exited during start-up (logs: $LOG_DIR)"
		done
		sleep 0.25
	done
	log_tail "$name"
	die "$name did not get ready within $limit s"
}

healthz_ok() {
	curl -fsS -o /dev/null -m 3 "http://127.0.0.1:$CHAT_PORT/healthz"
}

pg_ready() {
	"$PG_BIN/pg_isready" -q -h "$SOCK_RUN/pg" -d postgres -U "$CHAT_SYSUSER"
}

redis_ready() {
	[[ $(redis-cli -s "$SOCK_RUN/redis.sock" ping 2>/dev/null) == PONG ]]
}

# pg_ensure_db: the database chat, owned by chatd.
pg_ensure_db() {
	local -a psql=("$PG_BIN/psql" -X -q -h "$SOCK_RUN/pg" -U "$CHAT_SYSUSER" -d postgres -v ON_ERROR_STOP=1)
	if [[ -z $("${psql[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = 'chat'") ]]; then
		say "creating the database chat"
		"${psql[@]}" -c "CREATE DATABASE chat OWNER $CHAT_SYSUSER ENCODING 'UTF8'" ||
			die "could not create the database chat"
	fi
}

# chatd_migrate: `chatd --migrate` once, before the instances start.
chatd_migrate() {
	say "chatd --migrate (sql: $CHAT_SQL_DIR)"
	(cd "$CHAT_VAR" && exec env CHAT_INSTANCE=migrate HOME="$CHAT_VAR" \
		setpriv --reuid="$CHAT_SYSUSER" --regid="$CHAT_SYSUSER" --groups="$WEB_GROUP" -- \
		"$CHAT_DAEMON" --migrate) >>"$LOG_DIR/migrate.log" 2>&1 </dev/null || {
		log_tail migrate
		die "chatd --migrate failed (log: $LOG_DIR/migrate.log)"
	}
}

# stack_start: starts everything in dependency order and waits until /healthz answers.
stack_start() {
	port_busy "$CHAT_PORT" && die "127.0.0.1:$CHAT_PORT is already in use (set CHAT_PORT)"
	say "starting PostgreSQL ($PGDATA)"
	start_component postgres
	wait_for postgres 60 pg_ready
	pg_ensure_db
	say "starting Redis ($SOCK_RUN/redis.sock)"
	start_component redis
	wait_for redis 30 redis_ready
	chatd_migrate
	local name
	for name in "${COMPONENTS[@]}"; do
		[[ $name == chatd-* ]] || continue
		say "starting $name ($SOCK_RUN/fcgi/$name.sock)"
		start_component "$name"
	done
	say "starting $CHAT_WEB on 127.0.0.1:$CHAT_PORT"
	start_component web
	wait_for web "${CHAT_START_TIMEOUT:-90}" healthz_ok
}

# restart_component NAME: NAME died. End what it left (its whole process group), then start
# it again with the same data and sockets: at once, but one that keeps dying within 10 s of
# its start waits 1, 2, 4, then 8 s before each further start, so a crash loop does not spin.
restart_component() {
	local name=$1 pid=${PIDS[$1]} lived delay
	if [[ -z ${RESTART_AT[$name]:-} ]]; then
		lived=$((SECONDS - STARTED_AT[$name]))
		if ((lived < 10)); then
			QUICK_DEATHS[$name]=$((${QUICK_DEATHS[$name]:-0} + 1))
		else
			QUICK_DEATHS[$name]=0
		fi
		delay=0
		if ((QUICK_DEATHS[$name] > 1)); then
			delay=$((1 << (QUICK_DEATHS[$name] > 5 ? 3 : QUICK_DEATHS[$name] - 2)))
		fi
		say "$name (pid $pid) died after ${lived}s (log: $(log_file "$name")); restarting in ${delay}s"
		((QUICK_DEATHS[$name] > 1)) && log_tail "$name"
		kill_group "$pid" || true
		[[ $name == postgres ]] && { pg_end_leftovers || true; }
		RESTART_AT[$name]=$((SECONDS + delay))
	fi
	((SECONDS >= RESTART_AT[$name])) || return 0
	unset "RESTART_AT[$name]"
	start_component "$name"
	say "$name restarted (pid ${PIDS[$name]})"
}

# stack_supervise: checks every component twice a second, forever.
stack_supervise() {
	local name
	while :; do
		sleep 0.5
		for name in "${COMPONENTS[@]}"; do
			proc_alive "${PIDS[$name]}" || restart_component "$name"
		done
	done
}

# stop_wait NAME SECONDS: after the polite signal sent by the caller, waits for NAME, then
# ends its whole process group and removes its pid file.
stop_wait() {
	local name=$1 pid=${PIDS[$1]:-}
	[[ -n $pid ]] || return 0
	wait_gone "$pid" "$2" || warn "$name (pid $pid) did not stop within $2 s: SIGKILL"
	kill_group "$pid" || true
	[[ $name == postgres ]] && { pg_end_leftovers || true; }
	rm -f "$RUN/$name.pid"
	unset "PIDS[$name]"
}

# stack_stop: stops everything, web server first and PostgreSQL last. Idempotent.
STACK_STOPPING=0
stack_stop() {
	((STACK_STOPPING)) && return 0
	STACK_STOPPING=1
	set +e
	# No more signals, and a reader of our output that went away (script/server | tee,
	# when Ctrl-C ended tee too) must not kill us before the stack is down.
	trap '' INT TERM HUP PIPE
	if ((${#PIDS[@]} > 0)); then
		say "stopping"
		local name
		if [[ -n ${PIDS[web]:-} ]]; then
			kill -TERM "${PIDS[web]}" 2>/dev/null
			stop_wait web 10
		fi
		for name in "${!PIDS[@]}"; do
			[[ $name == chatd-* ]] && kill -TERM "${PIDS[$name]}" 2>/dev/null
		done
		for name in "${!PIDS[@]}"; do
			[[ $name == chatd-* ]] && stop_wait "$name" 30
		done
		if [[ -n ${PIDS[redis]:-} ]]; then
			kill -TERM "${PIDS[redis]}" 2>/dev/null
			stop_wait redis 30
		fi
		if [[ -n ${PIDS[postgres]:-} ]]; then
			(cd "$CHAT_VAR" && as_chatd "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60) \
				>>"$LOG_DIR/postgres.log" 2>&1 || kill -INT "${PIDS[postgres]}" 2>/dev/null
			stop_wait postgres 60
		fi
		say "stopped"
	fi
	[[ -n ${LONG_PATH_LINK:-} && -L $LONG_PATH_LINK ]] && rm -f "$LONG_PATH_LINK"
	return 0
}

# stack_run: the whole private stack in the foreground, until SIGINT or SIGTERM.
stack_run() {
	stack_init
	trap stack_stop EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	stack_prepare
	stack_start
	say "ready: http://127.0.0.1:$CHAT_PORT/ ($CHAT_INSTANCES chatd instance(s), data in $CHAT_VAR; Ctrl-C stops)"
	stack_supervise
}
