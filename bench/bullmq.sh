#!/usr/bin/env bash
# Optional, not part of CI: evt-work side by side with BullMQ (the Node.js queue its users
# would pick instead), on one private redis-server, in one run. Installs bullmq from the
# npm registry into bench/node_modules (ignored by git) on first use; needs node and npm.
#   1. BullMQ Worker, no-op processor, concurrency 50: jobs/s and peak RSS
#   2. evt-work --pipe --concurrency 4, a no-op co-process ({"status":"ok"} per line), all
#      bookkeeping on (idempotency, status, metrics): events/s and peak RSS
#      (aim: >= 3x BullMQ's rate at <= 1/10 of its memory)
#   3. evt-work --concurrency 4 -- /bin/true: events/s (aim for 2: >= 20x this)
#   4. a raw XREADGROUP COUNT 100 + XACK loop (ioredis, pipelined): messages/s
#      (aim for 2: >= 10% of this)
# Usage: bench/bullmq.sh [BUILD_DIR]   (default: build). EVT_BENCH_JOBS: jobs per run.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bin="$build/tools"
bench="$PWD/bench"
N=${EVT_BENCH_JOBS:-50000}
command -v node > /dev/null && command -v npm > /dev/null || {
  echo "bench/bullmq.sh: needs node and npm" >&2
  exit 69
}
if [[ ! -d "$bench/node_modules/bullmq" || ! -d "$bench/node_modules/ioredis" ]]; then
  npm install --prefix "$bench" --no-save --no-package-lock --no-audit --no-fund bullmq ioredis > /dev/null
fi
tmp="$(mktemp -d /tmp/evt-bench-bullmq.XXXXXX)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
  --logfile "$tmp/redis.log" --daemonize no &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$tmp"' EXIT
until [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]]; do sleep 0.05; done
url="redis://127.0.0.1:$port"
now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "machine: $(nproc) cores, $(redis-server --version | cut -d' ' -f3), node $(node --version), $N jobs per run"

# 1. BullMQ: queue N jobs, then time a Worker at concurrency 50 until all are completed.
cat > "$tmp/bullmq.js" <<'JS'
const { Queue, Worker } = require('bullmq');
const [port, n] = [Number(process.argv[2]), Number(process.argv[3])];
const connection = { host: '127.0.0.1', port };
(async () => {
  const queue = new Queue('bench', { connection });
  for (let i = 0; i < n; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) jobs.push({ name: 'bench', data: { i: j } });
    await queue.addBulk(jobs);
  }
  let done = 0, peak = 0;
  const start = process.hrtime.bigint();
  const rss = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  await new Promise((resolve) => {
    const worker = new Worker('bench', async () => {}, { connection, concurrency: 50 });
    worker.on('completed', () => { if (++done === n) resolve(worker); });
  }).then(async (worker) => {
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    clearInterval(rss);
    peak = Math.max(peak, process.memoryUsage().rss);
    // Private memory (RssAnon): the heap, not the shared libraries' pages.
    const anon = /RssAnon:\s+(\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1];
    console.log(`${Math.round(n * 1000 / ms)} ${Math.round(peak / 1024)} ${anon}`);
    await worker.close();
    await queue.close();
  });
})().catch((e) => { console.error(e); process.exit(1); });
JS
read -r bull_rate bull_kib bull_anon < <(NODE_PATH="$bench/node_modules" node "$tmp/bullmq.js" "$port" "$N")
echo "1. BullMQ Worker, concurrency 50: ${bull_rate} jobs/s, peak RSS $((bull_kib / 1024)) MB," \
  "private (RssAnon) at the end $((bull_anon / 1024)) MB"
redis-cli -p "$port" FLUSHALL > /dev/null

