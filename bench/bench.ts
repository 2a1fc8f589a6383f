/**
 * npm run bench [-- --soak MINUTES] [--quick] [--workers N] [--only phase,...] [--cpu-prof]
 *
 * Starts the emulator and the server (production mode, PostgreSQL + Redis, auth, rate limits, analytics and
 * error monitoring on) as separate processes, then measures in one run: added latency at c=1, throughput at
 * c=64, 1,000 concurrent streams, cache throughput, cancellation, and optionally a soak. Prints a markdown
 * table and writes bench/results/latest.json.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { Agent, request } from 'undici';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const SOAK_MINUTES = args.includes('--soak') ? Number(args[args.indexOf('--soak') + 1]) : 0;
/** `--only latency,throughput,streaming,cache,cancellation,soak`: run just those phases (profiling). */
const ONLY = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1].split(',')) : undefined;
/** `--cpu-prof`: the server writes a V8 CPU profile to bench/results/prof on exit. */
const CPU_PROF = args.includes('--cpu-prof');
const runs = (phase: string) => (ONLY ? ONLY.has(phase) : phase !== 'soak' || SOAK_MINUTES > 0);
const PG_ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const C1_REQUESTS = QUICK ? 500 : 3000;
const THROUGHPUT_SECONDS = QUICK ? 5 : 15;
const STREAMS = QUICK ? 200 : 1000;
const STREAM_TOKENS = 256;
const TOKEN_DELAY_MS = 20;
const CANCELLED_STREAMS = 200;
const STREAM_RAMP_MS = 2000;
const SWEEP = QUICK ? [50] : [100, 250, 500];
/** `--workers N`: the server's WORKERS (default 1, the server's own default). */
const WORKERS = args.includes('--workers') ? Number(args[args.indexOf('--workers') + 1]) : 1;

const PROMPT = 'write a function that removes duplicates from a list while keeping order';

// ---------------------------------------------------------------------------------------------------------
// Processes

interface Proc {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  stop(): Promise<void>;
}

