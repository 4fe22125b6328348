#!/usr/bin/env bash
# Measures what an idle proof-of-stake network costs: starts a fresh
# `arbiter testnet` of N validators (one `arbiter node` process each) on
# loopback, waits for it to settle, then prints the CPU time (user + system,
# from /proc/PID/stat) the N processes used over a window with no load,
# and the blocks decided in it. Not part of CI: a measurement, documented in
# docs/BENCHMARKS.md.
#
#   .ci/idle-cpu.sh [--members 4] [--block-time 1s] [--settle 8] [--window 20]
set -euo pipefail
cd "$(dirname "$0")/.."

members=4
block_time=1s
settle=8
window=20
while [ $# -gt 0 ]; do
  case "$1" in
    --members) members="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d -t idle-cpu-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=1 go build -o "$work/arbiter" ./cmd/arbiter
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=""
for _ in $(seq 100); do
  b=$(( 20000 + RANDOM % 12000 )) ok=1 # below the ephemeral ports (from 32768)
  for i in $(seq 1 $((2 * members))); do port_free $((b + i)) || { ok=0; break; }; done
  [ "$ok" = 1 ] && { base=$b; break; }
done
[ -n "$base" ] || { echo "no free ports" >&2; exit 1; }

"$work/arbiter" testnet --members "$members" --engine pos --out "$work/net" --base-port "$base" --block-time "$block_time" >/dev/null
for i in $(seq 1 "$members"); do
  "$work/arbiter" node --datadir "$work/net/member$i/data" --key "$work/net/member$i/key" \
    --rpc "127.0.0.1:$((base + members + i))" >"$work/node$i.log" 2>&1 &
  pids+=("$!")
done
rpc="http://127.0.0.1:$((base + members + 1))"

# ticks: the nodes' clock ticks so far, user + system and user alone.
ticks() {
  local t=0 ut=0 p s
  for p in "${pids[@]}"; do
    read -r -a s < <(cut -d' ' -f14,15 "/proc/$p/stat")
    t=$((t + s[0] + s[1])) ut=$((ut + s[0]))
  done
  echo "$t $ut"
}
# block_number: the first node's block number.
block_number() {
  local hex
  hex=$(curl -s -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$rpc" \
    | sed -n 's/.*"result":"0x\([0-9a-fA-F]*\)".*/\1/p')
  echo $((16#${hex:-0}))
}

sleep "$settle"
h0=$(block_number); read -r t0 u0 < <(ticks)
sleep "$window"
h1=$(block_number); read -r t1 u1 < <(ticks)
hz=$(getconf CLK_TCK)
ms=$(( (t1 - t0) * 1000 / hz ))
sys_ms=$(( ((t1 - t0) - (u1 - u0)) * 1000 / hz ))
blocks=$((h1 - h0))
echo "$members validators, $block_time blocks, idle for ${window} s on $(nproc) cores: $blocks blocks," \
  "$ms ms of CPU over all nodes, $sys_ms of it in the kernel ($((ms / window)) ms per second," \
  "$(( blocks > 0 ? ms / blocks : 0 )) ms per block)"
