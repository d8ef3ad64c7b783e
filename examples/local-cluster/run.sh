#!/usr/bin/env bash
# A Cortex cluster of separate processes on loopback: three ingesters in zones
# a, b and c (replication factor 3, zone-aware), one distributor and one querier,
# sharing a ring kept in etcd (default) or gossiped among the processes.
#
#   run.sh start [--etcd|--gossip]   start the cluster and wait until it is ready
#   run.sh status                    what runs, whether it is ready, the ring
#   run.sh restart COMPONENT         start one component again (e.g. a killed ingester-b)
#   run.sh stop                      SIGTERM everything (SIGKILL after a timeout)
#   run.sh clean                     stop, then delete the state directory
#
# Environment:
#   CORTEX_BIN     the cortex binary (default: the workspace's target/release/cortex,
#                  else target/debug/cortex)
#   CLUSTER_DIR    state: data, logs, pid files (default: ./.local-cluster)
#   BASE_PORT      first port of the block of ports used (default: 19000), see below
#   ETCD_ENDPOINT  host:port of an etcd to use instead of starting one
#   ETCD_BIN       the etcd binary (default: etcd on the PATH)
#   TENANT         tenant shown in the examples (default: demo)
#   AUTH_ENABLED   false: no X-Scope-OrgID needed, everything goes to tenant "fake"
#                  (for clients that cannot send headers, e.g. Debian's Prometheus 2.42)
#   EXTRA_FLAGS    more cortex flags for every process, space-separated, e.g.
#                  "-distributor.ingestion-rate-limit=1000000 -distributor.ingestion-burst-size=2000000"
#   READY_TIMEOUT  seconds to wait for the cluster to come up (default: 90)
#   STOP_TIMEOUT   seconds to wait for a process to exit after SIGTERM (default: 40)
#
# Ports (BASE_PORT=19000):
#   component     HTTP   gRPC   gossip
#   distributor   19000  19010  19020
#   querier       19001  19011  19021
#   ingester-a    19002  19012  19022
#   ingester-b    19003  19013  19023
#   ingester-c    19004  19014  19024
#   etcd          19030 (clients), 19031 (peers)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

CLUSTER_DIR=${CLUSTER_DIR:-./.local-cluster}
BASE_PORT=${BASE_PORT:-19000}
AUTH_ENABLED=${AUTH_ENABLED:-true}
case "$AUTH_ENABLED" in
    true) TENANT=${TENANT:-demo} ;;
    false) TENANT=fake ;;
    *) echo "run.sh: AUTH_ENABLED must be true or false" >&2 && exit 1 ;;
esac
READY_TIMEOUT=${READY_TIMEOUT:-90}
STOP_TIMEOUT=${STOP_TIMEOUT:-40}
ETCD_BIN=${ETCD_BIN:-etcd}
HOST=127.0.0.1

# Components in start order; stop goes the other way round (etcd last).
COMPONENTS=(ingester-a ingester-b ingester-c distributor querier)

STARTING=false

die() {
    echo "run.sh: $*" >&2
    if [[ $STARTING == true ]]; then
        echo "run.sh: what did start still runs; '$0 stop' stops it" >&2
    fi
    exit 1
}

# The slot of a component: its offset inside each block of ports.
slot() {
    case "$1" in
        distributor) echo 0 ;;
        querier) echo 1 ;;
        ingester-a) echo 2 ;;
        ingester-b) echo 3 ;;
        ingester-c) echo 4 ;;
        *) die "unknown component $1" ;;
    esac
}

http_port() { echo $((BASE_PORT + $(slot "$1"))); }
grpc_port() { echo $((BASE_PORT + 10 + $(slot "$1"))); }
gossip_port() { echo $((BASE_PORT + 20 + $(slot "$1"))); }
ETCD_CLIENT_PORT=$((BASE_PORT + 30))
ETCD_PEER_PORT=$((BASE_PORT + 31))

pid_file() { echo "$CLUSTER_DIR/$1/$1.pid"; }
log_file() { echo "$CLUSTER_DIR/$1/$1.log"; }

# The pid in a component's pid file, if that process still runs the program it was
# started as.
live_pid() {
    local file pid
    file=$(pid_file "$1")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    # The kernel keeps the first 15 bytes of the program's name.
    local want
    if [[ $1 == etcd ]]; then
        want=$(basename "$ETCD_BIN")
    else
        want=$(basename "$(head -n 1 "$CLUSTER_DIR/$1/command-line" 2>/dev/null || echo cortex)")
    fi
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "${want:0:15}" ]] || return 1
    echo "$pid"
}