function start(script: string, env: Record<string, string>, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of watchers.filter((w) => w.re.test(line))) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    lines,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const hit = lines.find((l) => re.test(l));
        if (hit) return resolve(hit);
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${re} in:\n${lines.slice(-20).join('\n')}`)),
          ms,
        );
        watchers.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
        child.once('exit', () => reject(new Error(`${script} exited:\n${lines.slice(-20).join('\n')}`)));
      }),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The process and its descendants (a WORKERS > 1 server is a primary and its workers). */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]) ?? []));
  return out;
}

/** Resident set size in MB of a process tree: current (VmRSS) or peak since the last reset (VmHWM), summed. */
function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return Math.round(kb / 102.4) / 10;
}

/** CPU time of the server, the emulator and this process (the load generator), per phase, as % of one core. */
class CpuMeter {
  private t0 = 0;
  private base: Record<string, number> = {};
  constructor(private readonly pids: Record<string, number>) {}

  reset(): void {
    this.t0 = performance.now();
    this.base = this.sample();
  }

  read(): Record<string, number> {
    const wallS = (performance.now() - this.t0) / 1000;
    const now = this.sample();
    return Object.fromEntries(
      Object.entries(now).map(([k, v]) => [`${k}_cpu_pct`, round((100 * (v - this.base[k])) / wallS, 0)]),
    );
  }

  private sample(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, root] of Object.entries(this.pids)) {
      out[name] = 0;
      for (const pid of processTree(root)) {
        // /proc/<pid>/stat fields 14 and 15 (after the parenthesised name): utime and stime in clock ticks
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          out[name] += (Number(f[11]) + Number(f[12])) / 100;
        } catch {
          /* exited meanwhile */
        }
      }
    }
    const own = process.cpuUsage();
    out.loadgen = (own.user + own.system) / 1e6;
    return out;
  }
}

/** Resets VmHWM so the next reading is the peak of the phase that follows. */
function resetPeak(pid: number): void {
  for (const p of processTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      /* not permitted: VmHWM then covers the whole run, an upper bound */
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Measurement helpers

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sortedFinite = (xs: number[]) => xs.filter(Number.isFinite).sort((a, b) => a - b);
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function sequentialLatencies(
  url: string,
  body: string,
  headers: Record<string, string>,
  n: number,
  agent: Agent,
) {
  const times: number[] = [];
  const overheads: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request(url, { method: 'POST', body, headers, dispatcher: agent });
    await res.body.text();
    const dt = performance.now() - t0;
    if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`${url} answered ${res.statusCode}`);
    if (i >= n / 10) {
      times.push(dt); // the first tenth warms up JIT, pools and caches
      const o = res.headers['x-hapa-overhead-ms'];
      if (typeof o === 'string') overheads.push(Number(o));
    }
  }
  times.sort((a, b) => a - b);
  overheads.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99), overheadP50: pct(overheads, 50), overheadP99: pct(overheads, 99) };
}

async function throughput(url: string, body: string, headers: Record<string, string>, seconds: number) {
  const r = await autocannon({ url, method: 'POST', body, headers, connections: 64, duration: seconds, pipelining: 1 });
  return {
    rps: round(r.requests.average, 0),
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}

interface StreamResult {
  tokens: number;
  ordered: boolean;
  ttftMs: number;
  done: boolean;
  error?: string;
}

/** One SSE stream; counts token frames, checks sequence order, times the first token. */
async function stream(
  url: string,
  body: string,
  headers: Record<string, string>,
  agent: Agent,
  protocol: 'gateway' | 'openai',
  signal?: AbortSignal,
): Promise<StreamResult> {
  const t0 = performance.now();
  const res = await request(url, { method: 'POST', body, headers, dispatcher: agent, signal });
  let buf = '';
  let tokens = 0;
  let lastSeq = 0;
  let ordered = true;
  let ttftMs = NaN;
  let done = false;
  let error: string | undefined;
  for await (const chunk of res.body) {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(6, i); // strip "data: "
      buf = buf.slice(i + 2);
      if (frame === '[DONE]') continue;
      const ev = JSON.parse(frame);
      if (protocol === 'gateway') {
        if (ev.type === 'token') {
          if (tokens === 0) ttftMs = performance.now() - t0;
          tokens++;
          if (ev.sequence <= lastSeq) ordered = false;
          lastSeq = ev.sequence;
        } else if (ev.type === 'done') done = true;
        else if (ev.type === 'error') error = ev.error_code;
      } else if (ev.choices?.length) {
        if (ev.choices[0].text) {
          if (tokens === 0) ttftMs = performance.now() - t0;
          tokens++;
        }
        if (ev.choices[0].finish_reason) done = true;
      }
    }
  }
  return { tokens, ordered, ttftMs, done, error };
}

/**
 * Starts `n` streams evenly over `rampMs` (each lasts far longer, so all are open together at the end
 * of the ramp) and tracks how many were open at once. Starting all in one instant would measure the
 * queue of a single-threaded burst, not the time each stream adds.
 */
async function concurrentStreams(n: number, rampMs: number, open: () => Promise<StreamResult>) {
  let current = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * rampMs) / n));
      current++;
      peak = Math.max(peak, current);
      try {
        return await open();
      } catch (e) {
        return {
          tokens: 0,
          ordered: false,
          ttftMs: NaN,
          headersMs: NaN,
          done: false,
          error: String(e),
        } as StreamResult;
      } finally {
        current--;
      }
    }),
  );
  return { results, peak };
}

async function emulatorStats(emu: string, agent: Agent): Promise<{ requests: number; disconnects: number }> {
  const r = await request(`${emu}/_emulator/stats`, { dispatcher: agent });
  return (await r.body.json()) as { requests: number; disconnects: number };
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const stamp = Date.now().toString(36);
  const dbName = `hapa_bench_${stamp}`;
  const admin = new Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const dbUrl = new URL(PG_ADMIN);
  dbUrl.pathname = '/' + dbName;

  const emuPort = await freePort();
  const emulator = start('dist/emulator/emulator.main.js', {
    EMULATOR_PORT: String(emuPort),
    EMULATOR_LOG_DISCONNECTS: 'true',
  });
  await emulator.waitFor(/emulator listening/, 10_000);
  const emu = `http://127.0.0.1:${emuPort}`;

  const port = await freePort();
  const adminKey = 'hapa_' + randomBytes(30).toString('base64url');
  const server = start(
    'dist/src/main.js',
    {
      ENVIRONMENT: 'production',
      WORKERS: String(WORKERS),
      HOST: '127.0.0.1',
      PORT: String(port),
      SECRET_KEY: randomBytes(32).toString('hex'),
      ADMIN_API_KEY: adminKey,
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL,
      REDIS_KEY_PREFIX: `hapa-bench:${stamp}:`,
      VLLM_SERVER_URL: emu,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'true',
      DEFAULT_RATE_LIMIT: '10000000',
      AUTOCOMPLETE_RATE_LIMIT: '10000000',
      API_RATE_LIMIT: '10000000',
      RATE_LIMIT_RULES: '/code/generate=10000000/1m,/code/generate/stream=10000000/1m,/code/complete=10000000/1m',
      MAX_CONCURRENT_STREAMS: '5000',
      ERROR_MONITORING_ENABLED: 'true',
      INCIDENT_TRACKING_ENABLED: 'true',
      SHUTDOWN_TIMEOUT: '5',
    },
    CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench/results/prof')}`] : [],
  );
  const agent = new Agent({ connections: 2048, keepAliveTimeout: 60_000, pipelining: 1 });
  try {
    await server.waitFor(/listening on/, 30_000);
    const base = `http://127.0.0.1:${port}`;
    const serverPid = server.child.pid!;

    const keyRes = await request(`${base}/api/v1/admin/api-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
      body: JSON.stringify({
        email: 'bench@example.com',
        permissions: ['code_generation', 'code_completion', 'profile'],
        rate_limit: 10_000_000,
        max_concurrent_streams: 5000,
      }),
      dispatcher: agent,
    });
    const keyBody = (await keyRes.body.json()) as { api_key?: string };
    if (!keyBody.api_key) throw new Error(`could not create a key: ${keyRes.statusCode} ${JSON.stringify(keyBody)}`);
    const auth = { 'content-type': 'application/json', 'x-api-key': keyBody.api_key };
    const json = { 'content-type': 'application/json' };

    const gatewayBody = JSON.stringify({ prompt: PROMPT, max_tokens: 64, temperature: 0.2, cache: false });
    const directBody = JSON.stringify({ model: 'prompt', prompt: PROMPT, max_tokens: 64, temperature: 0.2 });

    const cpu = new CpuMeter({ server: serverPid, emulator: emulator.child.pid! });
    const phase = async (name: string, key: string, label: string, run: () => Promise<Record<string, unknown>>) => {
      if (!runs(name)) return log(`${label}: skipped`);
      log(label);
      cpu.reset();
      results[key] = { ...(await run()), ...cpu.read() };
    };

    // 1. Added latency at c=1 (emulator at zero delay, cache off)
    await phase('latency', 'latency_c1', `1/6 added latency: ${C1_REQUESTS} sequential requests each way`, async () => {
      const direct1 = await sequentialLatencies(`${emu}/v1/completions`, directBody, json, C1_REQUESTS, agent);
      cpu.reset(); // CPU figures cover the gateway half of each phase
      const gateway1 = await sequentialLatencies(`${base}/api/v1/code/generate`, gatewayBody, auth, C1_REQUESTS, agent);
      return {
        requests: C1_REQUESTS,
        direct_p50_ms: round(direct1.p50),
        direct_p99_ms: round(direct1.p99),
        gateway_p50_ms: round(gateway1.p50),
        gateway_p99_ms: round(gateway1.p99),
        added_p50_ms: round(gateway1.p50 - direct1.p50),
        added_p99_ms: round(gateway1.p99 - direct1.p99),
        overhead_header_p50_ms: round(gateway1.overheadP50),
        overhead_header_p99_ms: round(gateway1.overheadP99),
      };
    });

    // 2. Throughput at c=64, non-streaming, cache off
    await phase(
      'throughput',
      'throughput_c64',
      `2/6 throughput: c=64 for ${THROUGHPUT_SECONDS}s each way`,
      async () => {
        const directT = await throughput(`${emu}/v1/completions`, directBody, json, THROUGHPUT_SECONDS);
        cpu.reset();
        const gatewayT = await throughput(`${base}/api/v1/code/generate`, gatewayBody, auth, THROUGHPUT_SECONDS);
        return {
          seconds: THROUGHPUT_SECONDS,
          direct_rps: directT.rps,
          gateway_rps: gatewayT.rps,
          ratio: round(gatewayT.rps / directT.rps),
          gateway_non2xx: gatewayT.non2xx,
          gateway_errors: gatewayT.errors,
          gateway_p50_ms: gatewayT.p50,
          gateway_p99_ms: gatewayT.p99,
        };
      },
    );

    // 3. Concurrent streams of 256 tokens at 20 ms per token
    const streamBody = JSON.stringify({ prompt: PROMPT, max_tokens: STREAM_TOKENS, temperature: 0.2, cache: false });
    const streamLabel = `3/6 streaming: ${STREAMS} concurrent streams of ${STREAM_TOKENS} tokens at ${TOKEN_DELAY_MS} ms/token`;
    const directStreamBody = JSON.stringify({
      model: 'prompt',
      prompt: PROMPT,
      max_tokens: STREAM_TOKENS,
      temperature: 0.2,
      stream: true,
      stop: ['<|EOT|>'],
    });
    await phase('streaming', 'streaming', streamLabel, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
      const direct = await concurrentStreams(STREAMS, STREAM_RAMP_MS, () =>
        stream(`${emu}/v1/completions`, directStreamBody, json, agent, 'openai'),
      );
      const directStreams = direct.results;
      resetPeak(serverPid);
      cpu.reset();
      const gateway = await concurrentStreams(STREAMS, STREAM_RAMP_MS, () =>
        stream(`${base}/api/v1/code/generate/stream`, streamBody, auth, agent, 'gateway'),
      );
      const gatewayStreams = gateway.results;
      const peakRss = rssMb(serverPid, 'VmHWM');
      const directTtft = directStreams.map((s) => s.ttftMs).sort((a, b) => a - b);
      const gatewayTtft = gatewayStreams
        .map((s) => s.ttftMs)
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      const sent = directStreams.reduce((n, s) => n + s.tokens, 0);
      const received = gatewayStreams.reduce((n, s) => n + s.tokens, 0);
      return {
        streams: STREAMS,
        ramp_ms: STREAM_RAMP_MS,
        peak_concurrent_direct: direct.peak,
        peak_concurrent_gateway: gateway.peak,
        tokens_per_stream: STREAM_TOKENS,
        tokens_expected: STREAMS * STREAM_TOKENS,
        tokens_sent_direct: sent,
        tokens_received_gateway: received,
        tokens_lost: STREAMS * STREAM_TOKENS - received,
        streams_complete: gatewayStreams.filter((s) => s.done && s.tokens === STREAM_TOKENS).length,
        streams_out_of_order: gatewayStreams.filter((s) => !s.ordered).length,
        stream_errors: gatewayStreams.filter((s) => s.error).length,
        direct_ttft_p50_ms: round(pct(directTtft, 50)),
        direct_ttft_p99_ms: round(pct(directTtft, 99)),
        gateway_ttft_p50_ms: round(pct(gatewayTtft, 50)),
        gateway_ttft_p99_ms: round(pct(gatewayTtft, 99)),
        added_ttft_p50_ms: round(pct(gatewayTtft, 50) - pct(directTtft, 50)),
        added_ttft_p99_ms: round(pct(gatewayTtft, 99) - pct(directTtft, 99)),
        server_peak_rss_mb: peakRss,
      };
    });

    // 3b. The same streams at lower concurrency: where the added-TTFT target holds on this machine
    await phase(
      'sweep',
      'streaming_sweep',
      `3b/6 streaming sweep: ${SWEEP.join(', ')} concurrent streams`,
      async () => {
        await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
        const out: Record<string, number> = {};
        for (const n of SWEEP) {
          const d = await concurrentStreams(n, STREAM_RAMP_MS, () =>
            stream(`${emu}/v1/completions`, directStreamBody, json, agent, 'openai'),
          );
          const g = await concurrentStreams(n, STREAM_RAMP_MS, () =>
            stream(`${base}/api/v1/code/generate/stream`, streamBody, auth, agent, 'gateway'),
          );
          const dT = sortedFinite(d.results.map((s) => s.ttftMs));
          const gT = sortedFinite(g.results.map((s) => s.ttftMs));
          out[`s${n}_direct_ttft_p99_ms`] = round(pct(dT, 99));
          out[`s${n}_added_ttft_p50_ms`] = round(pct(gT, 50) - pct(dT, 50));
          out[`s${n}_added_ttft_p99_ms`] = round(pct(gT, 99) - pct(dT, 99));
          out[`s${n}_tokens_lost`] = n * STREAM_TOKENS - g.results.reduce((k, s) => k + s.tokens, 0);
        }
        return out;
      },
    );

    // 4. Cache: a repeated cacheable request
    await phase('cache', 'cache', '4/6 cache: repeated cacheable request, c=64', async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: 0, padToMaxTokens: false });
      const cachedBody = JSON.stringify({ prompt: PROMPT + ' (cached)', max_tokens: 64, temperature: 0 });
      await request(`${base}/api/v1/code/generate`, {
        method: 'POST',
        body: cachedBody,
        headers: auth,
        dispatcher: agent,
      }).then((r) => r.body.text());
      const cacheT = await throughput(`${base}/api/v1/code/generate`, cachedBody, auth, THROUGHPUT_SECONDS);
      return { rps: cacheT.rps, non2xx: cacheT.non2xx, p50_ms: cacheT.p50, p99_ms: cacheT.p99 };
    });

    // 5. Cancellation: streams abandoned by the client at random points
    await phase(
      'cancellation',
      'cancellation',
      `5/6 cancellation: ${CANCELLED_STREAMS} streams abandoned at random points`,
      async () => {
        await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
        const aborts = new Map<string, number>();
        const streamMs = STREAM_TOKENS * TOKEN_DELAY_MS;
        const emuBefore = await emulatorStats(emu, agent);
        await Promise.all(
          Array.from({ length: CANCELLED_STREAMS }, async () => {
            const id = randomUUID();
            const ctl = new AbortController();
            const at = 100 + Math.random() * (streamMs - 600);
            setTimeout(() => {
              aborts.set(id, Date.now());
              ctl.abort();
            }, at);
            await stream(
              `${base}/api/v1/code/generate/stream`,
              streamBody,
              { ...auth, 'x-request-id': id },
              agent,
              'gateway',
              ctl.signal,
            ).catch(() => undefined);
          }),
        );
        await new Promise((r) => setTimeout(r, 1000));
        const disconnects = new Map<string, number>();
        for (const line of emulator.lines) {
          if (!line.includes('"disconnect"')) continue;
          const ev = JSON.parse(line) as { at: number; request_id?: string };
          if (ev.request_id && aborts.has(ev.request_id)) disconnects.set(ev.request_id, ev.at);
        }
        const delays = [...disconnects].map(([id, at]) => at - aborts.get(id)!).sort((a, b) => a - b);
        const emuAfter = await emulatorStats(emu, agent);
        // A client that leaves before its request reaches the model server leaves nothing to abort.
        const reached = emuAfter.requests - emuBefore.requests;
        return {
          abandoned: CANCELLED_STREAMS,
          reached_upstream: reached,
          upstream_aborted: disconnects.size,
          upstream_completed_anyway: reached - (emuAfter.disconnects - emuBefore.disconnects),
          aborted_pct: round((100 * disconnects.size) / Math.max(1, reached), 1),
          abort_p50_ms: pct(delays, 50),
          abort_p99_ms: pct(delays, 99),
          abort_max_ms: delays[delays.length - 1],
        };
      },
    );

    // 6. Soak (optional): mixed load, RSS over time
    await phase('soak', 'soak', `6/6 soak: ${SOAK_MINUTES} min of mixed load`, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: 2, padToMaxTokens: false });
      return soak(base, auth, agent, serverPid, SOAK_MINUTES);
    });

    results.server_rss_end_mb = rssMb(serverPid, 'VmRSS');
  } finally {
    await agent.close().catch(() => undefined);
    await server.stop();
    await emulator.stop();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }

  const report = { ...machineInfo(), quick: QUICK, workers: WORKERS, results };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2) + '\n');
  console.log('\n' + markdown(results));
  console.log(`\nwritten: bench/results/latest.json`);
}

async function configureEmulator(emu: string, agent: Agent, patch: Record<string, unknown>): Promise<void> {
  const r = await request(`${emu}/_emulator/config`, {
    method: 'POST',
    body: JSON.stringify(patch),
    headers: { 'content-type': 'application/json' },
    dispatcher: agent,
  });
  await r.body.text();
}

async function soak(base: string, auth: Record<string, string>, agent: Agent, pid: number, minutes: number) {
  const end = Date.now() + minutes * 60_000;
  // Heaps and pools settle in the first half minute or so; growth is measured after that.
  const warmupEnd = Date.now() + Math.min(60_000, minutes * 15_000);
  const samples: { t: number; rss: number }[] = [];
  const sampler = setInterval(() => samples.push({ t: Date.now(), rss: rssMb(pid, 'VmRSS') }), 1000);
  let requests = 0;
  let failures = 0;
  const worker = async (w: number) => {
    for (let i = 0; Date.now() < end; i++) {
      const kind = (i + w) % 20;
      try {
        if (kind < 14) {
          const body = JSON.stringify({ prompt: `${PROMPT} #${i % 50}`, max_tokens: 48, temperature: 0 });
          const r = await request(`${base}/api/v1/code/generate`, {
            method: 'POST',
            body,
            headers: auth,
            dispatcher: agent,
          });
          await r.body.text();
          if (r.statusCode !== 200 && r.statusCode !== 201) failures++;
        } else if (kind < 18) {
          const body = JSON.stringify({ prompt: `${PROMPT} stream #${i}`, max_tokens: 48, cache: false });
          const s = await stream(`${base}/api/v1/code/generate/stream`, body, auth, agent, 'gateway');
          if (!s.done) failures++;
        } else {
          const r = await request(`${base}/api/v1/code/generate`, {
            method: 'POST',
            body: '{}',
            headers: { 'content-type': 'application/json', 'x-api-key': 'hapa_invalid_' + i },
            dispatcher: agent,
          });
          await r.body.text();
        }
        requests++;
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
  clearInterval(sampler);
  const after = samples.filter((s) => s.t >= warmupEnd);
  const startRss = after[0]?.rss ?? NaN;
  const endRss = after[after.length - 1]?.rss ?? NaN;
  return {
    minutes,
    requests,
    failures,
    rss_start_mb: startRss,
    rss_peak_mb: Math.max(...after.map((s) => s.rss)),
    rss_end_mb: endRss,
    growth_pct: round((100 * (endRss - startRss)) / startRss, 1),
  };
}

