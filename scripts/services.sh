#!/usr/bin/env bash
# Start the services orgengine's demo and tests need, idempotently:
#   - Redis        127.0.0.1:6379  (no persistence)
#   - MariaDB      127.0.0.1:3306  (root, empty password over TCP) + databases
#                  `orgengine` and `orgengine_test`
#   - Debian's chromium (the console's browser tests drive it with playwright-core)
#   - a local Redis Cluster of 3 masters + 3 replicas for the cluster tests
#     (cluster-require-full-coverage no, so a slot without a master does not
#     stop the others); its state lives in .run/cluster/<port>/ and its seed
#     list (every node) in .run/cluster.nodes. Tests that kill nodes start their
#     own throwaway cluster (test/support/throwawayRedis.ts), never this one.
#
# Usage: bash scripts/services.sh [--stop-cluster | --help]
# Env:   ORGENGINE_CLUSTER_PORTS=P1,...,P6  use these cluster ports (3 masters,
#                                           then 3 replicas) instead of the first
#                                           free ones from 30001 up
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$ROOT/.run"
CLUSTER_DIR="$RUN_DIR/cluster"
NODES_FILE="$RUN_DIR/cluster.nodes"

REDIS_PORT=6379
REDIS_LOG=/var/log/redis/ci.log
MYSQL_HOST=127.0.0.1
MYSQL_PORT=3306
DATABASES=(orgengine orgengine_test)
CLUSTER_FIRST_PORT=30001
CLUSTER_MASTERS=3
CLUSTER_REPLICAS=1
CLUSTER_SIZE=$((CLUSTER_MASTERS * (1 + CLUSTER_REPLICAS)))
WAIT_SECS=30

usage() {
  cat <<EOF
Usage: bash scripts/services.sh [--stop-cluster | --help]

Without flags: make sure Redis (127.0.0.1:$REDIS_PORT), MariaDB (127.0.0.1:$MYSQL_PORT,
root without password, databases ${DATABASES[*]}) and a local Redis Cluster of
3 masters + 3 replicas are running, starting (or, as root on Debian, installing) what is
missing. Safe to run repeatedly. The cluster's seed list is written to
.run/cluster.nodes; the summary prints the export line for the tests.

  --stop-cluster   shut down the local test cluster and remove .run/cluster
  --help           show this help

Env: ORGENGINE_CLUSTER_PORTS=P1,...,P6  cluster ports (default: the first
     $CLUSTER_SIZE free ports from $CLUSTER_FIRST_PORT up whose bus port, port+10000,
     has no socket at all, TIME-WAIT included)
EOF
}

say() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
trap 'echo "services: ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

# Print the tail of a log file to stderr (if there is one) and die.
die_log() {
  local msg=$1 log=$2
  if [[ -r "$log" ]]; then
    echo "---- last lines of $log ----" >&2
    tail -n 20 "$log" >&2 || true
    echo "----" >&2
  fi
  die "$msg (see $log)"
}

# ---------------------------------------------------------------- helpers ---

rcli() { timeout 5 redis-cli "$@" 2>/dev/null; }

redis_pong() { # host port
  [[ "$(rcli -h "$1" -p "$2" ping | tr -d '\r')" == PONG ]]
}

