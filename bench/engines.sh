#!/bin/bash
# Paired comparison of Ferry's two proxy engines on this checkout: the hello app direct, Ferry
# with the previous node:http proxy (FERRY_ENGINE=node) and Ferry with the stage proxy on its own
# front (the default), each with 2 app processes, wrk in interleaved rounds so that the machine's
# drift hits all three alike. Prints one line per run and the medians; stops all it started.
#
# Usage: bench/engines.sh [DURATION_S] [ROUNDS] [PATH]   (after npm run build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${1:-5}
ROUNDS=${2:-3}
URL_PATH=${3:-/}
TMP=$(mktemp -d /tmp/ferry-engines.XXXXXX)
DIRECT_PID=

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

cleanup() {
  set +e
  [ -n "$DIRECT_PID" ] && kill "$DIRECT_PID" 2>/dev/null
  for side in node front; do
    [ -d "$TMP/$side" ] && node "$ROOT/bin/run.js" stop --instance-registry-dir "$TMP/$side" >/dev/null 2>&1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

P_DIRECT=$(free_port)
PORT=$P_DIRECT node "$ROOT/bench/apps/hello/app.js" &
DIRECT_PID=$!
declare -A PORTS=([direct]=$P_DIRECT)
[ "$(id -u)" = 0 ] && export FERRY_USER=root
for side in node front; do
  port=$(free_port)
  mkdir -p "$TMP/$side"
  engine=; [ "$side" = node ] && engine=node
  FERRY_ENGINE=$engine node "$ROOT/bin/run.js" start "$ROOT/bench/apps/hello" --daemonize --address 127.0.0.1 --port "$port" \
    --min-instances 2 --max-pool-size 2 -e production --log-file "$TMP/$side.log" --instance-registry-dir "$TMP/$side" >/dev/null
  PORTS[$side]=$port
done
sleep 1
for c in direct node front; do wrk -t1 -c50 -d1s "http://127.0.0.1:${PORTS[$c]}$URL_PATH" >/dev/null; done

echo "wrk -t1 -c50 -d${DURATION}s $URL_PATH; $ROUNDS interleaved rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RPS=()
for r in $(seq "$ROUNDS"); do
  for c in direct node front; do
    out=$(wrk -t1 -c50 -d"${DURATION}s" --latency "http://127.0.0.1:${PORTS[$c]}$URL_PATH" 2>&1)
    rps=$(awk '/Requests\/sec/{print int($2)}' <<<"$out")
    p99=$(awk '/ 99%/{print $2}' <<<"$out")
    errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)
    RPS[$c]="${RPS[$c]:-} $rps"
    echo "round $r $c $rps req/s p99 $p99 $errors"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
d=$(median "${RPS[direct]}"); n=$(median "${RPS[node]}"); f=$(median "${RPS[front]}")
echo "medians: direct $d, node:http $n ($(awk "BEGIN{printf \"%.2f\", $n/$d}")x), front $f ($(awk "BEGIN{printf \"%.2f\", $f/$d}")x); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