function machineInfo() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = (name: string) => require(path.join(ROOT, 'node_modules', name, 'package.json')).version as string;
  return {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model,
      memory_gb: round(os.totalmem() / 1024 ** 3, 1),
      platform: `${os.platform()} ${os.release()}`,
    },
    versions: {
      node: process.version,
      hapa: JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
      '@nestjs/core': pkg('@nestjs/core'),
      typeorm: pkg('typeorm'),
      undici: pkg('undici'),
      autocannon: pkg('autocannon'),
    },
  };
}

const TARGETS: Record<string, [string, (v: number) => boolean]> = {
  'latency_c1.added_p50_ms': ['≤ 1 ms', (v) => v <= 1],
  'latency_c1.added_p99_ms': ['≤ 3 ms', (v) => v <= 3],
  'throughput_c64.gateway_rps': ['≥ 3000 req/s', (v) => v >= 3000],
  'streaming.added_ttft_p99_ms': ['≤ 10 ms', (v) => v <= 10],
  'streaming.server_peak_rss_mb': ['≤ 300 MB', (v) => v <= 300],
  'streaming.streams_out_of_order': ['0', (v) => v === 0],
  'streaming.tokens_lost': ['0', (v) => v === 0],
  'cancellation.aborted_pct': ['100 %', (v) => v === 100],
  'cancellation.abort_p99_ms': ['≤ 100 ms', (v) => v <= 100],
  'soak.growth_pct': ['≤ 10 %', (v) => v <= 10],
};

function markdown(results: Record<string, unknown>): string {
  const rows = ['| measure | value | target | met |', '|---|---|---|---|'];
  for (const [section, values] of Object.entries(results)) {
    if (typeof values !== 'object' || values === null) {
      rows.push(`| ${section} | ${values} | | |`);
      continue;
    }
    for (const [k, v] of Object.entries(values)) {
      const target =
        TARGETS[`${section}.${k}`] ??
        (k.endsWith('_added_ttft_p99_ms') ? TARGETS['streaming.added_ttft_p99_ms'] : undefined) ??
        (k.endsWith('_tokens_lost') ? TARGETS['streaming.tokens_lost'] : undefined);
      rows.push(
        `| ${section}.${k} | ${v} | ${target?.[0] ?? ''} | ${target ? (target[1](Number(v)) ? 'yes' : '**no**') : ''} |`,
      );
    }
  }
  return rows.join('\n');
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
