import { Controller, Get, Module, Res } from '@nestjs/common';
import { createClient } from 'redis';
import { startRedisServer, ThrowawayRedis } from './support/processes';
import type { Response } from 'express';
import { Authenticated, Principal } from '../src/common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../src/common/http/app-request';
import { StreamSlotsPort } from '../src/common/ports/stream-slots.port';
import { RateLimitModule } from '../src/rate-limit/rate-limit.module';
import { ENV_SCHEMA } from '../src/config/env.schema';
import { ADMIN_KEY, factory, until, xApiKey } from './support/identity-factory';
import { createTestDatabase, startTestApp, TestApp } from './support/test-app';

// Protected routes outside generation and autocomplete: they spend the API_RATE_LIMIT budget.
@Controller('rl-probe')
class RateProbeController {
  @Get() @Authenticated() hit() {
    return { ok: true };
  }
  @Get('free') @Authenticated() free() {
    return { ok: true };
  }
}

// Holds a stream slot until the client goes away, as the streaming route will.
@Controller('slot-probe')
class SlotProbeController {
  constructor(private readonly slots: StreamSlotsPort) {}
  @Get() @Authenticated() async hold(@Principal() p: AuthPrincipal, @Res() res: Response) {
    const release = await this.slots.acquire(p);
    res.on('close', release);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: held\n\n');
  }
}
@Module({ imports: [RateLimitModule], controllers: [RateProbeController, SlotProbeController] })
class ProbeModule {}

// The project-level testTimeout is not applied by jest 30; these tests start several apps.
jest.setTimeout(60_000);

const V1 = '/api/v1';
const hit = (app: TestApp, key: string, path = '/rl-probe') => app.request('GET', V1 + path, { headers: xApiKey(key) });

/** Opens a held stream; resolves once its first event (or an error body) arrived. */
type ErrorBody = { error_code: string };

async function openStream(app: TestApp, key: string): Promise<{ status: number; body?: ErrorBody; close: () => void }> {
  const ctl = new AbortController();
  const res = await fetch(`${app.url}${V1}/slot-probe`, { headers: xApiKey(key), signal: ctl.signal });
  if (res.status !== 200) return { status: res.status, body: (await res.json()) as ErrorBody, close: () => undefined };
  const reader = res.body!.getReader();
  await reader.read();
  return { status: 200, close: () => ctl.abort() };
}

function e5009Events(app: TestApp): unknown[] {
  return app.logs.map((l) => JSON.parse(l)).filter((l) => l.error_code === 'E5009');
}

