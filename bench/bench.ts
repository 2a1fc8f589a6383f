/**
 * npm run bench [-- --baseline REF [--keep-baseline]] [--repeat N] [--soak MINUTES] [--quick] [--workers N]
 *                  [--only phase,...] [--cpu-prof]
 *
 * Starts the emulator and the server (production mode, PostgreSQL + Redis, auth, rate limits, analytics and
 * error monitoring on) as separate processes, then measures in one run: added latency at c=1, throughput at
 * c=64, 1,000 concurrent streams, 500 streams opened together, cache throughput, cancellation, and
 * optionally a soak. Prints a markdown table and writes bench/results/latest.json.
 *
 * `--baseline REF` builds REF in a temporary git worktree and runs it beside this checkout's build, phase by
 * phase in alternating order, against the same emulator (this checkout's), PostgreSQL and Redis: on a
 * shared machine only such same-run ratios mean anything.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
  statusCodeStats?: Record<string, { count: number }>;
}

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const argValue = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const QUICK = args.includes('--quick');
const SOAK_MINUTES = Number(argValue('--soak') ?? 0);
/** `--only latency,throughput,streaming,burst,sweep,cache,cancellation,soak`: run just those phases. */
const ONLY = args.includes('--only') ? new Set(argValue('--only')!.split(',')) : undefined;
/** `--baseline REF`: a git ref to build and measure beside this checkout, in the same run. */
const BASELINE_REF = argValue('--baseline');
/** `--repeat N`: every phase N times over (builds alternating), each figure the median of its N readings. */
const REPEAT = Math.max(1, Number(argValue('--repeat') ?? 1));
/** `--keep-baseline`: leave the baseline's worktree (and build) in the temp dir for the next run to reuse. */
const KEEP_BASELINE = args.includes('--keep-baseline');
/** `--cpu-prof`: the server writes a V8 CPU profile to bench/results/prof on exit. */
const CPU_PROF = args.includes('--cpu-prof');
const runs = (phase: string) => (ONLY ? ONLY.has(phase) : phase !== 'soak' || SOAK_MINUTES > 0);
const PG_ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const C1_REQUESTS = QUICK ? 500 : 3000;
const THROUGHPUT_SECONDS = QUICK ? 5 : 15;
const STREAMS = 1000;
// A quick run still holds 1,000 streams open together: each outlasts the ramp, just by less.
const STREAM_TOKENS = QUICK ? 150 : 256;
/** Streams opened in one instant: added time to first token and CPU per relayed token. */
const BURST_STREAMS = 500;
const BURST_TOKENS = QUICK ? 200 : 256;
const TOKEN_DELAY_MS = 20;
const CANCELLED_STREAMS = 200;
const STREAM_RAMP_MS = 2000;
const SWEEP = QUICK ? [50] : [100, 250, 500];
/** `--workers N`: the server's WORKERS (default 1, the server's own default). */
const WORKERS = Number(argValue('--workers') ?? 1);

const PROMPT = 'write a function that removes duplicates from a list while keeping order';

// ---------------------------------------------------------------------------------------------------------
// Processes

interface Proc {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  stop(): Promise<void>;
}

