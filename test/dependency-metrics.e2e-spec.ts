import { until } from './support/identity-factory';
import { startRedisServer, ThrowawayRedis } from './support/processes';
import { createTestDatabase, startTestApp, TestApp, TestDatabase, withAdmin } from './support/test-app';

jest.setTimeout(60_000);

const gauge = async (app: TestApp): Promise<Record<string, string>> => {
  const text = (await app.request('GET', '/metrics')).text;
  return Object.fromEntries(
    [...text.matchAll(/^hapa_dependency_up\{dependency="([a-z_]+)"\} (\S+)$/gm)].map((m) => [m[1], m[2]]),
  );
};

describe('hapa_dependency_up', () => {
  let redis: ThrowawayRedis;
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer();
    db = await createTestDatabase();
    app = await startTestApp({
      database: db,
      logLevel: 'error',
      env: { REDIS_URL: redis.url, HEALTH_PROBE_INTERVAL: '0.5' },
    });
  });

  afterAll(async () => {
    redis?.kill();
    await app?.close();
    await withAdmin((c) => c.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS true`)).catch(() => undefined);
    await db?.drop();
  });

  it('should show every configured dependency up, from the background checks alone', async () => {
    // No health route is called: the monitor's own round sets the gauge.
    const up = await until(
      () => gauge(app),
      (g) => Object.keys(g).length === 3,
      10_000,
    );
    expect(up).toEqual({ postgres: '1', redis: '1', model_server: '1' });
  });

  it('should turn redis to 0 when Redis goes away, and postgres to 0 when the database refuses connections', async () => {
    const exited = new Promise((r) => redis.process.once('exit', r));
    redis.kill();
    await exited;
    const noRedis = await until(
      () => gauge(app),
      (g) => g.redis === '0',
      10_000,
    );
    expect(noRedis).toEqual({ postgres: '1', redis: '0', model_server: '1' });

    await withAdmin(async (c) => {
      await c.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
    });
    const noDb = await until(
      () => gauge(app),
      (g) => g.postgres === '0',
      15_000,
    );
    expect(noDb).toEqual({ postgres: '0', redis: '0', model_server: '1' });
  });
});