describe('rate limiting', () => {
  it('should limit per key with headers, 429 E4004 and Retry-After, and per IP on anonymous routes', async () => {
    const app = await startTestApp({
      apiKey: false,
      extraModules: [ProbeModule],
      env: { API_RATE_LIMIT: '3', RATE_LIMIT_WINDOW_MINUTES: '1' },
    });
    try {
      const k1 = await factory.apiKey(app); // IP bucket: 1
      const k2 = await factory.apiKey(app); // IP bucket: 2
      for (let i = 1; i <= 3; i++) {
        const res = await hit(app, k1.key);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBe('3');
        expect(res.headers.get('x-ratelimit-remaining')).toBe(String(3 - i));
        expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
      }
      const limited = await hit(app, k1.key);
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ status: 'error', error_code: 'E4004' });
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Another key has its own budget.
      expect((await hit(app, k2.key)).status).toBe(200);
      // Anonymous routes count per client IP.
      expect(
        (await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: factory.email() } })).status,
      ).toBe(200);
      const anon = await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: factory.email() } });
      expect(anon.status).toBe(429);
      expect(anon.body.error_code).toBe('E4004');
      // Health probes are never limited.
      for (let i = 0; i < 5; i++) expect((await app.request('GET', '/health/live')).status).toBe(200);
      const metrics = await app.request('GET', '/metrics');
      expect(metrics.text).toMatch(/hapa_rate_limited_total\{route="\/api\/v1\/rl-probe"\} [1-9]/);
      expect(metrics.text).toMatch(/hapa_rate_limited_total\{route="\/api\/v1\/users\/generate-api-key"\} [1-9]/);
    } finally {
      await app.close();
    }
  });

  it('should apply RATE_LIMIT_RULES per route and per-key overrides from the key record', async () => {
    const app = await startTestApp({
      apiKey: false,
      extraModules: [ProbeModule],
      env: { ADMIN_API_KEY: ADMIN_KEY, API_RATE_LIMIT: '1000', RATE_LIMIT_RULES: '/rl-probe=2/1m' },
    });
    try {
      const k = await factory.apiKey(app);
      expect((await hit(app, k.key)).headers.get('x-ratelimit-limit')).toBe('2');
      expect((await hit(app, k.key)).status).toBe(200);
      expect((await hit(app, k.key)).status).toBe(429);
      // The rule covers one route; the rest of the API still has the default budget.
      const free = await hit(app, k.key, '/rl-probe/free');
      expect(free.status).toBe(200);
      expect(free.headers.get('x-ratelimit-limit')).toBe('1000');

      // A key's own rate_limit replaces the generation budget (DEFAULT_RATE_LIMIT), not the others.
      const slow = await factory.adminKey(app, ADMIN_KEY, { email: factory.email(), rate_limit: 2 });
      // The limiter runs before validation, so empty bodies (422) count without calling a model.
      const generate = () => app.request('POST', `${V1}/code/generate`, { body: {}, headers: xApiKey(slow.key) });
      const first = await generate();
      expect([first.status, first.headers.get('x-ratelimit-limit')]).toEqual([422, '2']);
      expect((await generate()).status).toBe(422);
      const over = await generate();
      expect(over.status).toBe(429);
      expect(over.body.error_code).toBe('E4004');
      expect((await hit(app, slow.key, '/rl-probe/free')).headers.get('x-ratelimit-limit')).toBe('1000');
    } finally {
      await app.close();
    }
  });

  it('should make the code-generation aliases share their route rule and counter', async () => {
    const app = await startTestApp({
      apiKey: false,
      env: {
        DEFAULT_RATE_LIMIT: '1000',
        RATE_LIMIT_RULES: '/code/generate=2/1m,/code/generate/stream=3/1m',
      },
    });
    try {
      const k = await factory.apiKey(app);
      // The limiter runs before validation, so empty bodies (422) count without calling a model.
      const post = (path: string) => app.request('POST', V1 + path, { body: {}, headers: xApiKey(k.key) });
      expect((await post('/code/generate')).status).toBe(422);
      expect((await post('/generate-code')).status).toBe(422);
      const over = await post('/code/generate');
      expect(over.status).toBe(429);
      expect(over.body.error_code).toBe('E4004');
      expect((await post('/generate-code')).status).toBe(429);
      const streams = [];
      for (const path of [
        '/code/generate/stream',
        '/enhanced-stream-generate',
        '/code/enhanced-stream-generate',
        '/code/generate/stream',
      ]) {
        const res = await post(path);
        streams.push([res.status, res.headers.get('x-ratelimit-limit')]);
      }
      expect(streams).toEqual([
        [422, '3'],
        [422, '3'],
        [422, '3'],
        [429, '3'],
      ]);
    } finally {
      await app.close();
    }
  });

  it('should give generation, autocomplete and everything else separate budgets', async () => {
    const app = await startTestApp({
      apiKey: false,
      env: { DEFAULT_RATE_LIMIT: '2', AUTOCOMPLETE_RATE_LIMIT: '4', API_RATE_LIMIT: '50', RATE_LIMIT_RULES: '' },
    });
    try {
      const k = await factory.apiKey(app);
      const call = (method: string, path: string, body?: unknown) =>
        app.request(method, V1 + path, { body, headers: xApiKey(k.key) });
      const seen = async (method: string, path: string, body?: unknown) => {
        const res = await call(method, path, body);
        return [res.status, res.headers.get('x-ratelimit-limit')];
      };
      // Generation: the aliases and the stream share one budget of DEFAULT_RATE_LIMIT.
      expect(await seen('POST', '/code/generate', {})).toEqual([422, '2']);
      expect(await seen('POST', '/code/generate/stream', {})).toEqual([422, '2']);
      expect(await seen('POST', '/generate-code', {})).toEqual([429, '2']);
      // Autocomplete is not locked out with generation, and has its own budget.
      for (let i = 0; i < 4; i++) expect(await seen('POST', '/code/complete', {})).toEqual([422, '4']);
      expect(await seen('POST', '/code/complete', {})).toEqual([429, '4']);
      // Reads, profile, settings and telemetry spend neither.
      expect(await seen('GET', '/users/me')).toEqual([200, '50']);
      expect(await seen('GET', '/users/profile')).toEqual([200, '50']);
      expect(await seen('GET', '/users/settings')).toEqual([200, '50']);
      expect(await seen('POST', '/analytics/events', {})).toEqual([422, '50']);
    } finally {
      await app.close();
    }
  });

  it('should give admins ten times the everything-else budget (ops routes during an incident), not more generation', async () => {
    const app = await startTestApp({
      apiKey: false,
      extraModules: [ProbeModule],
      env: { ADMIN_API_KEY: ADMIN_KEY, DEFAULT_RATE_LIMIT: '1', API_RATE_LIMIT: '2', RATE_LIMIT_RULES: '' },
    });
    try {
      const admin = await factory.adminKey(app, ADMIN_KEY, { email: factory.email(), permissions: ['admin'] });
      const user = await factory.apiKey(app);
      const first = await hit(app, admin.key);
      expect([first.status, first.headers.get('x-ratelimit-limit')]).toEqual([200, '20']);
      for (let i = 1; i < 20; i++) expect((await hit(app, admin.key)).status).toBe(200);
      expect((await hit(app, admin.key)).status).toBe(429);
      // ADMIN_API_KEY too (it already spent one issuing the key above)
      const bootstrap = await hit(app, ADMIN_KEY);
      expect([bootstrap.status, bootstrap.headers.get('x-ratelimit-limit')]).toEqual([200, '20']);
      // an ordinary key still has the budget
      expect((await hit(app, user.key)).status).toBe(200);
      expect((await hit(app, user.key)).status).toBe(200);
      expect((await hit(app, user.key)).status).toBe(429);
      // and the admin's generation is still limited
      const generate = () => app.request('POST', `${V1}/code/generate`, { body: {}, headers: xApiKey(admin.key) });
      expect((await generate()).status).toBe(422);
      expect((await generate()).status).toBe(429);
    } finally {
      await app.close();
    }
  });

  it('should hold the seeds defaults: 100/hour for generation, far more for autocomplete and reads', async () => {
    const defaults = Object.fromEntries(
      (['DEFAULT_RATE_LIMIT', 'AUTOCOMPLETE_RATE_LIMIT', 'API_RATE_LIMIT', 'RATE_LIMIT_RULES'] as const).map((n) => [
        n,
        ENV_SCHEMA[n].default,
      ]),
    );
    const app = await startTestApp({ apiKey: false, env: defaults });
    try {
      const k = await factory.apiKey(app);
      const limitOf = async (method: string, path: string, body?: unknown) =>
        (await app.request(method, V1 + path, { body, headers: xApiKey(k.key) })).headers.get('x-ratelimit-limit');
      expect(await limitOf('POST', '/code/generate/stream', {})).toBe('20'); // the seeds' 20/minute binds first
      expect(await limitOf('POST', '/code/complete', {})).toBe(ENV_SCHEMA.AUTOCOMPLETE_RATE_LIMIT.default);
      expect(await limitOf('GET', '/users/me')).toBe(ENV_SCHEMA.API_RATE_LIMIT.default);
      expect(Number(ENV_SCHEMA.DEFAULT_RATE_LIMIT.default)).toBe(100);
      expect(Number(ENV_SCHEMA.AUTOCOMPLETE_RATE_LIMIT.default)).toBeGreaterThanOrEqual(20 * 100);
    } finally {
      await app.close();
    }
  });

  it('should take RATE_LIMIT_RULES as the seeds JSON, with or without the API prefix', async () => {
    const app = await startTestApp({
      apiKey: false,
      env: { RATE_LIMIT_RULES: '{"/api/v1/generate-code": "1/minute", "/code/complete": "2/1m"}' },
    });
    try {
      const k = await factory.apiKey(app);
      const post = (path: string) => app.request('POST', V1 + path, { body: {}, headers: xApiKey(k.key) });
      const first = await post('/code/generate');
      expect([first.status, first.headers.get('x-ratelimit-limit')]).toEqual([422, '1']);
      expect((await post('/generate-code')).status).toBe(429);
      expect((await post('/code/complete')).status).toBe(422);
      expect((await post('/code/complete')).status).toBe(422);
      expect((await post('/code/complete')).status).toBe(429);
    } finally {
      await app.close();
    }
  });

  it('should not limit anything with RATE_LIMIT_ENABLED=false', async () => {
    const app = await startTestApp({
      apiKey: false,
      extraModules: [ProbeModule],
      env: { RATE_LIMIT_ENABLED: 'false', API_RATE_LIMIT: '1', RATE_LIMIT_RULES: '/rl-probe=1/1m' },
    });
    try {
      const k = await factory.apiKey(app);
      await factory.apiKey(app);
      for (let i = 0; i < 3; i++) {
        const res = await hit(app, k.key);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
    } finally {
      await app.close();
    }
  });

  it('should enforce one limit across two instances sharing Redis', async () => {
    const database = await createTestDatabase();
    const redisPrefix = `hapa-test:rl-shared-${Date.now()}:`;
    const env = { API_RATE_LIMIT: '1000', RATE_LIMIT_RULES: '/rl-probe=4/1m' };
    const a = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
      extraModules: [ProbeModule],
    });
    const b = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
      extraModules: [ProbeModule],
    });
    try {
      const k = await factory.apiKey(a);
      const statuses = [];
      for (const app of [a, b, a, b, a, b]) statuses.push((await hit(app, k.key)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  describe('when Redis goes away mid-test', () => {
    let redis: ThrowawayRedis;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.kill());

    it('should keep serving with per-instance limits, report one E5009 and show redis down in /health', async () => {
      const app = await startTestApp({
        apiKey: false,
        extraModules: [ProbeModule],
        env: { REDIS_URL: redis.url, API_RATE_LIMIT: '1000', RATE_LIMIT_RULES: '/rl-probe=3/1m' },
      });
      try {
        const k = await factory.apiKey(app);
        expect((await hit(app, k.key)).status).toBe(200);
        expect((await hit(app, k.key)).status).toBe(200);
        // The counter lives in that Redis.
        const client = createClient({ url: redis.url });
        await client.connect();
        const keys = await client.keys(`${app.redisPrefix}rl:route:/rl-probe:*`);
        expect(keys).toHaveLength(1);
        expect(await client.get(keys[0])).toBe('2');
        await client.close();

        const exited = new Promise((r) => redis.process.once('exit', r));
        redis.kill();
        await exited;

        // Fresh in-memory window: three more pass, the fourth is limited; no request fails.
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await hit(app, k.key)).status);
        expect(statuses).toEqual([200, 200, 200, 429, 429]);
        const stream = await openStream(app, k.key);
        expect(stream.status).toBe(200);
        stream.close();

        const events = e5009Events(app);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ route: 'internal:rate-limit-store', status: 503 });
        const health = await app.request('GET', '/health'); // /health/detailed needs ops:read
        expect(health.body.services.redis).toBe('disconnected');
      } finally {
        await app.close();
      }
    });
  });
});

