import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDist, freePort, startMain as run, waitFor } from './support/processes';

const ROOT = path.resolve(__dirname, '..');

/** Resolves true when something accepts a TCP connection on host:port. */
const accepts = (host: string, port: number): Promise<boolean> =>
  fetch(`http://${host}:${port}/health/live`).then(
    () => true,
    () => false,
  );

// The server as users start it: `node dist/src/main.js` with no configuration but a free port.
describe('server process', () => {
  let cwd: string;
  beforeAll(() => {
    buildDist();
    cwd = mkdtempSync(path.join(tmpdir(), 'hapa-start-'));
  }, 120_000);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('should start on embedded defaults within 20 s, log one start-up line, and exit 0 on SIGTERM', async () => {
    const port = await freePort();
    const proc = run({ PORT: String(port) }, cwd);
    try {
      await waitFor(() => proc.output().includes('listening on'), 20_000);
      const startLines = proc
        .output()
        .split('\n')
        .filter((l) => l.includes('listening on'));
      expect(startLines).toHaveLength(1);
      expect(startLines[0]).toMatch(/database=embedded cache=memory model_servers=emulator/);
      expect(JSON.parse(startLines[0]).level).toBe('info');
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { services: { database: string } }).services.database).toBe('connected');
      // Loopback only by default (open registration must not reach the network): a socket bound to
      // 0.0.0.0 would also answer on 127.0.0.2, one bound to 127.0.0.1 does not.
      expect(await accepts('127.0.0.2', port)).toBe(false);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
    // Embedded data went under ./data of the working directory.
    expect(existsSync(path.join(cwd, 'data/pglite'))).toBe(true);
  }, 40_000);

  it('should refuse bad configuration with one message naming every bad variable', async () => {
    const proc = run({ PORT: 'eighty', LOG_LEVEL: 'loud', RATE_LIMIT_WINDOW_MINUTES: '-5' }, cwd);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    for (const name of ['PORT', 'LOG_LEVEL', 'RATE_LIMIT_WINDOW_MINUTES']) expect(proc.output()).toContain(name);
    expect(proc.output()).not.toContain('listening on');
  });

  it('should refuse to start in production with the example or a short SECRET_KEY', async () => {
    for (const secret of ['change-me-to-a-random-string-of-at-least-32-chars', 'too-short']) {
      const proc = run({ ENVIRONMENT: 'production', SECRET_KEY: secret, VLLM_SERVER_URL: 'http://127.0.0.1:9' }, cwd);
      expect(await proc.exited).not.toBe(0);
      expect(proc.output()).toContain('SECRET_KEY');
    }
  });
});

// `npm start`'s build (scripts/transpile.js): transpile-only, incremental, and what it emits runs.
describe('npm start build', () => {
  const outDir = 'node_modules/.cache/hapa-transpile-test';
  const transpile = () =>
    execFileSync(process.execPath, ['scripts/transpile.js', '--out-dir', outDir], { cwd: ROOT, encoding: 'utf8' });
  afterAll(() => rmSync(path.join(ROOT, outDir), { recursive: true, force: true }));

  it('should transpile every file once, then only changed ones, into a server that starts', async () => {
    rmSync(path.join(ROOT, outDir), { recursive: true, force: true });
    const first = /transpiled (\d+) of (\d+) files/.exec(transpile());
    expect(first).not.toBeNull();
    expect(Number(first![1])).toBe(Number(first![2]));
    expect(Number(first![2])).toBeGreaterThan(50);
    expect(transpile()).toContain(`transpiled 0 of ${first![2]} files`);
    const touched = path.join(ROOT, 'src/health/health.controller.ts');
    const now = new Date();
    utimesSync(touched, now, now);
    expect(transpile()).toContain(`transpiled 1 of ${first![2]} files`);

    // Nest's dependency injection reads the decorator metadata transpileModule wrote.
    const cwd = mkdtempSync(path.join(tmpdir(), 'hapa-start-'));
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(ROOT, outDir, 'src/main.js')], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => out.includes('listening on') || child.exitCode !== null, 60_000);
      expect(out).toContain('listening on');
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      const key = await fetch(`http://127.0.0.1:${port}/api/v1/users/generate-api-key`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'transpiled@example.com' }),
      });
      expect(key.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    rmSync(cwd, { recursive: true, force: true });
  }, 180_000);
});
