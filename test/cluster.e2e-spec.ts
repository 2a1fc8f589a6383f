import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDist, freePort, ServerProcess, startMain, waitFor } from './support/processes';
import { createTestDatabase, TestDatabase } from './support/test-app';
import { TEST_REDIS_URL } from './support/test-env';

// WORKERS=2 as users run it: one primary forking two servers on one port, sharing PostgreSQL and Redis.
describe('WORKERS > 1 (node:cluster)', () => {
  let cwd: string;
  let db: TestDatabase;
  let port: number;
  let proc: ServerProcess;
  const base = () => `http://127.0.0.1:${port}`;
  // A new connection per request: node:cluster hands connections to workers round-robin.
  const get = (p: string) => fetch(base() + p, { headers: { connection: 'close' } });

  beforeAll(async () => {
    buildDist();
    cwd = mkdtempSync(path.join(tmpdir(), 'hapa-cluster-'));
    db = await createTestDatabase();
    port = await freePort();
    proc = startMain(
      {
        PORT: String(port),
        HOST: '127.0.0.1',
        WORKERS: '2',
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: `hapa-cluster-${port}:`,
        LOG_LEVEL: 'info',
      },
      cwd,
    );
    await waitFor(() => proc.output().includes('listening on'), 60_000);
  }, 120_000);

  afterAll(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await db.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('should log one start-up line naming the workers', () => {
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l.includes('listening on'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/database=postgres cache=redis .* workers=2/);
  });

  it('should answer /metrics with the sum over every worker, whichever worker takes the scrape', async () => {
    for (let i = 0; i < 10; i++) expect((await get('/health/live')).status).toBe(200);
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const text = await (await get('/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith('hapa_requests_total{') && l.includes('"/health/live"'));
      counts.push(Number(line?.split(' ').pop()));
    }
    // Per-worker registries would answer about 5 and 5 alternately.
    expect(counts).toEqual([10, 10, 10, 10]);
  });

  it('should replace a worker that dies while serving, and keep answering', async () => {
    const before = (await get('/health/live')).status;
    expect(before).toBe(200);
    const { execFileSync } = await import('node:child_process');
    const children = execFileSync('pgrep', ['-P', String(proc.child.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number);
    expect(children).toHaveLength(2);
    process.kill(children[0], 'SIGKILL');
    await waitFor(() => proc.output().includes('worker exited: starting a replacement'), 10_000);
    await waitFor(() => proc.output().includes('replacement worker serving'), 30_000);
    for (let i = 0; i < 6; i++) expect((await get('/health/live')).status).toBe(200);
    expect(proc.output()).toContain(`"pid":${children[0]}`);
  }, 60_000);

  it('should drain every worker on SIGTERM and exit 0', async () => {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.output().match(/SIGTERM received: draining"/g)).toHaveLength(2);
    await expect(get('/health/live')).rejects.toThrow();
  }, 40_000);

  it('should stop with a non-zero exit when workers cannot start, instead of restarting them forever', async () => {
    const missing = db.url.replace(/\/[^/]+$/, '/hapa_no_such_database');
    const p = startMain(
      { PORT: String(await freePort()), WORKERS: '2', DATABASE_URL: missing, REDIS_URL: TEST_REDIS_URL },
      cwd,
    );
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('worker failed to start');
    expect(p.output()).not.toContain('starting a replacement');
  }, 60_000);

  it('should refuse WORKERS > 1 without DATABASE_URL and REDIS_URL', async () => {
    const p = startMain({ PORT: String(await freePort()), WORKERS: '2' }, cwd);
    expect(await p.exited).not.toBe(0);
    expect(p.output()).toContain('WORKERS');
    expect(p.output()).not.toContain('listening on');
  });
});