function start(script: string, env: Record<string, string>, nodeArgs: string[] = [], cwd = ROOT): Proc {
  const child = spawn(process.execPath, [...nodeArgs, path.join(cwd, script)], {
    cwd,
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
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
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

  /** CPU seconds one process tree used since the last reset. */
  seconds(name: string): number {
    return this.sample()[name] - this.base[name];
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
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request(url, { method: 'POST', body, headers, dispatcher: agent });
    const text = await res.body.text();
    const dt = performance.now() - t0;
    if (res.statusCode !== 200 && res.statusCode !== 201) {
      // A loaded shared machine times out the odd database call: counted, not fatal, unless it is most
      if (++failed > n / 10) throw new Error(`${url} answered ${res.statusCode}: ${text}`);
      continue;
    }
    if (i >= n / 10) {
      times.push(dt); // the first tenth warms up JIT, pools and caches
      const o = res.headers['x-hapa-overhead-ms'];
      if (typeof o === 'string') overheads.push(Number(o));
    }
  }
  times.sort((a, b) => a - b);
  overheads.sort((a, b) => a - b);
  return {
    p50: pct(times, 50),
    p99: pct(times, 99),
    overheadP50: pct(overheads, 50),
    overheadP99: pct(overheads, 99),
    failed,
  };
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
    /** e.g. "200:5120 503:12": what the non-2xx answers were */
    statuses: Object.entries(r.statusCodeStats ?? {})
      .map(([code, v]) => `${code}:${v.count}`)
      .join(' '),
  };
}

interface StreamResult {
  tokens: number;
  ordered: boolean;
  ttftMs: number;
  done: boolean;
  error?: string;
}

/** Running counts over many streams, with a hook on each change (steady-state CPU windows). */
class Tally {
  tokens = 0;
  started = 0;
  ended = 0;
  constructor(private readonly onChange: (t: Tally, event: 'first' | 'end') => void = () => undefined) {}
  first(): void {
    this.started++;
    this.onChange(this, 'first');
  }
  end(): void {
    this.ended++;
    this.onChange(this, 'end');
  }
}

/** One SSE stream; counts token frames, checks sequence order, times the first token. */
async function stream(
  url: string,
  body: string,
  headers: Record<string, string>,
  agent: Agent,
  protocol: 'gateway' | 'openai',
  signal?: AbortSignal,
  tally?: Tally,
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
          if (tokens === 0) {
            ttftMs = performance.now() - t0;
            tally?.first();
          }
          if (tally) tally.tokens++;
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
  tally?.end();
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
        return { tokens: 0, ordered: false, ttftMs: NaN, done: false, error: String(e) };
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
// Builds under test

type BuildName = 'current' | 'baseline';

interface Build {
  name: BuildName;
  /** Checkout root: its dist/ holds the server. */
  root: string;
  /** Shown in the report: the ref and commit for a baseline. */
  label: string;
  cleanup(): void;
}

interface Target extends Build {
  server: Proc;
  pid: number;
  base: string;
  auth: Record<string, string>;
  cpu: CpuMeter;
  dbName: string;
}

const git = (...a: string[]) => execFileSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).trim();

function run(cmd: string, a: string[], cwd: string): void {
  execFileSync(cmd, a, { cwd, stdio: ['ignore', process.stderr, process.stderr] });
}

/**
 * Checks REF out in a temporary worktree and builds it with its own build script. node_modules is a
 * symlink to this checkout's when the lock files match (no install), else `npm ci` there. A worktree
 * kept by --keep-baseline is reused when it is already built.
 */
function prepareBaseline(ref: string): Build {
  const sha = git('rev-parse', '--verify', `${ref}^{commit}`);
  const dir = path.join(os.tmpdir(), `hapa-bench-baseline-${sha.slice(0, 12)}`);
  const marker = path.join(dir, '.bench-built');
  const label = `${ref} (${sha.slice(0, 7)})`;
  const cleanup = () => {
    if (KEEP_BASELINE) return log(`baseline worktree kept: ${dir}`);
    // The linked node_modules is this checkout's: unlink it first so nothing can reach through it.
    if (lstatSync(path.join(dir, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink()) {
      unlinkSync(path.join(dir, 'node_modules'));
    }
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git('worktree', 'prune');
    }
  };
  if (existsSync(marker)) {
    log(`baseline ${label}: reusing the build in ${dir}`);
    return { name: 'baseline', root: dir, label, cleanup };
  }
  if (existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    git('worktree', 'prune');
  }
  log(`baseline ${label}: worktree in ${dir}`);
  git('worktree', 'add', '--detach', dir, sha);
  try {
    const lock = (root: string) => readFileSync(path.join(root, 'package-lock.json'), 'utf8');
    if (existsSync(path.join(dir, 'package-lock.json')) && lock(dir) === lock(ROOT)) {
      log('baseline: same package-lock.json, node_modules linked to this checkout');
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    } else {
      log('baseline: package-lock.json differs, npm ci');
      run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], dir);
    }
    log('baseline: npm run build');
    run('npm', ['run', 'build'], dir);
    serverEntry(dir);
    writeFileSync(marker, `${sha}\n`);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { name: 'baseline', root: dir, label, cleanup };
}

function serverEntry(root: string): string {
  const entry = ['dist/src/main.js', 'dist/main.js'].find((p) => existsSync(path.join(root, p)));
  if (!entry) throw new Error(`no server build (dist/src/main.js) in ${root}`);
  return entry;
}

async function startTarget(
  build: Build,
  stamp: string,
  admin: Client,
  emu: string,
  emulatorPid: number,
  agent: Agent,
  started: Target[],
): Promise<Target> {
  // hapa_<base-36 start>_…: the test suites' stale-database sweep reads the start time from the second part
  // (it dropped "hapa_bench_…" mid-run, reading "bench" as a very old time).
  const dbName = `hapa_${stamp}_bench_${build.name}`;
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const dbUrl = new URL(PG_ADMIN);
  dbUrl.pathname = '/' + dbName;
  const port = await freePort();
  const adminKey = 'hapa_' + randomBytes(30).toString('base64url');
  const profDir = path.join(ROOT, 'bench/results/prof', build.name);
  const server = start(
    serverEntry(build.root),
    {
      ENVIRONMENT: 'production',
      WORKERS: String(WORKERS),
      HOST: '127.0.0.1',
      PORT: String(port),
      SECRET_KEY: randomBytes(32).toString('hex'),
      ADMIN_API_KEY: adminKey,
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL,
      REDIS_KEY_PREFIX: `hapa-bench:${stamp}:${build.name}:`,
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
    CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    build.root,
  );
  const target: Target = {
    ...build,
    server,
    pid: server.child.pid!,
    base: `http://127.0.0.1:${port}`,
    auth: {},
    cpu: new CpuMeter({ server: server.child.pid!, emulator: emulatorPid }),
    dbName,
  };
  started.push(target); // stopped and its database dropped at the end even if what follows fails
  await server.waitFor(/listening on/, 60_000);
  const keyRes = await request(`${target.base}/api/v1/admin/api-keys`, {
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
  if (!keyBody.api_key) {
    throw new Error(`${build.name}: could not create a key: ${keyRes.statusCode} ${JSON.stringify(keyBody)}`);
  }
  target.auth = { 'content-type': 'application/json', 'x-api-key': keyBody.api_key };
  // The upstream counts as healthy after the first probe: until a generation succeeds, nothing is measured.
  for (let tries = 0; ; tries++) {
    const r = await request(`${target.base}/api/v1/code/generate`, {
      method: 'POST',
      headers: target.auth,
      body: JSON.stringify({ prompt: PROMPT, max_tokens: 8, cache: false }),
      dispatcher: agent,
    });
    const text = await r.body.text();
    if (r.statusCode === 200) break;
    if (tries >= 30) throw new Error(`${build.name}: generation keeps failing: ${r.statusCode} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return target;
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const builds: Build[] = [
    { name: 'current', root: ROOT, label: currentLabel(), cleanup: () => undefined },
    ...(BASELINE_REF ? [prepareBaseline(BASELINE_REF)] : []),
  ];
  const results: Record<BuildName, Record<string, unknown>> = { current: {}, baseline: {} };
  const readings: Record<BuildName, Record<string, Record<string, unknown>[]>> = { current: {}, baseline: {} };
  const record = (name: BuildName, key: string, value: Record<string, unknown>) => {
    (readings[name][key] ??= []).push(value);
    results[name][key] = median(readings[name][key]);
  };
  const stamp = Date.now().toString(36);
  const admin = new Client({ connectionString: PG_ADMIN });
  await admin.connect();

  // This checkout's emulator serves both builds: the same upstream for both sides of every ratio.
  const emuPort = await freePort();
  const emulator = start('dist/emulator/emulator.main.js', {
    EMULATOR_PORT: String(emuPort),
    EMULATOR_LOG_DISCONNECTS: 'true',
  });
  const agent = new Agent({ connections: 4096, keepAliveTimeout: 60_000, pipelining: 1 });
  const targets: Target[] = [];
  try {
    await emulator.waitFor(/emulator listening/, 10_000);
    const emu = `http://127.0.0.1:${emuPort}`;
    for (const b of builds) await startTarget(b, stamp, admin, emu, emulator.child.pid!, agent, targets);
    const json = { 'content-type': 'application/json' };
    const gatewayBody = JSON.stringify({ prompt: PROMPT, max_tokens: 64, temperature: 0.2, cache: false });
    const directBody = JSON.stringify({ model: 'prompt', prompt: PROMPT, max_tokens: 64, temperature: 0.2 });

    // Which build goes first alternates from phase to phase, so neither always meets a warmer machine.
    let turn = 0;
    const inTurn = () => (turn++ % 2 === 0 ? targets : [...targets].reverse());
    /** Runs one phase's gateway half for each build; the CPU figures cover just that half. */
    const eachTarget = async (key: string, measure: (t: Target) => Promise<Record<string, unknown>>) => {
      for (const t of inTurn()) {
        if (targets.length > 1) log(`  ${t.name}`);
        t.cpu.reset();
        const r = await measure(t);
        record(t.name, key, { ...r, ...t.cpu.read() });
      }
    };
    const phase = async (name: string, label: string, body: () => Promise<void>) => {
      if (!runs(name)) return log(`${label}: skipped`);
      for (let i = 1; i <= REPEAT; i++) {
        log(REPEAT > 1 ? `${label} (${i} of ${REPEAT})` : label);
        await body();
      }
    };

    // 1. Added latency at c=1 (emulator at zero delay, cache off)
    await phase('latency', `1/7 added latency: ${C1_REQUESTS} sequential requests each way`, async () => {
      const direct1 = await sequentialLatencies(`${emu}/v1/completions`, directBody, json, C1_REQUESTS, agent);
      await eachTarget('latency_c1', async (t) => {
        const g = await sequentialLatencies(`${t.base}/api/v1/code/generate`, gatewayBody, t.auth, C1_REQUESTS, agent);
        return {
          requests: C1_REQUESTS,
          gateway_failed: g.failed,
          direct_p50_ms: round(direct1.p50),
          direct_p99_ms: round(direct1.p99),
          gateway_p50_ms: round(g.p50),
          gateway_p99_ms: round(g.p99),
          added_p50_ms: round(g.p50 - direct1.p50),
          added_p99_ms: round(g.p99 - direct1.p99),
          overhead_header_p50_ms: round(g.overheadP50),
          overhead_header_p99_ms: round(g.overheadP99),
          server_cpu_us_per_request: round((t.cpu.seconds('server') * 1e6) / C1_REQUESTS, 0),
        };
      });
    });

    // 2. Throughput at c=64, non-streaming, cache off
    await phase('throughput', `2/7 throughput: c=64 for ${THROUGHPUT_SECONDS}s each way`, async () => {
      const directT = await throughput(`${emu}/v1/completions`, directBody, json, THROUGHPUT_SECONDS);
      await eachTarget('throughput_c64', async (t) => {
        const g = await throughput(`${t.base}/api/v1/code/generate`, gatewayBody, t.auth, THROUGHPUT_SECONDS);
        return {
          seconds: THROUGHPUT_SECONDS,
          direct_rps: directT.rps,
          gateway_rps: g.rps,
          ratio: round(g.rps / directT.rps),
          gateway_non2xx: g.non2xx,
          gateway_statuses: g.statuses,
          gateway_errors: g.errors,
          gateway_p50_ms: g.p50,
          gateway_p99_ms: g.p99,
          server_cpu_us_per_request: round((t.cpu.seconds('server') * 1e6) / Math.max(1, g.total), 0),
        };
      });
    });

    const streamBody = (tokens: number) =>
      JSON.stringify({ prompt: PROMPT, max_tokens: tokens, temperature: 0.2, cache: false });
    const directStreamBody = (tokens: number) =>
      JSON.stringify({
        model: 'prompt',
        prompt: PROMPT,
        max_tokens: tokens,
        temperature: 0.2,
        stream: true,
        stop: ['<|EOT|>'],
      });
    const openDirect = (tokens: number) => () =>
      stream(`${emu}/v1/completions`, directStreamBody(tokens), json, agent, 'openai');
    const openGateway = (t: Target, tokens: number, tally?: Tally) => () =>
      stream(`${t.base}/api/v1/code/generate/stream`, streamBody(tokens), t.auth, agent, 'gateway', undefined, tally);

    // 3. 1,000 concurrent streams, ramped: delivery, TTFT and peak memory
    const streamLabel = `3/7 streaming: ${STREAMS} concurrent streams of ${STREAM_TOKENS} tokens at ${TOKEN_DELAY_MS} ms/token`;
    await phase('streaming', streamLabel, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
      const direct = await concurrentStreams(STREAMS, STREAM_RAMP_MS, openDirect(STREAM_TOKENS));
      const directTtft = sortedFinite(direct.results.map((s) => s.ttftMs));
      const sent = direct.results.reduce((n, s) => n + s.tokens, 0);
      await eachTarget('streaming', async (t) => {
        resetPeak(t.pid);
        const gateway = await concurrentStreams(STREAMS, STREAM_RAMP_MS, openGateway(t, STREAM_TOKENS));
        const peakRss = rssMb(t.pid, 'VmHWM');
        const gatewayStreams = gateway.results;
        const gatewayTtft = sortedFinite(gatewayStreams.map((s) => s.ttftMs));
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
    });

    // 3a. 500 streams opened in one instant: added time to first token, and the server's CPU per relayed
    // token while all of them are open (from the last first token to the first finished stream)
    const burstLabel = `3a/7 burst: ${BURST_STREAMS} streams of ${BURST_TOKENS} tokens opened together`;
    await phase('burst', burstLabel, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
      const direct = await concurrentStreams(BURST_STREAMS, 0, openDirect(BURST_TOKENS));
      const directTtft = sortedFinite(direct.results.map((s) => s.ttftMs));
      await eachTarget('burst_500', async (t) => {
        let from: { cpu: number; tokens: number } | undefined;
        let to: { cpu: number; tokens: number } | undefined;
        const tally = new Tally((x, event) => {
          if (event === 'first' && x.started === BURST_STREAMS && x.ended === 0) {
            from = { cpu: t.cpu.seconds('server'), tokens: x.tokens };
          } else if (event === 'end' && x.ended === 1 && from) {
            to = { cpu: t.cpu.seconds('server'), tokens: x.tokens };
          }
        });
        const g = await concurrentStreams(BURST_STREAMS, 0, openGateway(t, BURST_TOKENS, tally));
        const wholeCpu = t.cpu.seconds('server');
        const gatewayTtft = sortedFinite(g.results.map((s) => s.ttftMs));
        const received = g.results.reduce((n, s) => n + s.tokens, 0);
        const steady = from && to && to.tokens > from.tokens;
        return {
          streams: BURST_STREAMS,
          tokens_per_stream: BURST_TOKENS,
          tokens_lost: BURST_STREAMS * BURST_TOKENS - received,
          streams_out_of_order: g.results.filter((s) => !s.ordered).length,
          stream_errors: g.results.filter((s) => s.error).length,
          direct_ttft_p99_ms: round(pct(directTtft, 99)),
          gateway_ttft_p99_ms: round(pct(gatewayTtft, 99)),
          added_ttft_p50_ms: round(pct(gatewayTtft, 50) - pct(directTtft, 50)),
          added_ttft_p99_ms: round(pct(gatewayTtft, 99) - pct(directTtft, 99)),
          // While all streams were open; on a machine too slow for that instant to exist (the last first token
          // after the first end), the whole phase, opening included, says so in _window.
          server_cpu_us_per_token: steady
            ? round(((to!.cpu - from!.cpu) * 1e6) / (to!.tokens - from!.tokens), 1)
            : round((wholeCpu * 1e6) / Math.max(1, received), 1),
          server_cpu_us_per_token_window: steady ? 'all streams open' : 'whole phase (never all open at once)',
          steady_window_tokens: steady ? to!.tokens - from!.tokens : 0,
          server_cpu_us_per_token_whole: round((wholeCpu * 1e6) / Math.max(1, received), 1),
        };
      });
    });

    // 3b. The same streams at lower concurrency: where the added-TTFT target holds on this machine
    await phase('sweep', `3b/7 streaming sweep: ${SWEEP.join(', ')} concurrent streams`, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
      const out: Record<BuildName, Record<string, number>> = { current: {}, baseline: {} };
      for (const n of SWEEP) {
        const d = await concurrentStreams(n, STREAM_RAMP_MS, openDirect(STREAM_TOKENS));
        const dT = sortedFinite(d.results.map((s) => s.ttftMs));
        for (const t of inTurn()) {
          const g = await concurrentStreams(n, STREAM_RAMP_MS, openGateway(t, STREAM_TOKENS));
          const gT = sortedFinite(g.results.map((s) => s.ttftMs));
          out[t.name][`s${n}_direct_ttft_p99_ms`] = round(pct(dT, 99));
          out[t.name][`s${n}_added_ttft_p50_ms`] = round(pct(gT, 50) - pct(dT, 50));
          out[t.name][`s${n}_added_ttft_p99_ms`] = round(pct(gT, 99) - pct(dT, 99));
          out[t.name][`s${n}_tokens_lost`] = n * STREAM_TOKENS - g.results.reduce((k, s) => k + s.tokens, 0);
        }
      }
      for (const t of targets) record(t.name, 'streaming_sweep', out[t.name]);
    });

    // 4. Cache: a repeated cacheable request
    await phase('cache', '4/7 cache: repeated cacheable request, c=64', async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: 0, padToMaxTokens: false });
      const cachedBody = JSON.stringify({ prompt: PROMPT + ' (cached)', max_tokens: 64, temperature: 0 });
      await eachTarget('cache', async (t) => {
        await request(`${t.base}/api/v1/code/generate`, {
          method: 'POST',
          body: cachedBody,
          headers: t.auth,
          dispatcher: agent,
        }).then((r) => r.body.text());
        const c = await throughput(`${t.base}/api/v1/code/generate`, cachedBody, t.auth, THROUGHPUT_SECONDS);
        return { rps: c.rps, non2xx: c.non2xx, p50_ms: c.p50, p99_ms: c.p99 };
      });
    });

    // 5. Cancellation: streams abandoned by the client at random points
    const cancelLabel = `5/7 cancellation: ${CANCELLED_STREAMS} streams abandoned at random points`;
    await phase('cancellation', cancelLabel, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: TOKEN_DELAY_MS, padToMaxTokens: true });
      await eachTarget('cancellation', (t) => cancellation(t, emu, emulator, agent, streamBody(STREAM_TOKENS)));
    });

    // 6. Soak (optional): mixed load, RSS over time
    await phase('soak', `6/7 soak: ${SOAK_MINUTES} min of mixed load`, async () => {
      await configureEmulator(emu, agent, { tokenDelayMs: 2, padToMaxTokens: false });
      await eachTarget('soak', (t) => soak(t.base, t.auth, agent, t.pid, SOAK_MINUTES));
    });

    for (const t of targets) results[t.name].server_rss_end_mb = rssMb(t.pid, 'VmRSS');
    for (const t of targets) {
      const problems = t.server.lines.filter((l) => /"level":"(warn|error)"/.test(l));
      if (problems.length > 0) {
        log(`${t.name} server logged ${problems.length} warnings/errors, the last:\n${problems.slice(-5).join('\n')}`);
      }
    }
  } catch (e) {
    for (const t of targets) log(`${t.name} server, last lines:\n${t.server.lines.slice(-15).join('\n')}`);
    throw e;
  } finally {
    await agent.close().catch(() => undefined);
    for (const t of targets) await t.server.stop();
    await emulator.stop();
    for (const t of targets) {
      await admin.query(`DROP DATABASE IF EXISTS "${t.dbName}" WITH (FORCE)`).catch(() => undefined);
    }
    await admin.end();
    for (const b of builds) b.cleanup();
  }

  const baseline = builds.find((b) => b.name === 'baseline');
  const report = {
    ...machineInfo(),
    quick: QUICK,
    workers: WORKERS,
    repeat: REPEAT,
    current: builds[0].label,
    headline: headline(results.current),
    results: results.current,
    ...(baseline
      ? {
          baseline: { ref: baseline.label, headline: headline(results.baseline), results: results.baseline },
          ratios: ratios(flatten(results.current), flatten(results.baseline)),
        }
      : {}),
  };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2) + '\n');
  console.log('\n' + markdown(results.current, baseline ? results.baseline : undefined, baseline?.label));
  console.log(`\nwritten: bench/results/latest.json`);
}

