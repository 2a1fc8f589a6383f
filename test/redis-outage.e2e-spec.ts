import { createClient } from 'redis';
import { ModelServerEmulator } from '../emulator/emulator';
import { startRedisServer, ThrowawayRedis, waitFor } from './support/processes';
import { postSse } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const V1 = '/api/v1';
const FREEZE_MS = 10_000;
// The old behaviour waited for Redis for the whole freeze; the deadline is 150 ms per operation.
const BOUND_MS = 2000;

function loggedCodes(app: TestApp, code: string): unknown[] {
  return app.logs.map((l) => JSON.parse(l)).filter((l) => l.error_code === code);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/** An app on its own redis-server (frozen and thawed by the tests) and emulator, for the enclosing describe. */
function appOnThrowawayRedis(): { emu: ModelServerEmulator; redis: ThrowawayRedis; app: TestApp } {
  const env = {} as { emu: ModelServerEmulator; redis: ThrowawayRedis; app: TestApp };
  beforeAll(async () => {
    env.emu = new ModelServerEmulator();
    await env.emu.listen();
    env.redis = await startRedisServer();
    env.app = await startTestApp({
      env: { REDIS_URL: env.redis.url, VLLM_SERVER_URL: env.emu.url, REDIS_COMMAND_TIMEOUT_MS: '150' },
    });
  });
  afterAll(async () => {
    if (env.redis?.process.exitCode === null) env.redis.process.kill('SIGCONT');
    await env.app?.close();
    env.redis?.kill();
    await env.emu?.close();
  });
  return env;
}

describe('Redis alive but silent (SIGSTOP)', () => {
  const env = appOnThrowawayRedis();

  it('should keep answering within the deadline, report the outage, and use Redis again after SIGCONT', async () => {
    const { app, redis } = env;
    const probe = createClient({ url: redis.url });
    probe.on('error', () => undefined);
    await probe.connect();
    const counterKey = async () => {
      const keys = await probe.keys(`${app.redisPrefix}rl:generation:*`);
      expect(keys).toHaveLength(1);
      return keys[0];
    };
    try {
      const generate = (cache: boolean) =>
        app.request('POST', `${V1}/code/generate`, { body: { prompt: 'Write a function that adds', cache } });
      expect((await generate(true)).status).toBe(200);
      const before = Number(await probe.get(await counterKey()));
      expect(before).toBeGreaterThanOrEqual(1);

      redis.process.kill('SIGSTOP');
      const frozenUntil = Date.now() + FREEZE_MS;
      const results: { what: string; status: number; ms: number }[] = [];
      const healthDuring: unknown[] = [];
      const loop = async (what: string, fn: () => Promise<number>) => {
        while (Date.now() < frozenUntil) {
          const { value, ms } = await timed(fn);
          results.push({ what, status: value, ms });
        }
      };
      await Promise.all([
        // cached route: cache read and write, preferences, rate-limit counters
        loop('generate cached', async () => (await generate(true)).status),
        loop('generate uncached', async () => (await generate(false)).status),
        // stream slots
        loop('stream', async () => {
          const r = await postSse(app.url, `${V1}/code/generate/stream`, { prompt: 'Stream it', cache: false });
          return r.frames.at(-2)?.data?.type === 'done' ? r.status : -1;
        }),
        // the failed-authentication limiter (an unknown key: 401, or 429 once over the limit)
        loop('unknown key', async () => {
          const r = await app.request('GET', `${V1}/users/profile`, {
            headers: { 'X-API-Key': `hapa_${'0'.repeat(64)}` },
          });
          return r.status === 429 ? 401 : r.status;
        }),
        loop('health', async () => {
          const r = await app.request('GET', '/health');
          healthDuring.push(r.body);
          return r.status;
        }),
      ]);
      redis.process.kill('SIGCONT');

      const byWhat = new Map<string, number[]>();
      for (const r of results) byWhat.set(r.what, [...(byWhat.get(r.what) ?? []), r.status]);
      expect(Object.fromEntries([...byWhat].map(([w, s]) => [w, [...new Set(s)]]))).toEqual({
        'generate cached': [200],
        'generate uncached': [200],
        stream: [200],
        'unknown key': [401],
        health: [200],
      });
      // Enough traffic to prove the freeze was crossed, every answer within the bound.
      expect(results.filter((r) => r.what === 'generate uncached').length).toBeGreaterThan(10);
      const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
      expect(slowest.ms).toBeLessThan(BOUND_MS);
      expect(healthDuring.at(-1)).toMatchObject({ status: 'degraded', services: { redis: 'disconnected' } });

      // One incident per outage for the limiter store and one for the cache.
      expect(loggedCodes(app, 'E5009')).toHaveLength(1);
      expect(loggedCodes(app, 'E5002')).toHaveLength(1);

      // Back: the breaker closes, and the shared counter in Redis counts again.
      await waitFor(async () => (await app.request('GET', '/health')).body.services.redis === 'connected', 10_000);
      const key = await counterKey();
      const after = Number(await probe.get(key));
      expect((await generate(false)).status).toBe(200);
      expect(Number(await probe.get(key))).toBe(after + 1);
      expect(app.logs.some((l) => l.includes('redis circuit closed'))).toBe(true);
    } finally {
      if (redis.process.exitCode === null) redis.process.kill('SIGCONT');
      await probe.close().catch(() => undefined);
    }
  });
});

describe('Stream slots across a Redis freeze', () => {
  const env = appOnThrowawayRedis();

  it('should not leave a slot behind when an acquire that timed out runs after Redis wakes up', async () => {
    const { app, redis } = env;
    const issued = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: 'one-stream@example.com', max_concurrent_streams: 1 },
    });
    expect(issued.status).toBe(201);
    const headers = { 'X-API-Key': issued.body.api_key as string };
    const stream = () =>
      postSse(app.url, `${V1}/code/generate/stream`, { prompt: 'Stream it', cache: false }, { headers });
    expect((await stream()).status).toBe(200); // the key is verified and its preferences loaded before the freeze

    redis.process.kill('SIGSTOP');
    try {
      // The acquire times out and the stream runs on an in-process slot, released when it ends...
      const during = await stream();
      expect([during.status, during.frames.at(-2)?.data?.type]).toEqual([200, 'done']);
    } finally {
      redis.process.kill('SIGCONT');
    }
    // ...but Redis still runs the acquire it had queued once it wakes up.
    await waitFor(async () => (await app.request('GET', '/health')).body.services.redis === 'connected', 10_000);

    const after = await stream();
    expect([after.status, after.body?.error_code]).toEqual([200, undefined]);
  });

  it('should give back a slot released while the breaker is open once Redis answers again', async () => {
    const { app, redis, emu } = env;
    const issued = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: 'one-stream-release@example.com', max_concurrent_streams: 1 },
    });
    const headers = { 'X-API-Key': issued.body.api_key as string };
    const body = { prompt: 'Stream it slowly', cache: false, max_tokens: 20 };
    expect((await postSse(app.url, `${V1}/code/generate/stream`, body, { headers })).status).toBe(200);

    emu.configure({ tokenDelayMs: 50 });
    let frozen: Promise<unknown> | undefined;
    try {
      // The slot is taken in Redis; Redis freezes mid-stream and the key's own reads open the breaker
      // before the stream ends.
      const during = await postSse(app.url, `${V1}/code/generate/stream`, body, {
        headers,
        onFrame: (f) => {
          if (f.data?.type !== 'token' || frozen) return;
          redis.process.kill('SIGSTOP');
          frozen = Promise.all([1, 2, 3].map(() => app.request('GET', `${V1}/users/me`, { headers })));
        },
      });
      expect(during.frames.at(-2)?.data?.type).toBe('done');
      await frozen;
      expect(app.logs.some((l) => l.includes('redis circuit open'))).toBe(true);
    } finally {
      redis.process.kill('SIGCONT');
      emu.configure({ tokenDelayMs: 0 });
    }
    await waitFor(async () => (await app.request('GET', '/health')).body.services.redis === 'connected', 10_000);

    const after = await postSse(app.url, `${V1}/code/generate/stream`, body, { headers });
    expect([after.status, after.body?.error_code]).toEqual([200, undefined]);
  });
});
