import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ModelServerEmulator } from '../emulator/emulator';
import { buildDist, freePort, ServerProcess, startMain, waitFor } from './support/processes';
import { createTestDatabase, request, TestDatabase, withAdmin } from './support/test-app';
import { TEST_REDIS_URL } from './support/test-env';

jest.setTimeout(120_000);

const V1 = '/api/v1';
const ADMIN_KEY = 'hapa_outage_admin_key_0123456789abcdef';
// Longer than AUTH_CACHE_TTL_SECONDS (5): the key's cache entry expires during the outage.
const OUTAGE_MS = 8000;

// A real server process (SIGTERM and restart are part of the test) on a database of its own that the
// test makes unreachable the way an outage does: no new connections, the open ones terminated.
describe('PostgreSQL unreachable', () => {
  let emu: ModelServerEmulator;
  let db: TestDatabase;
  let cwd: string;
  let port: number;
  let env: Record<string, string>;
  let proc: ServerProcess | undefined;
  const base = () => `http://127.0.0.1:${port}`;

  const start = async (): Promise<ServerProcess> => {
    const p = startMain(env, cwd);
    await waitFor(() => p.output().includes('listening on') || p.child.exitCode !== null, 60_000);
    if (p.child.exitCode !== null) throw new Error(`server did not start:\n${p.output()}`);
    return p;
  };
  const setConnections = (allowed: boolean) =>
    withAdmin(async (c) => {
      await c.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS ${allowed}`);
      if (!allowed) {
        await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [db.name]);
      }
    });
  // A client of its own per query: a kept one would be terminated by the cut.
  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  const usageRows = async (keyId: string) =>
    (await query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE api_key_id = $1`, [keyId]))[0].n;
  const e5003Count = async () =>
    (
      await query<{ n: number }>(
        `SELECT coalesce(sum(count), 0)::int AS n FROM error_counts WHERE error_code = 'E5003' AND route NOT LIKE 'internal:%'`,
      )
    )[0].n;
  const generate = (key: string) =>
    request(base(), 'POST', `${V1}/code/generate`, {
      body: { prompt: 'Write a function that reverses a list', cache: false },
      headers: { 'X-API-Key': key },
    });
  const issueKey = async (email: string) => {
    const res = await request(base(), 'POST', `${V1}/admin/api-keys`, {
      body: { email, permissions: ['code_generation', 'profile', 'analytics:read'] },
      headers: { 'X-API-Key': ADMIN_KEY },
    });
    expect(res.status).toBe(201);
    return { key: res.body.api_key as string, id: res.body.key_id as string };
  };

  beforeAll(async () => {
    buildDist();
    emu = new ModelServerEmulator();
    await emu.listen();
    cwd = mkdtempSync(path.join(tmpdir(), 'hapa-db-outage-'));
    db = await createTestDatabase();
    port = await freePort();
    env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      DATA_DIR: path.join(cwd, 'data'),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `hapa-db-outage-${port}:`,
      VLLM_SERVER_URL: emu.url,
      ADMIN_API_KEY: ADMIN_KEY,
      REGISTRATION_MODE: 'closed',
      DEFAULT_RATE_LIMIT: '1000000',
      RATE_LIMIT_RULES: '',
      LOG_LEVEL: 'info',
    };
  }, 180_000);

  afterAll(async () => {
    if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await setConnections(true).catch(() => undefined);
    await db?.drop();
    await emu?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('should keep a recently verified key generating, answer 503 E5003 where the database is needed, and lose no event', async () => {
    proc = await start();
    const used = await issueKey('outage-used@example.com');
    const unused = await issueKey('outage-unused@example.com');
    let usedRequests = 0;
    let e5003Answers = 0;
    for (let i = 0; i < 3; i++, usedRequests++) expect((await generate(used.key)).status).toBe(200);

    // Outage 1: served through, then recovered while running.
    await setConnections(false);
    const statuses = new Set<number>();
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      statuses.add((await generate(used.key)).status);
      usedRequests++;
    }
    expect([...statuses]).toEqual([200]);
    expect(usedRequests).toBeGreaterThan(10);

    const ready = await request(base(), 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    for (const route of ['/users/profile', '/users/api-keys', '/analytics/dashboard', '/errors/dashboard']) {
      const res = await request(base(), 'GET', V1 + route, { headers: { 'X-API-Key': used.key } });
      usedRequests++;
      e5003Answers++;
      expect({ route, status: res.status, code: res.body.error_code }).toEqual({ route, status: 503, code: 'E5003' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // A key this instance never verified cannot be verified now.
    const unknown = await generate(unused.key);
    e5003Answers++;
    expect(unknown.status).toBe(503);
    expect(unknown.body.error_code).toBe('E5003');
    expect(unknown.headers.get('retry-after')).not.toBeNull();

    await setConnections(true);
    await waitFor(async () => (await request(base(), 'GET', '/health/ready')).status === 200, 20_000);
    await waitFor(async () => (await usageRows(used.id)) >= usedRequests, 20_000);
    expect(await usageRows(used.id)).toBe(usedRequests);
    await waitFor(async () => (await e5003Count()) >= e5003Answers, 20_000);
    expect(await e5003Count()).toBe(e5003Answers);

    // Outage 2: stopped while the database is still down, restarted after it is back.
    await setConnections(false);
    const during: number[] = [];
    for (let i = 0; i < 20; i++, usedRequests++) during.push((await generate(used.key)).status);
    expect(new Set(during)).toEqual(new Set([200]));
    expect((await generate(unused.key)).status).toBe(503);
    e5003Answers++;
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('analytics: database unreachable at shutdown');
    expect(proc.output()).toContain('error monitoring: database unreachable at shutdown');
    const spillDir = path.join(env.DATA_DIR, 'spill');
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.json'))).toHaveLength(2);

    await setConnections(true);
    proc = await start();
    expect(proc.output()).toMatch(/events left by an earlier shutdown restored.*"events":2[0-9]/);
    await waitFor(async () => (await usageRows(used.id)) >= usedRequests, 20_000);
    expect(await usageRows(used.id)).toBe(usedRequests);
    await waitFor(async () => (await e5003Count()) >= e5003Answers, 20_000);
    expect(await e5003Count()).toBe(e5003Answers);
    expect(readdirSync(spillDir).filter((f) => !f.startsWith('.'))).toEqual([]);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toMatch(/hapa_telemetry_spilled_events_total\{source="usage",direction="in"\} 2[0-9]/);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