async function cancellation(t: Target, emu: string, emulator: Proc, agent: Agent, body: string) {
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
      const headers = { ...t.auth, 'x-request-id': id };
      await stream(`${t.base}/api/v1/code/generate/stream`, body, headers, agent, 'gateway', ctl.signal).catch(
        () => undefined,
      );
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
}

function currentLabel(): string {
  try {
    const dirty = git('status', '--porcelain', '--untracked-files=no') ? ', uncommitted changes' : '';
    return `${git('rev-parse', '--abbrev-ref', 'HEAD')} (${git('rev-parse', '--short=7', 'HEAD')}${dirty})`;
  } catch {
    return 'this checkout';
  }
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
  'throughput_c64.server_cpu_us_per_request': ['≤ 350 µs', (v) => v <= 350],
  'streaming.added_ttft_p99_ms': ['≤ 10 ms', (v) => v <= 10],
  'streaming.server_peak_rss_mb': ['≤ 300 MB', (v) => v <= 300],
  'streaming.streams_out_of_order': ['0', (v) => v === 0],
  'streaming.tokens_lost': ['0', (v) => v === 0],
  'burst_500.added_ttft_p99_ms': ['≤ 100 ms', (v) => v <= 100],
  'burst_500.server_cpu_us_per_token': ['≤ 20 µs', (v) => v <= 20],
  'burst_500.streams_out_of_order': ['0', (v) => v === 0],
  'burst_500.tokens_lost': ['0', (v) => v === 0],
  'cancellation.aborted_pct': ['100 %', (v) => v === 100],
  'cancellation.abort_p99_ms': ['≤ 100 ms', (v) => v <= 100],
  'soak.growth_pct': ['≤ 10 %', (v) => v <= 10],
};

