import { ModelServerEmulator } from '../emulator/emulator';
import { factory, xApiKey } from './support/identity-factory';
import { createTestDatabase, startTestApp, TestApp, TestDatabase, withAdmin } from './support/test-app';

jest.setTimeout(60_000);

const V1 = '/api/v1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setConnections(db: TestDatabase, allowed: boolean): Promise<void> {
  return withAdmin(async (c) => {
    await c.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS ${allowed}`);
    if (!allowed) await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [db.name]);
  });
}

const generate = (app: TestApp, key: string) =>
  app.request('POST', `${V1}/code/generate`, { body: { prompt: 'Say hello', cache: false }, headers: xApiKey(key) });

// The database-outage e2e covers a whole outage on a real process; these cover the edges of the fallback.
describe('authentication while PostgreSQL is unreachable', () => {
  let emu: ModelServerEmulator;
  let db: TestDatabase;
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string>, redisPrefix?: string) => {
    const app = await startTestApp({
      apiKey: false,
      database: db,
      redisPrefix,
      env: { VLLM_SERVER_URL: emu.url, AUTH_CACHE_TTL_SECONDS: '1', ...env },
    });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    await emu.listen();
  });
  afterAll(() => emu?.close());
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await setConnections(db, true);
    for (const app of apps.splice(0)) await app.close();
    await db.drop();
  });

  it('should drop a key revoked before the outage from every instance, so it is not served from memory', async () => {
    const redisPrefix = `hapa-test:stale-${Date.now()}:`;
    const a = await start({}, redisPrefix);
    const b = await start({}, redisPrefix);
    const revoked = await factory.apiKey(a);
    const kept = await factory.apiKey(a);
    expect((await generate(b, revoked.key)).status).toBe(200);
    expect((await generate(b, kept.key)).status).toBe(200);

    const del = await a.request('DELETE', `${V1}/users/api-keys/${revoked.keyId}`, { headers: xApiKey(revoked.key) });
    expect(del.status).toBeLessThan(300);
    await sleep(1500); // past AUTH_CACHE_TTL_SECONDS: b must ask the database, which is gone
    await setConnections(db, false);

    expect((await generate(b, kept.key)).status).toBe(200);
    const refused = await generate(b, revoked.key);
    expect(refused.status).toBe(503);
    expect(refused.body.error_code).toBe('E5003');
  });

  it('should stop serving a key from memory once AUTH_STALE_SECONDS have passed since it was verified', async () => {
    const app = await start({ AUTH_STALE_SECONDS: '3' });
    const k = await factory.apiKey(app);
    expect((await generate(app, k.key)).status).toBe(200);
    await setConnections(db, false);
    await sleep(1500); // the 1 s cache entry is gone: what follows comes from the last known record
    expect((await generate(app, k.key)).status).toBe(200);
    await sleep(2000);
    const expired = await generate(app, k.key);
    expect(expired.status).toBe(503);
    expect(expired.body.error_code).toBe('E5003');
  });
});
