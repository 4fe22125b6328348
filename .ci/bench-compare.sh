#!/usr/bin/env bash
# Runs the same `arbiter bench` load side by side against geth --dev, a
# one-validator Arbiter network and a four-validator Arbiter network (load
# into one node, and spread over all four), on loopback, each on a fresh
# chain per run, and prints the median of the runs for each. Not part of CI:
# a measurement, documented in docs/BENCHMARKS.md. Each Arbiter node's
# metrics after each run are kept in DIR/metrics.
#
#   .ci/bench-compare.sh --geth /path/to/geth [--runs 3] [--senders 20]
#       [--per-sender 1000] [--batch 1] [--only geth,one,four,four-spread]
#       [--block-time 1s] [--rate N] [--node-flags "FLAGS"] [--out DIR]
#
# --rate N offers N transfers per second over all senders (`arbiter bench
# --rate`) instead of sending each sender's next as soon as the last is
# answered; it applies to every scenario run. --node-flags passes extra
# flags to every Arbiter node (e.g. "--client-backlog 0" turns off the
# pool's flow control for JSON-RPC clients).
#
# geth is not built here: pass the path of a geth binary built elsewhere.
# Without --geth (and no geth on PATH) the geth runs are left out.
set -euo pipefail
cd "$(dirname "$0")/.."

geth="$(command -v geth || true)"
runs=3
senders=20
per_sender=1000
batch=1
block_time=1s
rate=0
node_flags=""
only="geth,one,four,four-spread"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --geth) geth="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --senders) senders="$2"; shift 2 ;;
    --per-sender) per_sender="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --node-flags) node_flags="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out="$(mktemp -d -t bench-compare-XXXXXX)"
mkdir -p "$out/logs"
work="$(mktemp -d -t bench-compare-work-XXXXXX)"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT

echo "== building arbiter (cgo on)"
CGO_ENABLED=1 go build -o "$work/arbiter" ./cmd/arbiter
arbiter="$work/arbiter"
echo "results in $out; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# port_free reports whether nothing listens on loopback port $1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_base prints a base port b such that b+1..b+$1 are free. It stays
# below 32768, where Linux starts handing out ephemeral ports: a port this
# script saw free could otherwise be taken by an outgoing connection (the
# nodes dial each other) before a node binds it.
free_base() {
  local n="$1" b i ok
  for _ in $(seq 100); do
    b=$(( 20000 + RANDOM % 12000 ))
    ok=1
    for i in $(seq 1 "$n"); do port_free $((b + i)) || { ok=0; break; }; done
    [ "$ok" = 1 ] && { echo "$b"; return; }
  done
  echo "no free ports" >&2; exit 1
}