describe('stream slots', () => {
  it('should cap concurrent streams per key across instances and free a slot when the client disconnects', async () => {
    const database = await createTestDatabase();
    const redisPrefix = `hapa-test:slots-${Date.now()}:`;
    const env = { MAX_CONCURRENT_STREAMS: '2', RATE_LIMIT_ENABLED: 'false', ADMIN_API_KEY: ADMIN_KEY };
    const a = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
      extraModules: [ProbeModule],
    });
    const b = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
      extraModules: [ProbeModule],
    });
    const open: { close: () => void }[] = [];
    try {
      const k = await factory.apiKey(a);
      const s1 = await openStream(a, k.key);
      const s2 = await openStream(b, k.key);
      open.push(s1, s2);
      expect([s1.status, s2.status]).toEqual([200, 200]);
      const third = await openStream(a, k.key);
      expect(third.status).toBe(429);
      expect(third.body?.error_code).toBe('E4013');
      // Another key is not affected.
      const other = await factory.apiKey(a);
      const o = await openStream(b, other.key);
      open.push(o);
      expect(o.status).toBe(200);

      s1.close();
      const retried = await until(
        () => openStream(b, k.key),
        (r) => r.status === 200,
        3000,
      );
      open.push(retried);
      expect(retried.status).toBe(200);

      // A key's own limit replaces MAX_CONCURRENT_STREAMS.
      const single = await factory.adminKey(a, ADMIN_KEY, { email: factory.email(), max_concurrent_streams: 1 });
      const first = await openStream(a, single.key);
      open.push(first);
      expect(first.status).toBe(200);
      expect((await openStream(b, single.key)).status).toBe(429);
    } finally {
      for (const s of open) s.close();
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it('should cap streams in memory when Redis is not configured', async () => {
    const app = await startTestApp({
      apiKey: false,
      redis: false,
      extraModules: [ProbeModule],
      env: { MAX_CONCURRENT_STREAMS: '1', RATE_LIMIT_ENABLED: 'false' },
    });
    try {
      const k = await factory.apiKey(app);
      const s = await openStream(app, k.key);
      expect(s.status).toBe(200);
      expect((await openStream(app, k.key)).status).toBe(429);
      s.close();
      const again = await until(
        () => openStream(app, k.key),
        (r) => r.status === 200,
        3000,
      );
      again.close();
      expect(again.status).toBe(200);
      expect(e5009Events(app)).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});