/** The four figures every run prints first (issue 14's targets), when their phase ran. */
const HEADLINE: [string, string][] = [
  ['server_cpu_us_per_request', 'throughput_c64.server_cpu_us_per_request'],
  ['server_cpu_us_per_token_500_streams', 'burst_500.server_cpu_us_per_token'],
  ['added_ttft_p99_ms_500_streams_together', 'burst_500.added_ttft_p99_ms'],
  ['server_peak_rss_mb_1000_streams', 'streaming.server_peak_rss_mb'],
];

/** Field by field: the median of numbers, the last of anything else. */
function median(runs: Record<string, unknown>[]): Record<string, unknown> {
  if (runs.length === 1) return runs[0];
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(runs[runs.length - 1])) {
    const nums = sortedFinite(runs.map((r) => r[k]).filter((v): v is number => typeof v === 'number'));
    out[k] = nums.length > 0 ? nums[Math.floor((nums.length - 1) / 2)] : runs[runs.length - 1][k];
  }
  return out;
}

function flatten(results: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [section, values] of Object.entries(results)) {
    if (typeof values !== 'object' || values === null) out[section] = values;
    else for (const [k, v] of Object.entries(values)) out[`${section}.${k}`] = v;
  }
  return out;
}

function headline(results: Record<string, unknown>): Record<string, unknown> {
  const flat = flatten(results);
  return Object.fromEntries(HEADLINE.filter(([, k]) => k in flat).map(([name, k]) => [name, flat[k]]));
}