# Emits N events to queue $1 and times `evt-work ARGS...` until the group has none left;
# prints "events/s peak-RSS-KiB private-KiB" (RssAnon at the end: the process's own memory,
# without the pages of shared libraries, which other processes share).
evt_run() {
  local queue=$1 n=$2
  shift 2
  seq 1 "$n" | awk '{ printf "{\"event_type\":\"bench.noop\",\"event_id\":\"b%d\",\"payload\":{\"i\":%d}}\n", $1, $1 }' \
    | "$bin/evt-emit" --stdin --broker "$url" --queue "$queue" > /dev/null
  "$bin/evt-work" --broker "$url" --queue "$queue" --log-level error --state-dir "$tmp/state" "$@" &
  local w=$! t left pending peak=0 hwm anon
  t=$(now)
  while :; do
    left=$(redis-cli -p "$port" XINFO GROUPS "evt:{$queue}:stream" 2>/dev/null | awk 'f { print; exit } /^lag$/ { f = 1 }')
    pending=$(redis-cli -p "$port" XPENDING "evt:{$queue}:stream" workers 2>/dev/null | head -1)
    [[ "${left:-1}" == 0 && "${pending:-1}" == 0 ]] && break
    sleep 0.02
  done
  local ms=$(( ($(now) - t) / 1000000 ))
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$w/status")
  anon=$(awk '/RssAnon/ { print $2 }' "/proc/$w/status")
  kill -TERM $w; wait $w || true
  echo "$(( n * 1000 / (ms > 0 ? ms : 1) )) ${hwm:-0} ${anon:-0}"
}

# 2. evt-work --pipe with a no-op co-process.
cat > "$tmp/noop.py" <<'PY'
import sys
for _ in sys.stdin:
    sys.stdout.write('{"status":"ok"}\n')
    sys.stdout.flush()
PY
read -r pipe_rate pipe_kib pipe_anon < <(evt_run pipe "$N" --pipe --concurrency 4 -- python3 "$tmp/noop.py")
echo "2. evt-work --pipe --concurrency 4: ${pipe_rate} events/s, peak RSS $((pipe_kib / 1024)) MB," \
  "private $((pipe_anon / 1024)) MB (evt-work alone):" \
  "$(ratio "$pipe_rate" "$bull_rate")x BullMQ's rate (aim >= 3), $(ratio "$pipe_kib" "$bull_kib") of its peak RSS" \
  "and $(ratio "$pipe_anon" "$bull_anon") of its private memory (aim <= 0.10)"

# 3. evt-work -- /bin/true (one process per event): fewer events.
M=$(( N / 20 > 500 ? N / 20 : 500 ))
read -r true_rate _ < <(evt_run spawn "$M" --concurrency 4 -- /bin/true)
echo "3. evt-work --concurrency 4 -- /bin/true: ${true_rate} events/s; --pipe is $(ratio "$pipe_rate" "$true_rate")x (aim >= 20)"

# 4. The raw Redis rate: XREADGROUP COUNT 100, then XACK of the batch, pipelined.
cat > "$tmp/raw.js" <<'JS'
const Redis = require('ioredis');
const [port, n] = [Number(process.argv[2]), Number(process.argv[3])];
(async () => {
  const r = new Redis({ host: '127.0.0.1', port });
  for (let i = 0; i < n; i += 1000) {
    const p = r.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) p.xadd('raw', '*', 'event', '{"i":' + j + '}');
    await p.exec();
  }
  await r.xgroup('CREATE', 'raw', 'g', '0');
  let seen = 0;
  let ids = [];
  const start = process.hrtime.bigint();
  // Each round trip acknowledges the last batch and reads the next one.
  while (seen < n) {
    const p = r.pipeline();
    if (ids.length) p.xack('raw', 'g', ...ids);
    p.xreadgroup('GROUP', 'g', 'c', 'COUNT', 100, 'STREAMS', 'raw', '>');
    const replies = await p.exec();
    const reply = replies[replies.length - 1][1];
    ids = reply ? reply[0][1].map((e) => e[0]) : [];
    seen += ids.length;
  }
  if (ids.length) await r.xack('raw', 'g', ...ids);
  console.log(Math.round(n * 1000 / (Number(process.hrtime.bigint() - start) / 1e6)));
  r.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
JS
raw_rate=$(NODE_PATH="$bench/node_modules" node "$tmp/raw.js" "$port" "$((N * 4))")
echo "4. raw XREADGROUP COUNT 100 + XACK loop: ${raw_rate} messages/s; --pipe is $(ratio "$pipe_rate" "$raw_rate") of it (aim >= 0.10)"
