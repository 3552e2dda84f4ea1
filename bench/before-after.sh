#!/bin/bash
# Paired before/after of the proxy path: the hello app direct, Ferry built from another checkout
# ("before") and Ferry from this one ("after"), each with 2 app processes, measured with wrk in
# interleaved rounds so that the machine's drift hits all three alike. Prints one line per run
# and the medians. Everything it starts is stopped at the end (also on Ctrl-C).
#
# Usage: bench/before-after.sh BEFORE_CHECKOUT [DURATION_S] [ROUNDS] [PATH]
#   BEFORE_CHECKOUT: a clone with its own `npm run build` done, e.g. of commit 627c086:
#     git clone -q . /tmp/ferry-before && (cd /tmp/ferry-before && git checkout -q 627c086 &&
#       ln -s "$PWD/node_modules" node_modules && npm run build)
set -euo pipefail
BEFORE=$(cd "$1" && pwd)
AFTER=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${2:-5}
ROUNDS=${3:-3}
URL_PATH=${4:-/}
TMP=$(mktemp -d /tmp/ferry-before-after.XXXXXX)
DIRECT_PID=

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

cleanup() {
  set +e
  [ -n "$DIRECT_PID" ] && kill "$DIRECT_PID" 2>/dev/null
  for side in before after; do
    root=$BEFORE; [ "$side" = after ] && root=$AFTER
    [ -d "$TMP/$side" ] && node "$root/bin/run.js" stop --instance-registry-dir "$TMP/$side" >/dev/null 2>&1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

P_DIRECT=$(free_port)
PORT=$P_DIRECT node "$AFTER/bench/apps/hello/app.js" &
DIRECT_PID=$!
declare -A PORTS=([direct]=$P_DIRECT)
# As root (as bench/run.mjs does): the app is the checkout's, owned by root.
[ "$(id -u)" = 0 ] && export FERRY_USER=root
for side in before after; do
  root=$BEFORE; [ "$side" = after ] && root=$AFTER
  port=$(free_port)
  mkdir -p "$TMP/$side"
  node "$root/bin/run.js" start "$AFTER/bench/apps/hello" --daemonize --address 127.0.0.1 --port "$port" \
    --min-instances 2 --max-pool-size 2 -e production --log-file "$TMP/$side.log" --instance-registry-dir "$TMP/$side" >/dev/null
  PORTS[$side]=$port
done
sleep 1
for c in direct before after; do wrk -t1 -c50 -d1s "http://127.0.0.1:${PORTS[$c]}$URL_PATH" >/dev/null; done

echo "wrk -t1 -c50 -d${DURATION}s $URL_PATH; $ROUNDS interleaved rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RPS=()
for r in $(seq "$ROUNDS"); do
  for c in direct before after; do
    out=$(wrk -t1 -c50 -d"${DURATION}s" --latency "http://127.0.0.1:${PORTS[$c]}$URL_PATH" 2>&1)
    rps=$(awk '/Requests\/sec/{print int($2)}' <<<"$out")
    p99=$(awk '/ 99%/{print $2}' <<<"$out")
    errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)
    RPS[$c]="${RPS[$c]:-} $rps"
    echo "round $r $c $rps req/s p99 $p99 $errors"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
d=$(median "${RPS[direct]}"); b=$(median "${RPS[before]}"); a=$(median "${RPS[after]}")
echo "medians: direct $d, before $b ($(awk "BEGIN{printf \"%.2f\", $b/$d}")x), after $a ($(awk "BEGIN{printf \"%.2f\", $a/$d}")x); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
