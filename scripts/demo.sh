#!/usr/bin/env bash
# The demo: services, install, migrate, seed a synthetic day, preload it, print
# what readers see, then start the gateway and use it as a classroom client
# would: mint a student token, enter a room, pick a group, read the cache hit
# ratio. Safe to run again (every step is idempotent).
#
#   bash scripts/demo.sh                 # stops the gateway at the end
#   DEMO_KEEP_SERVING=1 bash scripts/demo.sh   # leaves it up and prints how to stop it
#   DEMO_PORT=8080                       # the gateway's port (default 8080)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DAY="${DEMO_DATE:-$(date -u +%F)}"
PORT="${DEMO_PORT:-8080}"
LESSON=100001
export ORGENGINE_MYSQL_URL="${ORGENGINE_MYSQL_URL:-mysql://root@127.0.0.1:3306/orgengine}"
# A demo secret, made once and kept in .run/ so tokens minted earlier stay valid.
mkdir -p .run
[ -s .run/demo-token-secret ] || node -e "console.log(require('crypto').randomBytes(32).toString('hex'))" >.run/demo-token-secret
export ORGENGINE_TOKEN_SECRET="${ORGENGINE_TOKEN_SECRET:-$(cat .run/demo-token-secret)}"
oe() { node bin/orgengine.js "$@"; }
# Prints a JSON answer cut to its first N characters so one screen holds the story.
short() { local n="${2:-400}"; if [ "${#1}" -gt "$n" ]; then printf '%s …(%d bytes)\n' "${1:0:$n}" "${#1}"; else printf '%s\n' "$1"; fi; }

echo "== services";  bash scripts/services.sh
echo "== install";   npm install --no-audit --no-fund --loglevel=error
echo "== migrate";   oe migrate
echo "== seed $DAY: 4 lessons of 3,000 students, 6 tutors, group policy"
oe seed --lessons 4 --students 3000 --tutors 6 --policy group --seed 1 --date "$DAY"
echo "== preload the day"
oe preload --date "$DAY"
echo "== what readers see"
oe show --lesson "$LESSON"

echo "== the gateway: orgengine serve --port $PORT"
if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  echo "demo: port $PORT already answers; stop that process or set DEMO_PORT" >&2
  exit 1
fi
LOG=.run/demo-serve.log
# node directly, not through oe(): $! must be the gateway itself, not a subshell.
node bin/orgengine.js serve --port "$PORT" --host 127.0.0.1 >"$LOG" 2>&1 &
SERVE_PID=$!
echo "$SERVE_PID" >.run/demo-serve.pid
stop_gateway() { kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true; }
[ -n "${DEMO_KEEP_SERVING:-}" ] || trap stop_gateway EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "demo: the gateway exited; its log:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "demo: the gateway is not ready; its log:" >&2; cat "$LOG" >&2; exit 1; }
echo "listening on http://127.0.0.1:$PORT (pid $SERVE_PID, log $LOG)"

# A student of the lesson, from its preloaded positions.
STUDENT=$(mysql -uroot -h127.0.0.1 -P3306 orgengine -Nse "SELECT uid FROM room_user WHERE lesson_id=$LESSON ORDER BY uid LIMIT 1")
echo "== a student token: orgengine token --uid $STUDENT --role student --lesson $LESSON --ttl 3600"
T=$(oe token --uid "$STUDENT" --role student --lesson "$LESSON" --ttl 3600)
short "$T" 60
H="authorization: Bearer $T"
URL="http://127.0.0.1:$PORT/v1/lessons/$LESSON"

echo "== enter the main room: GET /v1/lessons/$LESSON/enter?room=main"
short "$(curl -sS -H "$H" "$URL/enter?room=main")"
echo "== pick a group (placed automatically): POST /v1/lessons/$LESSON/students/$STUDENT/group {}"
short "$(curl -sS -H "$H" -H 'content-type: application/json' -d '{}' "$URL/students/$STUDENT/group")"
echo "== enter again: the answer now carries the picked group"
for _ in 1 2 3 4 5; do curl -sS -o /dev/null -H "$H" "$URL/enter?room=main"; done
curl -sS -H "$H" "$URL/enter?room=main" | node -e "let s='';process.stdin.on('data',(d)=>(s+=d)).on('end',()=>{const v=JSON.parse(s);console.log(JSON.stringify({uid:v.uid,roomId:v.roomId,node:v.node?.nodeId,group:v.group?.nodeId,groupPath:v.group?.path}))})"
echo "== /metrics: local cache"
curl -sS "http://127.0.0.1:$PORT/metrics" | grep -E '^orgengine_cache_(hit_ratio|lookups_total)' || true

if [ -n "${DEMO_KEEP_SERVING:-}" ]; then
  echo "== the gateway stays up on http://127.0.0.1:$PORT; stop it with: kill $SERVE_PID   (or: kill \$(cat .run/demo-serve.pid))"
  echo "   export ORGENGINE_TOKEN_SECRET=\$(cat .run/demo-token-secret) to mint more tokens for it"
else
  echo "== stopping the gateway (DEMO_KEEP_SERVING=1 leaves it up)"
fi