# The HTTP status of GET url, or 000 when nothing answers.
http_status() {
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" || true
}

find_cortex() {
    if [[ -n ${CORTEX_BIN:-} ]]; then
        [[ -x $CORTEX_BIN ]] || die "CORTEX_BIN=$CORTEX_BIN is not an executable file"
        echo "$CORTEX_BIN"
        return
    fi
    local dirs=()
    [[ -n ${CARGO_TARGET_DIR:-} ]] && dirs+=("$CARGO_TARGET_DIR")
    dirs+=("$REPO_ROOT/target")
    # Cargo may be configured to build elsewhere; ask it (this builds nothing).
    if command -v cargo >/dev/null 2>&1; then
        local t
        t=$(cd "$REPO_ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
            sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p') || true
        [[ -n $t ]] && dirs+=("$t")
    fi
    local d
    for profile in release debug; do
        for d in "${dirs[@]}"; do
            if [[ -x $d/$profile/cortex ]]; then
                echo "$d/$profile/cortex"
                return
            fi
        done
    done
    die "no cortex binary found under ${dirs[*]} (release/cortex or debug/cortex).
Build it first, from $REPO_ROOT:
    cargo build --release -p cortex-server
or point CORTEX_BIN at a cortex binary."
}

# Fails when something already listens on a port the cluster needs.
check_port_free() {
    if (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; then
        die "port $1 ($2) is already in use; stop whatever uses it or choose another BASE_PORT"
    fi
}

start_etcd() {
    local dir="$CLUSTER_DIR/etcd"
    mkdir -p "$dir"
    command -v "$ETCD_BIN" >/dev/null 2>&1 ||
        die "etcd not found (install etcd, e.g. Debian's etcd-server, set ETCD_BIN, set ETCD_ENDPOINT, or use --gossip)"
    check_port_free "$ETCD_CLIENT_PORT" "etcd clients"
    check_port_free "$ETCD_PEER_PORT" "etcd peers"
    nohup "$ETCD_BIN" \
        --name local-cluster \
        --data-dir "$dir/data" \
        --listen-client-urls "http://$HOST:$ETCD_CLIENT_PORT" \
        --advertise-client-urls "http://$HOST:$ETCD_CLIENT_PORT" \
        --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
        --initial-cluster "local-cluster=http://$HOST:$ETCD_PEER_PORT" \
        >"$(log_file etcd)" 2>&1 </dev/null &
    echo $! >"$(pid_file etcd)"
    echo "started etcd (pid $!) on $HOST:$ETCD_CLIENT_PORT, log $(log_file etcd)"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until curl -s -m 2 "http://$HOST:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; do
        live_pid etcd >/dev/null || die "etcd exited; see $(log_file etcd)"
        ((SECONDS < deadline)) || die "etcd not healthy after ${READY_TIMEOUT}s; see $(log_file etcd)"
        sleep 0.2
    done
}

# The flags of one component.
component_flags() {
    local name=$1 store=$2 dir=$3
    local flags=(
        "-server.http-listen-address=$HOST"
        "-server.http-listen-port=$(http_port "$name")"
        "-server.grpc-listen-address=$HOST"
        "-server.grpc-listen-port=$(grpc_port "$name")"
        "-blocks-storage.filesystem.dir=$CLUSTER_DIR_ABS/bucket"
        "-blocks-storage.tsdb.dir=$dir/tsdb"
        "-blocks-storage.bucket-store.sync-dir=$dir/tsdb-sync"
        "-auth.enabled=$AUTH_ENABLED"
        "-distributor.replication-factor=3"
        "-ingester.lifecycler.ring.zone-awareness-enabled=true"
    )
    if [[ $store == etcd ]]; then
        flags+=("-ring.store=etcd" "-etcd.endpoints=$ETCD")
    else
        local join=() c
        for c in "${COMPONENTS[@]}"; do
            join+=("$HOST:$(gossip_port "$c")")
        done
        local joined
        joined=$(
            IFS=,
            echo "${join[*]}"
        )
        flags+=(
            "-ring.store=memberlist"
            "-memberlist.bind-addr=$HOST"
            "-memberlist.bind-port=$(gossip_port "$name")"
            "-memberlist.join=$joined"
            "-memberlist.nodename=$name"
        )
    fi
    local extra=()
    read -r -a extra <<<"${EXTRA_FLAGS:-}"
    flags+=("${extra[@]}")
    case "$name" in
        ingester-*)
            local zone=${name#ingester-}
            flags+=(
                "-target=ingester"
                "-ingester.lifecycler.availability-zone=zone-$zone"
                "-ingester.lifecycler.id=$name"
            )
            ;;
        distributor)
            flags+=("-target=distributor" "-distributor.ring.instance-id=distributor")
            ;;
        querier)
            flags+=("-target=querier")
            ;;
    esac
    printf '%s\n' "${flags[@]}"
}