port_free() { # port -> 0 if nothing listens on it (any address)
  local p=$1
  if have ss; then
    [[ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
  fi
}

# A bus port (port+10000, often inside the ephemeral range) must not be held by
# any socket: a client's ephemeral port or one in TIME-WAIT after a restart
# makes the node's bus listener or its outgoing links fail in odd ways.
bus_port_free() { # port
  local p=$1
  if have ss; then
    [[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
  fi
}

# A process with this name exists and is not a zombie (pid 1 on some sandboxes
# never reaps, so stopped daemons linger as <defunct>).
live_proc() { # name
  ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'
}
live_pid() { # pid
  local st
  st="$(ps -p "$1" -o stat= 2>/dev/null)" && [[ -n "$st" && "$st" != Z* ]]
}

apt_install() { # package
  local pkg=$1 log="$RUN_DIR/apt-$1.log"
  [[ $EUID -eq 0 ]] && have apt-get ||
    die "$pkg is not installed and cannot be installed automatically (need root and apt-get); install it and rerun"
  say "installing $pkg with apt-get (log: $log)"
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$pkg"
  } >"$log" 2>&1 9>&- || die_log "apt-get install $pkg failed" "$log"
}

# ------------------------------------------------------------------ redis ---

REDIS_STATUS=""
ensure_redis() {
  if have redis-cli && redis_pong 127.0.0.1 "$REDIS_PORT"; then
    REDIS_STATUS="already running"
    say "redis $REDIS_PORT: already running"
    return
  fi
  local installed=""
  if ! have redis-server || ! have redis-cli; then
    apt_install redis-server
    installed=1
    # The package's init script may already have started it (with
    # /etc/redis/redis.conf); then just switch persistence off.
    if redis_pong 127.0.0.1 "$REDIS_PORT"; then
      rcli -p "$REDIS_PORT" config set save "" >/dev/null || true
      rcli -p "$REDIS_PORT" config set appendonly no >/dev/null || true
      REDIS_STATUS="installed and started"
      say "redis $REDIS_PORT: installed and started (by the package; persistence turned off)"
      return
    fi
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile "$REDIS_LOG" 9>&- ||
    die_log "redis $REDIS_PORT: redis-server failed to start" "$REDIS_LOG"
  local i
  for ((i = 0; i < 20; i++)); do
    redis_pong 127.0.0.1 "$REDIS_PORT" && break
    sleep 0.5
  done
  redis_pong 127.0.0.1 "$REDIS_PORT" ||
    die_log "redis $REDIS_PORT: started but does not answer PING after 10s" "$REDIS_LOG"
  REDIS_STATUS="${installed:+installed and }started"
  say "redis $REDIS_PORT: $REDIS_STATUS"
}

# ---------------------------------------------------------------- mariadb ---

MYSQL_STATUS=""
mysql_cli() {
  if have mariadb; then mariadb "$@"; else mysql "$@"; fi
}
mysql_admin() {
  if have mariadb-admin; then mariadb-admin "$@"; else mysqladmin "$@"; fi
}
# Server answers on TCP at all (0 even on "access denied").
mysql_alive() {
  mysql_admin --protocol=tcp -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot \
    --connect-timeout=3 ping >/dev/null 2>&1
}
# root over TCP with an empty password works.
mysql_root_tcp() {
  mysql_cli --protocol=tcp -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot --connect-timeout=5 \
    -Nse 'select 1' >/dev/null 2>&1
}
# Value of a [mysqld] option from the config files (last one wins).
mysqld_opt() { # name default
  local v=""
  have my_print_defaults && v="$(my_print_defaults --mysqld 2>/dev/null | sed -n "s/^--$1=//p" | tail -n 1)"
  echo "${v:-$2}"
}

start_mariadb() {
  local bin user datadir errlog out
  bin="$(command -v mariadbd || command -v mysqld || true)"
  [[ -n "$bin" ]] || bin=/usr/sbin/mariadbd
  [[ -x "$bin" ]] || die "mariadb: server binary not found ($bin)"
  # mariadbd refuses to run as root unless told which user to be; the data
  # dir is owned by `mysql`, so run as that user.
  if id mysql >/dev/null 2>&1; then user=mysql; else user=root; fi
  datadir="$(mysqld_opt datadir /var/lib/mysql)"
  errlog="$(mysqld_opt log-error /var/log/mysql/error.log)"
  out=/var/log/mysql/mariadbd.out
  mkdir -p /var/log/mysql /run/mysqld "$(dirname "$errlog")"
  [[ $user == mysql ]] && chown mysql:mysql /run/mysqld /var/log/mysql 2>/dev/null || true
  if [[ ! -d "$datadir/mysql" ]]; then
    say "mariadb: no system tables in $datadir, running mariadb-install-db"
    local installdb
    installdb="$(command -v mariadb-install-db || command -v mysql_install_db || true)"
    [[ -n "$installdb" ]] || die "mariadb: $datadir is not initialized and mariadb-install-db is missing"
    "$installdb" --user="$user" --datadir="$datadir" >"$RUN_DIR/mariadb-install-db.log" 2>&1 ||
      die_log "mariadb: mariadb-install-db failed" "$RUN_DIR/mariadb-install-db.log"
  fi
  if live_proc mariadbd || live_proc mysqld; then
    say "mariadb: a server process exists but does not answer yet; waiting for it"
  elif have start-stop-daemon; then
    start-stop-daemon --start --oknodo --background --output "$out" \
      --exec "$bin" -- --user="$user" 9>&- ||
      die_log "mariadb: start-stop-daemon failed to start $bin" "$out"
  else
    (setsid nohup "$bin" --user="$user" >"$out" 2>&1 </dev/null 9>&- &)
  fi
  local i
  for ((i = 0; i < WAIT_SECS; i++)); do
    mysql_alive && return 0
    sleep 1
  done
  [[ -s "$out" ]] && { echo "---- $out ----" >&2; tail -n 20 "$out" >&2; }
  die_log "mariadb: not answering on $MYSQL_HOST:$MYSQL_PORT after ${WAIT_SECS}s" "$errlog"
}

# Only called when root over TCP does NOT work: fix it through the unix socket
# (root@localhost authenticates with unix_socket on Debian).
fix_mysql_root_tcp() {
  say "mariadb: root@$MYSQL_HOST without password is refused over TCP; fixing via the unix socket"
  mysql_cli -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" ||
    die "mariadb: cannot connect as root through the unix socket to fix TCP access; make root@127.0.0.1 (empty password) work and rerun"
  mysql_root_tcp && { say "mariadb: created root@127.0.0.1 (empty password)"; return; }
  # Without skip-name-resolve, 127.0.0.1 may be matched as root@localhost.
  mysql_cli -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
    FLUSH PRIVILEGES;" ||
    die "mariadb: could not allow an empty root password for root@localhost"
  mysql_root_tcp || die "mariadb: root over TCP $MYSQL_HOST:$MYSQL_PORT still refused; check mysql.user for root"
  say "mariadb: root@localhost now also accepts an empty password (besides unix_socket)"
}

ensure_mariadb() {
  local installed=""
  MYSQL_STATUS="already running"
  if ! mysql_alive; then
    if ! { have mariadbd || have mysqld || [[ -x /usr/sbin/mariadbd ]]; } ||
      ! { have mariadb || have mysql; } || ! { have mariadb-admin || have mysqladmin; }; then
      apt_install mariadb-server
      installed=1
    fi
    # (after a fresh install the package may already have started it)
    mysql_alive || start_mariadb
    MYSQL_STATUS="${installed:+installed and }started"
  fi
  say "mariadb $MYSQL_PORT: $MYSQL_STATUS"
  mysql_root_tcp || fix_mysql_root_tcp
  local db sql=""
  for db in "${DATABASES[@]}"; do
    sql+="CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4; "
  done
  mysql_cli --protocol=tcp -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot -e "$sql" ||
    die "mariadb: creating databases ${DATABASES[*]} failed"
  say "mariadb $MYSQL_PORT: databases ready: ${DATABASES[*]}"
}

# ---------------------------------------------------------- redis cluster ---

# pid from .run/cluster/<port>/redis.pid if that process is still our redis.
cluster_node_pid() { # port
  local port=$1 pid
  pid="$(cat "$CLUSTER_DIR/$port/redis.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq "redis-server.*:$port([^0-9]|$)" || return 1
  echo "$pid"
}

# Stop every node recorded under .run/cluster (by its pidfile), remove state.
stop_cluster() {
  local d port pid i stopped=()
  if [[ -d "$CLUSTER_DIR" ]]; then
    for d in "$CLUSTER_DIR"/*/; do
      [[ -d "$d" ]] || continue
      port="$(basename "$d")"
      [[ "$port" =~ ^[0-9]+$ ]] || continue
      pid="$(cluster_node_pid "$port")" || continue
      rcli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null || true
      for ((i = 0; i < 20; i++)); do
        live_pid "$pid" || break
        sleep 0.25
      done
      if live_pid "$pid"; then
        kill "$pid" 2>/dev/null || true
        sleep 1
        live_pid "$pid" && kill -9 "$pid" 2>/dev/null || true
      fi
      stopped+=("$port")
    done
  fi
  rm -rf "$CLUSTER_DIR"
  rm -f "$NODES_FILE"
  if ((${#stopped[@]})); then
    say "redis cluster: stopped nodes on ports ${stopped[*]}"
  fi
}

cluster_node_ok() { # port -> state ok, all slots assigned, every node known
  local info
  info="$(rcli -h 127.0.0.1 -p "$1" cluster info | tr -d '\r')" || return 1
  grep -qx 'cluster_state:ok' <<<"$info" &&
    grep -qx 'cluster_slots_assigned:16384' <<<"$info" &&
    grep -qx "cluster_known_nodes:$CLUSTER_SIZE" <<<"$info" &&
    grep -qx "cluster_size:$CLUSTER_MASTERS" <<<"$info"
}

nodes_to_ports() { # "127.0.0.1:P1,..." -> "P1 P2 P3"
  tr ',' '\n' <<<"$1" | sed -n 's/^.*:\([0-9][0-9]*\)[[:space:]]*$/\1/p' | tr '\n' ' ' | sed 's/ $//'
}

CLUSTER_STATUS=""
CLUSTER_NODES=""
ensure_cluster() {
  local wanted="" recorded="" ports=() p

  if [[ -n "${ORGENGINE_CLUSTER_PORTS:-}" ]]; then
    IFS=', ' read -r -a ports <<<"$ORGENGINE_CLUSTER_PORTS"
    ((${#ports[@]} == CLUSTER_SIZE)) || die "ORGENGINE_CLUSTER_PORTS must list exactly $CLUSTER_SIZE ports, masters first (got '$ORGENGINE_CLUSTER_PORTS')"
    for p in "${ports[@]}"; do
      [[ "$p" =~ ^[0-9]+$ ]] && ((p > 0 && p + 10000 <= 65535)) ||
        die "ORGENGINE_CLUSTER_PORTS: '$p' is not a usable port (port+10000 is the bus port)"
    done
    wanted="${ports[*]}"
  fi

  # Reuse a healthy recorded cluster.
  if [[ -s "$NODES_FILE" ]]; then
    recorded="$(nodes_to_ports "$(head -n 1 "$NODES_FILE")")"
    local healthy=1 n=0
    for p in $recorded; do
      n=$((n + 1))
      [[ -d "$CLUSTER_DIR/$p" ]] && cluster_node_ok "$p" || { healthy=""; break; }
    done
    ((n == CLUSTER_SIZE)) || healthy=""
    if [[ -n $healthy && ( -z $wanted || $wanted == "$recorded" ) ]]; then
      CLUSTER_NODES="$(head -n 1 "$NODES_FILE" | tr -d '[:space:]')"
      CLUSTER_STATUS="already running"
      say "redis cluster: already running on $CLUSTER_NODES"
      return
    fi
    if [[ -n $healthy ]]; then
      say "redis cluster: running on ports $recorded but ORGENGINE_CLUSTER_PORTS=$ORGENGINE_CLUSTER_PORTS; recreating"
    else
      say "redis cluster: recorded nodes ($recorded) are not all up/healthy; recreating from scratch"
    fi
  fi
  # Leftovers (dead or half-alive nodes, stale nodes.conf) are disposable.
  stop_cluster

  if [[ -n $wanted ]]; then
    for p in "${ports[@]}"; do
      port_free "$p" || die "redis cluster: port $p (from ORGENGINE_CLUSTER_PORTS) is already in use"
      bus_port_free $((p + 10000)) || die "redis cluster: bus port $((p + 10000)) for $p is in use (or in TIME-WAIT)"
    done
  else
    ports=()
    for ((p = CLUSTER_FIRST_PORT; p + 10000 <= 65535 && ${#ports[@]} < CLUSTER_SIZE; p++)); do
      port_free "$p" && bus_port_free $((p + 10000)) && ports+=("$p")
    done
    ((${#ports[@]} == CLUSTER_SIZE)) || die "redis cluster: could not find $CLUSTER_SIZE free ports from $CLUSTER_FIRST_PORT up"
  fi

  local dir addrs=()
  for p in "${ports[@]}"; do
    dir="$CLUSTER_DIR/$p"
    mkdir -p "$dir"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --cluster-require-full-coverage no --save "" --appendonly no --daemonize yes \
      --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" 9>&- ||
      die_log "redis cluster: node $p failed to start" "$dir/redis.log"
    addrs+=("127.0.0.1:$p")
  done
  local i ok
  for p in "${ports[@]}"; do
    for ((i = 0; i < 20; i++)); do
      redis_pong 127.0.0.1 "$p" && break
      sleep 0.5
    done
    redis_pong 127.0.0.1 "$p" || die_log "redis cluster: node $p does not answer PING" "$CLUSTER_DIR/$p/redis.log"
  done

  local createlog="$CLUSTER_DIR/create.log"
  timeout 60 redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$CLUSTER_REPLICAS" --cluster-yes \
    >"$createlog" 2>&1 || die_log "redis cluster: 'redis-cli --cluster create' failed" "$createlog"

  for ((i = 0; i < WAIT_SECS * 2; i++)); do
    ok=1
    for p in "${ports[@]}"; do cluster_node_ok "$p" || { ok=""; break; }; done
    [[ -n $ok ]] && break
    sleep 0.5
  done
  [[ -n $ok ]] || die_log "redis cluster: cluster_state not ok on all nodes after ${WAIT_SECS}s (node logs: $CLUSTER_DIR/<port>/redis.log)" "$createlog"

  CLUSTER_NODES="$(IFS=,; echo "${addrs[*]}")"
  echo "$CLUSTER_NODES" >"$NODES_FILE.tmp"
  mv -f "$NODES_FILE.tmp" "$NODES_FILE"
  CLUSTER_STATUS="started"
  say "redis cluster: started on $CLUSTER_NODES"
}

# --------------------------------------------------------------- chromium ---

# The console's browser tests drive Debian's Chromium through playwright-core
# (/usr/bin/chromium; playwright's own browser downloads are not used).
CHROMIUM_STATUS=""
ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then
    CHROMIUM_STATUS="already installed"
  else
    apt_install chromium
    CHROMIUM_STATUS="installed"
  fi
  say "chromium: $CHROMIUM_STATUS (/usr/bin/chromium)"
}

# ------------------------------------------------------------------- main ---

MODE=up
case "${1:-}" in
  "") ;;
  --stop-cluster) MODE=stop ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
esac
(($# <= 1)) || { usage >&2; die "too many arguments"; }

mkdir -p "$RUN_DIR"
# Serialize concurrent runs (several shells / CI jobs in one tree). Daemons we
# start get `9>&-` so they do not inherit (and keep holding) the lock.
if have flock; then
  exec 9>"$RUN_DIR/services.lock"
  flock -w 300 9 || die "another scripts/services.sh run holds $RUN_DIR/services.lock"
fi

if [[ $MODE == stop ]]; then
  if ! have redis-cli; then rm -rf "$CLUSTER_DIR" "$NODES_FILE"; exit 0; fi
  [[ -d "$CLUSTER_DIR" || -e "$NODES_FILE" ]] || { say "redis cluster: not running"; exit 0; }
  stop_cluster
  say "redis cluster: stopped, removed $CLUSTER_DIR"
  exit 0
fi

ensure_redis
ensure_mariadb
ensure_cluster
ensure_chromium

cat <<EOF

== services ready
  redis          127.0.0.1:$REDIS_PORT  ($REDIS_STATUS; log $REDIS_LOG)
  mariadb        $MYSQL_HOST:$MYSQL_PORT  ($MYSQL_STATUS; root, no password; databases: ${DATABASES[*]})
  redis cluster  $CLUSTER_NODES  ($CLUSTER_STATUS; state in ${CLUSTER_DIR#"$ROOT"/}/<port>/, list in ${NODES_FILE#"$ROOT"/})
  chromium       /usr/bin/chromium  ($CHROMIUM_STATUS; for the console's browser tests)

export ORGENGINE_TEST_CLUSTER_NODES=$CLUSTER_NODES
EOF
