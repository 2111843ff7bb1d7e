#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/nchan/run.sh: runs nginx + nchan (bench/nchan/nginx.conf.in) on 127.0.0.1:PORT in
# the foreground until SIGTERM/SIGINT; its files (config, pid, error log) under DIR.
#
# Usage: bench/nchan/run.sh PORT DIR [WORKERS]     (WORKERS: nginx worker_processes, 1)
# Needs nginx and libnginx-mod-nchan (apt-get install libnginx-mod-nchan).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
port=${1:?usage: run.sh PORT DIR [WORKERS]}
dir=${2:?usage: run.sh PORT DIR [WORKERS]}
workers=${3:-1}
[[ $port =~ ^[0-9]+$ ]] || { echo "run.sh: PORT must be a number" >&2; exit 2; }
[[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]] ||
	{ echo "run.sh: no nchan module (apt-get install libnginx-mod-nchan)" >&2; exit 1; }
mkdir -p "$dir/tmp"
dir=$(cd "$dir" && pwd -P)
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@WORKERS@|$workers|g" \
	"$here/nginx.conf.in" >"$dir/nginx.conf"
nginx -t -p "$dir" -c "$dir/nginx.conf" 2>"$dir/check.log" || { cat "$dir/check.log" >&2; exit 1; }
ulimit -n 20000 2>/dev/null || true
exec nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