start_component() {
    local name=$1 store=$2 bin=$3
    local dir="$CLUSTER_DIR_ABS/$name"
    mkdir -p "$dir"
    local flags=()
    mapfile -t flags < <(component_flags "$name" "$store" "$dir")
    printf '%s\n' "$bin" "${flags[@]}" >"$dir/command-line"
    # Each process runs in its own directory, so anything relative lands there.
    (cd "$dir" && exec nohup "$bin" "${flags[@]}" >>"$dir/$name.log" 2>&1 </dev/null) &
    echo $! >"$(pid_file "$name")"
    printf 'started %-12s (pid %s) http %s:%s grpc %s:%s, log %s\n' "$name" "$!" \
        "$HOST" "$(http_port "$name")" "$HOST" "$(grpc_port "$name")" "$(log_file "$name")"
}

wait_ready() {
    local name=$1 deadline=$2
    local url
    url="http://$HOST:$(http_port "$name")/ready"
    until [[ $(http_status "$url") == 200 ]]; do
        live_pid "$name" >/dev/null ||
            die "$name exited; last lines of $(log_file "$name"):
$(tail -n 20 "$(log_file "$name")")"
        ((SECONDS < deadline)) || die "$name not ready after ${READY_TIMEOUT}s: $url; see $(log_file "$name")"
        sleep 0.3
    done
}

# How many ingesters are ACTIVE in the ring as a component sees it.
active_ingesters() {
    curl -s -m 2 "http://$HOST:$(http_port "$1")/ingester/ring?format=json" |
        grep -o '"state" *: *"ACTIVE"' | wc -l || true
}

wait_ring() {
    local name=$1 deadline=$2 n
    while true; do
        n=$(active_ingesters "$name")
        ((n >= 3)) && break
        ((SECONDS < deadline)) ||
            die "the $name sees $n ACTIVE ingesters after ${READY_TIMEOUT}s, not 3: http://$HOST:$(http_port "$name")/ingester/ring"
        sleep 0.3
    done
    echo "the $name sees 3 ACTIVE ingesters"
}

any_running() {
    local c
    for c in "${COMPONENTS[@]}" etcd; do
        live_pid "$c" >/dev/null && return 0
    done
    return 1
}

cmd_start() {
    local store=etcd
    while (($#)); do
        case "$1" in
            --etcd) store=etcd ;;
            --gossip | --memberlist) store=memberlist ;;
            *) die "unknown option $1 (start [--etcd|--gossip])" ;;
        esac
        shift
    done
    local bin
    bin=$(find_cortex)
    if any_running; then
        die "the cluster in $CLUSTER_DIR already runs (see: $0 status); stop it first"
    fi
    mkdir -p "$CLUSTER_DIR"
    CLUSTER_DIR_ABS=$(cd "$CLUSTER_DIR" && pwd)
    mkdir -p "$CLUSTER_DIR_ABS/bucket" "$CLUSTER_DIR_ABS/etcd"
    echo "$store" >"$CLUSTER_DIR_ABS/ring-store"
    echo "cortex binary: $bin"
    echo "state under:   $CLUSTER_DIR_ABS"

    local c
    for c in "${COMPONENTS[@]}"; do
        check_port_free "$(http_port "$c")" "$c HTTP"
        check_port_free "$(grpc_port "$c")" "$c gRPC"
        if [[ $store == memberlist ]]; then
            check_port_free "$(gossip_port "$c")" "$c gossip"
        fi
    done
    ETCD=
    STARTING=true
    if [[ $store == etcd ]]; then
        if [[ -n ${ETCD_ENDPOINT:-} ]]; then
            ETCD=$ETCD_ENDPOINT
            echo "using etcd at $ETCD"
        else
            start_etcd
            ETCD="$HOST:$ETCD_CLIENT_PORT"
        fi
        echo "$ETCD" >"$CLUSTER_DIR_ABS/etcd-endpoint"
    else
        rm -f "$CLUSTER_DIR_ABS/etcd-endpoint"
    fi

    for c in "${COMPONENTS[@]}"; do
        start_component "$c" "$store" "$bin"
    done
    local deadline=$((SECONDS + READY_TIMEOUT))
    for c in "${COMPONENTS[@]}"; do
        wait_ready "$c" "$deadline"
        echo "$c is ready"
    done
    wait_ring distributor "$deadline"
    wait_ring querier "$deadline"
    STARTING=false
    write_prometheus_config
    print_urls "$store"
}