# head_at_least URL N: the node at URL answers eth_blockNumber >= N.
head_at_least() {
  local hex
  hex=$(curl -s -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" \
    | sed -n 's/.*"result":"0x\([0-9a-fA-F]*\)".*/\1/p')
  [ -n "$hex" ] && [ $((16#$hex)) -ge "$2" ]
}

# wait_head URL N: waits up to 60 s for head_at_least.
wait_head() {
  for _ in $(seq 600); do head_at_least "$1" "$2" && return 0; sleep 0.1; done
  echo "node at $1 did not reach block $2" >&2; return 1
}

# bench LABEL RUN ARGS...: one load run; the JSON result goes to $out.
bench() {
  local label="$1" run="$2"; shift 2
  echo "-- $label run $run (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$arbiter" bench --senders "$senders" --per-sender "$per_sender" --batch "$batch" --rate "$rate" --timeout 15m \
    --json "$out/$label.run$run.json" "$@" 2>>"$out/logs/$label-$run.bench.log" | sed 's/^/   /'
}

run_geth() {
  local run="$1" base dir
  base=$(free_base 3)
  dir="$work/geth-$run"
  # The pool is sized to hold the whole load: when full, geth evicts
  # equal-priced transactions it had accepted (Arbiter refuses new ones,
  # and the tool retries those), which would leave the tool waiting for
  # transfers geth dropped.
  "$geth" --dev --dev.period 1 --dev.gaslimit 1000000000 --datadir "$dir" \
    --http --http.addr 127.0.0.1 --http.port $((base + 1)) --http.api eth,net,web3 \
    --ws --ws.addr 127.0.0.1 --ws.port $((base + 1)) --ws.api eth,net,web3 \
    --authrpc.port $((base + 2)) --port $((base + 3)) --nodiscover --maxpeers 0 \
    --txpool.globalslots 65536 --txpool.globalqueue 16384 --txpool.accountslots 2048 --txpool.accountqueue 2048 \
    --verbosity 2 >"$out/logs/geth-$run.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_head "http://127.0.0.1:$((base + 1))" 1
  bench geth "$run" --rpc "ws://127.0.0.1:$((base + 1))" --funder node --pids "$pid"
  cleanup
}

# run_arbiter LABEL RUN MEMBERS SPREAD: a fresh `arbiter testnet` of MEMBERS
# proof-of-stake validators (1 s blocks and the other testnet defaults), one
# `arbiter node` process each; the load goes to member 1 or, with SPREAD=1,
# round-robin to all of them. One member is what `arbiter dev` runs.
run_arbiter() {
  local label="$1" run="$2" members="$3" spread="$4" base dir i
  base=$(free_base $((2 * members)))
  dir="$work/$label-$run"
  "$arbiter" testnet --members "$members" --engine pos --out "$dir" --base-port "$base" --block-time "$block_time" >/dev/null
  local nodes="" procs=""
  for i in $(seq 1 "$members"); do
    "$arbiter" node --datadir "$dir/member$i/data" --key "$dir/member$i/key" \
      --rpc "127.0.0.1:$((base + members + i))" $node_flags >"$out/logs/$label-$run-node$i.log" 2>&1 &
    pids+=("$!")
    procs="$procs${procs:+,}$!"
    nodes="$nodes${nodes:+,}http://127.0.0.1:$((base + members + i))"
  done
  local first="127.0.0.1:$((base + members + 1))"
  wait_head "http://$first" 2
  if [ "$spread" = 1 ]; then
    bench "$label" "$run" --rpc "ws://$first/ws" --nodes "$nodes" --funder "$dir/member1/key" --pids "$procs"
  else
    bench "$label" "$run" --rpc "ws://$first/ws" --funder "$dir/member1/key" --pids "$procs"
  fi
  # Each node's Prometheus metrics after the run (signatures recovered,
  # transactions fetched, rounds, ...), for reading what the load cost.
  mkdir -p "$out/metrics"
  for i in $(seq 1 "$members"); do
    curl -s -m 2 "http://127.0.0.1:$((base + members + i))/metrics" \
      >"$out/metrics/$label-$run-node$i.txt" || true
  done
  cleanup
}

# field FILE NAME: a top-level number of a JSON result.
field() { sed -n "s/^  \"$2\": \([-0-9.e+]*\),\{0,1\}$/\1/p" "$1"; }

# median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

labels=()
for r in $(seq 1 "$runs"); do
  for s in ${only//,/ }; do
    case "$s" in
      geth)
        if [ -z "$geth" ] || [ ! -x "$geth" ]; then
          [ "$r" = 1 ] && echo "-- geth: no binary (pass --geth PATH); left out"
          continue
        fi
        run_geth "$r" ;;
      one) run_arbiter one "$r" 1 0 ;;
      four) run_arbiter four "$r" 4 0 ;;
      four-spread) run_arbiter four-spread "$r" 4 1 ;;
      *) echo "unknown scenario $s" >&2; exit 2 ;;
    esac
    [ "$r" = 1 ] && labels+=("$s")
  done
done

echo
echo "== medians of $runs runs: $senders senders x $per_sender transfers, batch $batch, offered rate $rate tx/s (0: unpaced), Arbiter block time $block_time, node flags '${node_flags}' (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
cols="submitted_tps included_tps finalized_tps inclusion_p50_ms inclusion_p99_ms final_p50_ms final_p99_ms txs_per_block cpu_us_per_included cpu_us_per_finalized peak_mib_max"
printf '%-12s' scenario
for c in $cols; do printf ' %s' "$c"; done
echo
for l in "${labels[@]}"; do
  printf '%-12s' "$l"
  for c in $cols; do
    v=$(for f in "$out/$l".run*.json; do field "$f" "$c"; done | median)
    printf ' %*s' "${#c}" "$(printf '%.6g' "$v" 2>/dev/null || echo "$v")"
  done
  echo
done