/** current ÷ baseline for every numeric figure both runs have. */
function ratios(current: Record<string, unknown>, baseline: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(current)) {
    const b = baseline[k];
    if (typeof v === 'number' && typeof b === 'number' && Number.isFinite(v) && Number.isFinite(b) && b !== 0) {
      out[k] = round(v / b, 2);
    }
  }
  return out;
}

function targetFor(key: string): [string, (v: number) => boolean] | undefined {
  return (
    TARGETS[key] ??
    (key.endsWith('_added_ttft_p99_ms') ? TARGETS['streaming.added_ttft_p99_ms'] : undefined) ??
    (key.endsWith('_tokens_lost') ? TARGETS['streaming.tokens_lost'] : undefined)
  );
}

function markdown(
  current: Record<string, unknown>,
  baseline?: Record<string, unknown>,
  baselineLabel?: string,
): string {
  const cur = flatten(current);
  const base = baseline ? flatten(baseline) : undefined;
  const r = base ? ratios(cur, base) : {};
  const keys = [...HEADLINE.map(([, k]) => k).filter((k) => k in cur), ...Object.keys(cur)];
  const rows = base
    ? [
        `| measure | baseline ${baselineLabel} | current | current ÷ baseline | target | met |`,
        '|---|---|---|---|---|---|',
      ]
    : ['| measure | value | target | met |', '|---|---|---|---|'];
  keys.forEach((k, i) => {
    const target = targetFor(k);
    const v = cur[k];
    const met = target ? (target[1](Number(v)) ? 'yes' : '**no**') : '';
    const name = i < keys.length - Object.keys(cur).length ? `**${k}**` : k;
    rows.push(
      base
        ? `| ${name} | ${cell(base[k])} | ${cell(v)} | ${cell(r[k])} | ${target?.[0] ?? ''} | ${met} |`
        : `| ${name} | ${cell(v)} | ${target?.[0] ?? ''} | ${met} |`,
    );
  });
  return rows.join('\n');
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/** A table cell: figures and words as they are, nothing for a missing one, objects as JSON. */
function cell(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return String(v);
  return v === undefined || v === null ? '' : JSON.stringify(v);
}