# A Prometheus config scraping every process of the cluster and remote-writing into it.
write_prometheus_config() {
    local targets=() c
    for c in "${COMPONENTS[@]}"; do
        targets+=("'$HOST:$(http_port "$c")'")
    done
    local joined
    joined=$(
        IFS=,
        echo "${targets[*]}"
    )
    cat >"$CLUSTER_DIR_ABS/prometheus.yml" <<EOF
# Written by run.sh start: scrape the cluster's processes, write the samples into it.
global:
  scrape_interval: 5s
  external_labels:
    cluster: local-cluster
scrape_configs:
  - job_name: cortex
    static_configs:
      - targets: [${joined//,/, }]
remote_write:
  - url: http://$HOST:$(http_port distributor)/api/v1/push
    headers:
      X-Scope-OrgID: $TENANT
EOF
}

print_urls() {
    local store=$1
    local d q
    d="http://$HOST:$(http_port distributor)"
    q="http://$HOST:$(http_port querier)"
    cat <<EOF

The cluster is up (ring in ${store}).

  remote write (distributor): $d/api/v1/push
  PromQL API (querier):       $q/prometheus     (e.g. $q/prometheus/api/v1/query)
  ingester ring:              $d/ingester/ring
  distributor ring:           $d/distributor/ring
EOF
    if [[ $store == memberlist ]]; then
        echo "  gossip members:             $d/memberlist"
    fi
    local c
    for c in "${COMPONENTS[@]}"; do
        printf '  %-27s http://%s:%s/   (/ready, /metrics, /config, /services)\n' \
            "$c:" "$HOST" "$(http_port "$c")"
    done
    cat <<EOF

$(if [[ $AUTH_ENABLED == true ]]; then
        echo "Every request names its tenant in the X-Scope-OrgID header. Prometheus:"
    else
        echo "Authentication is off: every request goes to tenant fake. Prometheus:"
    fi)

  remote_write:
    - url: $d/api/v1/push
      headers:
        X-Scope-OrgID: $TENANT

Query:

  curl -s -H 'X-Scope-OrgID: $TENANT' '$q/prometheus/api/v1/query' --data-urlencode 'query=up'

A Prometheus that scrapes the cluster's processes and writes into it as $TENANT:

  prometheus --config.file=$CLUSTER_DIR_ABS/prometheus.yml \\
    --storage.tsdb.path=$CLUSTER_DIR_ABS/prometheus --web.listen-address=$HOST:$((BASE_PORT + 90))
$(if [[ $AUTH_ENABLED == true ]]; then
        echo "(Debian's Prometheus 2.42 package sends no remote_write headers: its pushes get"
        echo " 401 \"no org id\". With it, start the cluster with AUTH_ENABLED=false.)"
    fi)

Stop with: $0 stop
EOF
}

cmd_status() {
    local store=unknown
    [[ -f $CLUSTER_DIR/ring-store ]] && store=$(<"$CLUSTER_DIR/ring-store")
    echo "cluster in $CLUSTER_DIR (ring store: $store)"
    local c pid
    if [[ -f $CLUSTER_DIR/etcd-endpoint ]]; then
        if pid=$(live_pid etcd); then
            local health
            health=$(curl -s -m 2 "http://$HOST:$ETCD_CLIENT_PORT/health" || true)
            printf '  %-12s running  pid %-8s %s:%s  health %s\n' etcd "$pid" "$HOST" "$ETCD_CLIENT_PORT" "${health:-none}"
        elif [[ -f $(pid_file etcd) ]]; then
            printf '  %-12s DEAD     (see %s)\n' etcd "$(log_file etcd)"
        elif [[ -d $CLUSTER_DIR/etcd/data ]]; then
            printf '  %-12s stopped\n' etcd
        else
            printf '  %-12s external %s\n' etcd "$(<"$CLUSTER_DIR/etcd-endpoint")"
        fi
    fi
    for c in "${COMPONENTS[@]}"; do
        if pid=$(live_pid "$c"); then
            printf '  %-12s running  pid %-8s http %s:%s  /ready %s\n' "$c" "$pid" "$HOST" \
                "$(http_port "$c")" "$(http_status "http://$HOST:$(http_port "$c")/ready")"
        elif [[ -f $(pid_file "$c") ]]; then
            printf '  %-12s DEAD     (see %s)\n' "$c" "$(log_file "$c")"
        else
            printf '  %-12s stopped\n' "$c"
        fi
    done
    if live_pid distributor >/dev/null; then
        echo "ACTIVE ingesters in the distributor's ring: $(active_ingesters distributor)"
    fi
}

# Whether a process runs (an exited one its parent has not reaped yet does not).
alive() {
    kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# SIGTERM to each pid given as name:pid, then wait; SIGKILL what is left at the timeout.
stop_pids() {
    local entry name pid
    for entry in "$@"; do
        pid=${entry#*:}
        kill -TERM "$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + STOP_TIMEOUT)) left
    while true; do
        left=()
        for entry in "$@"; do
            pid=${entry#*:}
            alive "$pid" && left+=("$entry")
        done
        ((${#left[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for entry in "${left[@]}"; do
                name=${entry%%:*}
                pid=${entry#*:}
                echo "$name (pid $pid) still runs after ${STOP_TIMEOUT}s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            done
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    for entry in "$@"; do
        name=${entry%%:*}
        pid=${entry#*:}
        echo "stopped $name (pid $pid)"
        rm -f "$(pid_file "$name")"
    done
}

cmd_stop() {
    local entries=() c pid i
    # The querier and distributor first, then the ingesters (they leave the ring, so
    # the ring store must still be up), etcd last.
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
        c=${COMPONENTS[i]}
        if pid=$(live_pid "$c"); then
            entries+=("$c:$pid")
        else
            rm -f "$(pid_file "$c")"
        fi
    done
    local front=() ingesters=()
    for c in "${entries[@]}"; do
        case "$c" in
            ingester-*) ingesters+=("$c") ;;
            *) front+=("$c") ;;
        esac
    done
    ((${#front[@]})) && stop_pids "${front[@]}"
    ((${#ingesters[@]})) && stop_pids "${ingesters[@]}"
    if pid=$(live_pid etcd); then
        stop_pids "etcd:$pid"
        entries+=("etcd:$pid")
    else
        rm -f "$(pid_file etcd)"
    fi
    if ((${#entries[@]} == 0)); then
        echo "nothing of the cluster in $CLUSTER_DIR runs"
    fi
}

# Starts one component again (after it was killed, say) with the command line `start`
# used; stops it first if it runs.
cmd_restart() {
    local name=${1:-}
    case "$name" in
        ingester-a | ingester-b | ingester-c | distributor | querier) ;;
        *) die "restart what? one of: ${COMPONENTS[*]}" ;;
    esac
    local dir="$CLUSTER_DIR/$name" pid
    [[ -f $dir/command-line ]] || die "no $dir/command-line: start the cluster first"
    if pid=$(live_pid "$name"); then
        stop_pids "$name:$pid"
    fi
    local argv=()
    mapfile -t argv <"$dir/command-line"
    (cd "$dir" && exec nohup "${argv[@]}" >>"$name.log" 2>&1 </dev/null) &
    echo $! >"$(pid_file "$name")"
    echo "started $name (pid $!)"
    wait_ready "$name" $((SECONDS + READY_TIMEOUT))
    echo "$name is ready"
}

cmd_clean() {
    cmd_stop
    if [[ -d $CLUSTER_DIR ]]; then
        rm -rf -- "$CLUSTER_DIR"
        echo "removed $CLUSTER_DIR"
    fi
}

usage() {
    sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        clean) cmd_clean ;;
        restart) cmd_restart "$@" ;;
        -h | --help | help) usage ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
