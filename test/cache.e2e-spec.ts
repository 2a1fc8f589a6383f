import { Body, Controller, Delete, Get, Module, Param, Put } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { ProfileCache } from '../src/cache/profile-cache';
import { CacheModule } from '../src/cache/cache.module';
import { ModelServerEmulator } from '../emulator/emulator';
import { postSse, SseResponse, streamedText } from './support/sse-client';
import { startRedisServer, ThrowawayRedis } from './support/processes';
import { startTestApp, TestApp } from './support/test-app';
import { TEST_REDIS_URL } from './support/test-env';

const GENERATE = '/api/v1/code/generate';
const STREAM = '/api/v1/code/generate/stream';
const COMPLETE = '/api/v1/code/complete';
const CLEAR = '/api/v1/cache/clear';
const STATS = '/api/v1/cache/stats';

// Test-only routes over the ProfileCache hook the users module will use.
@Controller('probe-profile')
class ProfileProbeController {
  constructor(private readonly profiles: ProfileCache) {}
  @Get(':id') async get(@Param('id') id: string) {
    return { profile: (await this.profiles.get(id)) ?? null };
  }
  @Put(':id') async set(@Param('id') id: string, @Body() body: Record<string, unknown>) {
    await this.profiles.set(id, body);
    return { ok: true };
  }
  @Delete(':id') async invalidate(@Param('id') id: string) {
    await this.profiles.invalidate(id);
    return { ok: true };
  }
}
@Module({ imports: [CacheModule], controllers: [ProfileProbeController] })
class ProfileProbeModule {}

let seq = 0;
/** A prompt no other test sends (the cache is shared by every test of a suite). */
const fresh = (what = 'reverses a list') => `Write a function that ${what} (case ${++seq})`;

const tokenEvents = (r: SseResponse) => r.frames.filter((f) => f.data?.type === 'token');
const startEvent = (r: SseResponse) => r.frames[0].data;
const doneEvent = (r: SseResponse) => r.frames.at(-2)!.data;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function metric(app: TestApp, series: string): Promise<number> {
  const text = (await app.request('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('response cache on Redis', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  let redis: ReturnType<typeof createClient>;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({ extraModules: [ProfileProbeModule], env: { VLLM_SERVER_URL: await emu.listen() } });
    redis = createClient({ url: TEST_REDIS_URL });
    await redis.connect();
  });
  afterAll(async () => {
    await redis?.close();
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  const requests = () => emu.stats().requests;

  it('should answer a repeated one-shot request from the cache under a prefixed key', async () => {
    const body = { prompt: fresh(), max_tokens: 200 };
    const first = await app.request('POST', GENERATE, { body });
    expect(first.status).toBe(200);
    expect(first.body.cached).toBe(false);
    expect(requests()).toBe(1);
    const second = await app.request('POST', GENERATE, { body });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      cached: true,
      success: true,
      generated_code: first.body.generated_code,
      explanation: first.body.explanation,
      token_usage: first.body.token_usage,
      model_used: 'prompt',
    });
    expect(second.body.request_id).not.toBe(first.body.request_id);
    expect(second.body.completion_id).not.toBe(first.body.completion_id);
    expect(requests()).toBe(1);
    // a different sampling parameter is a different upstream request
    const other = await app.request('POST', GENERATE, { body: { ...body, max_tokens: 201 } });
    expect(other.body.cached).toBe(false);
    expect(requests()).toBe(2);
    const keys = await redis.keys(`${app.redisPrefix}cache:code_generation:*`);
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k).toMatch(/:code_generation:[0-9a-f]{64}$/);
    const ttl = await redis.pTTL(keys[0]);
    expect(ttl).toBeGreaterThan(1790_000);
    expect(ttl).toBeLessThanOrEqual(1800_000);
  });

  it('should replay a cached stream in the same wire format with the original token deltas', async () => {
    const body = { prompt: fresh('sums a list of numbers'), max_tokens: 300 };
    const live = await postSse(app.url, STREAM, body);
    const replay = await postSse(app.url, STREAM, body);
    expect(requests()).toBe(1);
    for (const [r, cached] of [
      [live, false],
      [replay, true],
    ] as const) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/event-stream');
      expect(startEvent(r)).toMatchObject({ type: 'start', sequence: 0, is_complete: false, cached });
      expect(doneEvent(r)).toMatchObject({ type: 'done', is_complete: true, cached });
      expect(r.frames.at(-1)!.data).toBe('[DONE]');
      const seqs = r.frames.slice(0, -1).map((f) => f.data.sequence as number);
      seqs.forEach((s, i) => expect(s).toBe(i));
      expect(r.text).not.toMatch(/^(event|id|retry):|^:/m);
    }
    expect(tokenEvents(live).length).toBeGreaterThan(5);
    expect(tokenEvents(replay).map((f) => f.data.content)).toEqual(tokenEvents(live).map((f) => f.data.content));
    expect(tokenEvents(replay).map((f) => f.data.text)).toEqual(tokenEvents(live).map((f) => f.data.content));
    expect(doneEvent(replay).token_usage).toEqual(doneEvent(live).token_usage);
    expect(startEvent(replay).request_id).not.toBe(startEvent(live).request_id);
    // the one-shot route shares the entry: same upstream request
    const oneShot = await app.request('POST', GENERATE, { body });
    expect(oneShot.body.cached).toBe(true);
    expect(streamedText(live.frames)).toContain(oneShot.body.generated_code);
    expect(requests()).toBe(1);
  });

  it('should cache /code/complete', async () => {
    const body = { prefix: `# ${fresh()}\ndef add(a, b`, suffix: '\n\nprint(add(1, 2))\n' };
    const first = await app.request('POST', COMPLETE, { body });
    const second = await app.request('POST', COMPLETE, { body });
    expect(first.body.cached).toBe(false);
    expect(second.status).toBe(200);
    expect(second.body.cached).toBe(true);
    expect(second.body.completions).toEqual(first.body.completions);
    expect(requests()).toBe(1);
    const optOut = await app.request('POST', COMPLETE, { body: { ...body, cache: false } });
    expect(optOut.body.cached).toBe(false);
    expect(requests()).toBe(2);
  });

  it('should neither read nor write the cache for a request that opts out', async () => {
    const body = { prompt: fresh() };
    const a = await app.request('POST', GENERATE, { body: { ...body, cache: false } });
    const b = await app.request('POST', GENERATE, { body: { ...body, cache: false } });
    expect([a.body.cached, b.body.cached]).toEqual([false, false]);
    expect(requests()).toBe(2);
    const c = await app.request('POST', GENERATE, { body }); // nothing stored by the opted-out ones
    expect(c.body.cached).toBe(false);
    expect(requests()).toBe(3);
    const d = await app.request('POST', GENERATE, { body: { ...body, cache: false } }); // not read either
    expect(d.body.cached).toBe(false);
    expect(requests()).toBe(4);
    const wrong = await app.request('POST', GENERATE, { body: { ...body, cache: 'no' } });
    expect(wrong.body.error_code).toBe('E4006');
  });

  it('should not cache requests sampled above CACHE_MAX_TEMPERATURE', async () => {
    const hot = { prompt: fresh(), temperature: 0.9 };
    await app.request('POST', GENERATE, { body: hot });
    const again = await app.request('POST', GENERATE, { body: hot });
    expect(again.body.cached).toBe(false);
    const hotStream = await postSse(app.url, STREAM, hot);
    expect(startEvent(hotStream).cached).toBe(false);
    expect(requests()).toBe(3);
    const edge = { prompt: fresh(), temperature: 0.5 };
    await app.request('POST', GENERATE, { body: edge });
    expect((await app.request('POST', GENERATE, { body: edge })).body.cached).toBe(true);
    expect(requests()).toBe(4);
  });

  it('should never cache errors, nor a stream that ended in an in-band error', async () => {
    const stored = async () => (await redis.keys(`${app.redisPrefix}cache:code_generation:*`)).length;
    const storedBefore = await stored();
    const failing = { prompt: fresh() + ' [[fault:http-500]]' };
    expect((await app.request('POST', GENERATE, { body: failing })).status).toBe(502);
    expect((await app.request('POST', GENERATE, { body: failing })).status).toBe(502);
    expect(requests()).toBe(2);
    const cut = { prompt: fresh('counts words') + ' [[fault:cut-mid-stream]]' };
    for (let i = 0; i < 2; i++) {
      const r = await postSse(app.url, STREAM, cut);
      expect(doneEvent(r)).toMatchObject({ type: 'error', error_code: 'E5007' });
      expect(tokenEvents(r).length).toBeGreaterThan(0);
    }
    expect(requests()).toBe(4);
    await sleep(50);
    expect(await stored()).toBe(storedBefore);
  });

  it('should share one upstream generation between identical one-shot requests in flight', async () => {
    emu.configure({ tokenDelayMs: 5 });
    const body = { prompt: fresh('reverses words in a sentence'), max_tokens: 60 };
    const before = requests();
    const answers = await Promise.all(Array.from({ length: 5 }, () => app.request('POST', GENERATE, { body })));
    expect(requests() - before).toBe(1);
    for (const a of answers) expect(a.body.generated_code).toBe(answers[0].body.generated_code);
    expect(answers.filter((a) => !a.body.cached)).toHaveLength(1);
  });

  it('should share one streaming generation between streams and the one-shot requests that join it', async () => {
    emu.configure({ tokenDelayMs: 10 });
    const body = { prompt: fresh('merges two sorted lists'), max_tokens: 120 };
    const statsBefore = (await app.request('GET', STATS)).body.by_type.code_generation;
    const streams = Array.from({ length: 3 }, () => postSse(app.url, STREAM, body));
    // one-shot requests arriving while the stream is generating join it (a stream never waits on a one-shot answer)
    while (emu.stats().inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const oneShots = Array.from({ length: 5 }, () => app.request('POST', GENERATE, { body }));
    const [answers, streamed] = await Promise.all([Promise.all(oneShots), Promise.all(streams)]);
    expect(requests()).toBe(1);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.generated_code).toBe(answers[0].body.generated_code);
      expect(a.body.cached).toBe(true);
    }
    const text = streamedText(streamed[0].frames);
    expect(text).toContain(answers[0].body.generated_code);
    const requestIds = new Set<string>();
    for (const s of streamed) {
      expect(streamedText(s.frames)).toBe(text);
      expect(doneEvent(s)).toMatchObject({ type: 'done', token_usage: answers[0].body.token_usage });
      const seqs = s.frames.slice(0, -1).map((f) => f.data.sequence as number);
      seqs.forEach((n, i) => expect(n).toBe(i));
      requestIds.add(startEvent(s).request_id);
    }
    expect(requestIds.size).toBe(3);
    const statsAfter = (await app.request('GET', STATS)).body.by_type.code_generation;
    expect(statsAfter.misses - statsBefore.misses).toBe(1);
    expect(statsAfter.hits - statsBefore.hits).toBe(7);
    expect(statsAfter.coalesced - statsBefore.coalesced).toBe(7);
  });

  it('should keep a shared stream going for the client that stays when the other leaves', async () => {
    emu.configure({ tokenDelayMs: 15, padToMaxTokens: true });
    const body = { prompt: fresh('parses a date'), max_tokens: 60 };
    const ctl = new AbortController();
    let tokensSeen = 0;
    let joined = false;
    // leaves after the second client has joined the generation mid-way
    const leaving = postSse(app.url, STREAM, body, {
      signal: ctl.signal,
      onFrame: (f) => {
        if (f.data?.type === 'token') tokensSeen++;
        if (joined && !ctl.signal.aborted) ctl.abort();
      },
    });
    await waitFor('the first tokens', () => tokensSeen >= 2);
    const staying = postSse(app.url, STREAM, body, {
      onFrame: () => {
        joined = true;
      },
    });
    await leaving;
    expect(ctl.signal.aborted).toBe(true);
    const kept = await staying;
    expect(doneEvent(kept)).toMatchObject({ type: 'done', cached: true });
    expect(doneEvent(kept).token_usage.completion_tokens).toBe(60);
    expect(requests()).toBe(1);
    expect(emu.stats().disconnects).toBe(0);
    // the whole answer was kept: a replay has exactly the same tokens
    const replay = await postSse(app.url, STREAM, body);
    expect(startEvent(replay).cached).toBe(true);
    expect(streamedText(replay.frames)).toBe(streamedText(kept.frames));
    expect(tokenEvents(replay).length).toBe(tokenEvents(kept).length);
    expect(requests()).toBe(1);
  });

  it('should abort the shared upstream request when every waiting client has left', async () => {
    emu.configure({ tokenDelayMs: 20, padToMaxTokens: true });
    const body = { prompt: fresh('sorts a list'), max_tokens: 2000 };
    const clients = [new AbortController(), new AbortController(), new AbortController()];
    const oneShot = fetch(app.url + GENERATE, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: clients[2].signal,
    }).catch(() => undefined);
    const streams = clients.slice(0, 2).map((ctl) =>
      postSse(app.url, STREAM, body, {
        signal: ctl.signal,
        onFrame: (f) => {
          if (f.data?.type === 'token') ctl.abort();
        },
      }),
    );
    await Promise.all(streams);
    expect(emu.stats().disconnects).toBe(0); // the one-shot client still waits
    clients[2].abort();
    await oneShot;
    await waitFor('the upstream disconnect', () => emu.stats().disconnects === 1, 2000);
    expect(requests()).toBe(1);
    // nothing was stored: the next request goes upstream again
    emu.configure({ tokenDelayMs: 0, padToMaxTokens: false });
    const again = await app.request('POST', GENERATE, { body: { ...body } });
    expect(again.body.cached).toBe(false);
    expect(requests()).toBe(2);
  });

  it('should count hits and misses equal to the traffic sent, in stats and Prometheus', async () => {
    const before = (await app.request('GET', STATS)).body;
    const hitsBefore = await metric(app, 'hapa_cache_hits_total{cache_type="code_generation"}');
    const missesBefore = await metric(app, 'hapa_cache_misses_total{cache_type="code_generation"}');
    const a = { prompt: fresh() };
    const b = { prompt: fresh() };
    await app.request('POST', GENERATE, { body: a }); // miss
    await app.request('POST', GENERATE, { body: a }); // hit
    await postSse(app.url, STREAM, a); // hit
    await postSse(app.url, STREAM, b); // miss
    await app.request('POST', GENERATE, { body: b }); // hit
    await app.request('POST', GENERATE, { body: { ...b, cache: false } }); // bypass: neither
    const after = (await app.request('GET', STATS)).body;
    const cg = after.by_type.code_generation;
    expect(cg.hits - before.by_type.code_generation.hits).toBe(3);
    expect(cg.misses - before.by_type.code_generation.misses).toBe(2);
    expect(after).toMatchObject({
      backend: 'redis',
      available: true,
      enabled: true,
      ttl_seconds: 1800,
      max_size: null,
    });
    expect(after.hit_rate).toBeCloseTo(after.hits / (after.hits + after.misses), 3);
    expect(cg.entries).toBe((await redis.keys(`${app.redisPrefix}cache:code_generation:*`)).length);
    expect(cg.entries).toBeGreaterThanOrEqual(2);
    expect(await metric(app, 'hapa_cache_hits_total{cache_type="code_generation"}')).toBe(hitsBefore + 3);
    expect(await metric(app, 'hapa_cache_misses_total{cache_type="code_generation"}')).toBe(missesBefore + 2);
  });

  it('should record cache hits in usage analytics with cached = true', async () => {
    const body = { prompt: fresh() };
    const miss = await app.request('POST', GENERATE, { body });
    const hit = await app.request('POST', GENERATE, { body });
    const replay = await postSse(app.url, STREAM, body);
    const ids = [doneEvent(replay).completion_id, hit.body.completion_id, miss.body.completion_id];
    const rows = await waitFor('usage events', async () => {
      const r = await app.db!.query<{
        completion_id: string;
        cached: boolean;
        stream: boolean;
        prompt_tokens: number | null;
      }>(`SELECT completion_id, cached, stream, prompt_tokens FROM usage_events WHERE completion_id = ANY($1)`, [ids]);
      return r.length === 3 ? ids.map((id) => r.find((x) => x.completion_id === id)!) : undefined;
    });
    expect(hit.body.cached).toBe(true);
    expect(rows.map((r) => [r.cached, r.stream])).toEqual([
      [true, true],
      [true, false],
      [false, false],
    ]);
    expect(rows[2].prompt_tokens).toBeGreaterThan(0);
    expect(rows[0].prompt_tokens).toBeNull(); // a hit spent no model tokens
  });

  it('should require confirm and clear only the chosen type of this deployment', async () => {
    const foreign = `hapa-test:other-${Date.now()}:`;
    await redis.set(`${foreign}cache:code_generation:abc`, '{}');
    await redis.set(`${app.redisPrefix}ratelimit:keep`, '1');
    const body = { prompt: fresh() };
    await app.request('POST', GENERATE, { body });
    await app.request('PUT', '/api/v1/probe-profile/u1', { body: { pythonSkillLevel: 'expert' } });
    try {
      const missing = await app.request('DELETE', CLEAR, { body: { cache_type: 'all' } });
      expect(missing.status).toBe(422);
      expect(missing.body.error_code).toBe('E4002');
      const notTrue = await app.request('DELETE', CLEAR, { body: { cache_type: 'all', confirm: false } });
      expect(notTrue.status).toBe(422);
      expect(notTrue.body.error_code).toBe('E4006');
      const badType = await app.request('DELETE', CLEAR, { body: { cache_type: 'sessions', confirm: true } });
      expect(badType.body.error_code).toBe('E4006');
      expect((await app.request('POST', GENERATE, { body })).body.cached).toBe(true);

      const cg = await app.request('DELETE', CLEAR, { body: { cache_type: 'code_generation', confirm: true } });
      expect(cg.status).toBe(200);
      expect(cg.body).toMatchObject({ success: true, cleared: ['code_generation'] });
      expect(cg.body.deleted_entries).toBeGreaterThanOrEqual(1);
      expect(await redis.keys(`${app.redisPrefix}cache:code_generation:*`)).toEqual([]);
      // The probe's profile and the stored preferences of the harness user, read by every generation.
      expect(await redis.keys(`${app.redisPrefix}cache:user_profiles:*`)).toHaveLength(2);
      expect(await redis.exists(`${app.redisPrefix}cache:user_profiles:u1`)).toBe(1);
      expect((await app.request('POST', GENERATE, { body })).body.cached).toBe(false);
      expect((await app.request('GET', STATS)).body.by_type.user_profiles.entries).toBe(2);

      const profiles = await app.request('DELETE', CLEAR, { body: { cache_type: 'user_profiles', confirm: true } });
      expect(profiles.body).toMatchObject({ cleared: ['user_profiles'], deleted_entries: 2 });
      expect((await app.request('GET', '/api/v1/probe-profile/u1')).body.profile).toBeNull();
      expect(await redis.keys(`${app.redisPrefix}cache:code_generation:*`)).toHaveLength(1);

      const all = await app.request('DELETE', CLEAR, { body: { cache_type: 'all', confirm: true } });
      expect(all.body).toMatchObject({ cleared: ['code_generation', 'user_profiles'], deleted_entries: 1 });
      expect(await redis.keys(`${app.redisPrefix}cache:*`)).toEqual([]);
      expect(await redis.get(`${foreign}cache:code_generation:abc`)).toBe('{}');
      expect(await redis.get(`${app.redisPrefix}ratelimit:keep`)).toBe('1');
    } finally {
      await redis.del([`${foreign}cache:code_generation:abc`, `${app.redisPrefix}ratelimit:keep`]);
    }
  });

  it('should cache user profiles for the users module and invalidate them', async () => {
    const before = (await app.request('GET', STATS)).body.by_type.user_profiles;
    expect((await app.request('GET', '/api/v1/probe-profile/u7')).body.profile).toBeNull(); // miss
    await app.request('PUT', '/api/v1/probe-profile/u7', { body: { pythonSkillLevel: 'beginner' } });
    expect((await app.request('GET', '/api/v1/probe-profile/u7')).body.profile).toEqual({
      pythonSkillLevel: 'beginner',
    }); // hit
    expect(await redis.pTTL(`${app.redisPrefix}cache:user_profiles:u7`)).toBeGreaterThan(1790_000);
    await app.request('DELETE', '/api/v1/probe-profile/u7');
    expect((await app.request('GET', '/api/v1/probe-profile/u7')).body.profile).toBeNull(); // miss
    expect(await redis.exists(`${app.redisPrefix}cache:user_profiles:u7`)).toBe(0);
    const after = (await app.request('GET', STATS)).body.by_type.user_profiles;
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(2);
  });
});

describe('response cache in process (no Redis)', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({
      redis: false,
      extraModules: [ProfileProbeModule],
      // 4: three answers plus the harness user's stored preferences, which every generation reads.
      env: { VLLM_SERVER_URL: await emu.listen(), MAX_CACHE_SIZE: '4', CACHE_TTL: '60' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  it('should keep at most MAX_CACHE_SIZE entries, evicting the least recently used', async () => {
    const prompts = Array.from({ length: 5 }, () => ({ prompt: fresh() }));
    for (const body of prompts) await app.request('POST', GENERATE, { body });
    expect(emu.stats().requests).toBe(5);
    const stats = (await app.request('GET', STATS)).body;
    expect(stats).toMatchObject({ backend: 'memory', max_size: 4, ttl_seconds: 60 });
    expect(stats.by_type.user_profiles.entries).toBe(1);
    expect(stats.by_type.code_generation.entries).toBe(3);
    expect((await app.request('POST', GENERATE, { body: prompts[4] })).body.cached).toBe(true);
    expect((await app.request('POST', GENERATE, { body: prompts[2] })).body.cached).toBe(true);
    expect((await app.request('POST', GENERATE, { body: prompts[0] })).body.cached).toBe(false); // evicted
    expect(emu.stats().requests).toBe(6);
    // a stream replays from the in-process store too
    const replay = await postSse(app.url, STREAM, prompts[4]);
    expect(startEvent(replay)).toMatchObject({ type: 'start', cached: true });
    expect(emu.stats().requests).toBe(6);
  });

  it('should clear the in-process store by type', async () => {
    await app.request('PUT', '/api/v1/probe-profile/u1', { body: { a: 1 } });
    // MAX_CACHE_SIZE bounds the whole store: the profile took the least recently used answer's place
    const r = await app.request('DELETE', CLEAR, { body: { cache_type: 'code_generation', confirm: true } });
    expect(r.body.deleted_entries).toBe(2);
    const stats = (await app.request('GET', STATS)).body;
    expect(stats.by_type.code_generation.entries).toBe(0);
    expect(stats.by_type.user_profiles.entries).toBe(2); // the probe's and the harness user's
  });
});

describe('response cache when Redis goes away', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  let redisServer: ThrowawayRedis;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    emu = new ModelServerEmulator();
    app = await startTestApp({ env: { VLLM_SERVER_URL: await emu.listen(), REDIS_URL: redisServer.url } });
  });
  afterAll(async () => {
    redisServer.kill();
    await app?.close();
    await emu?.close();
  });

  it('should serve uncached, report one E5002 per outage and show redis down', async () => {
    const body = { prompt: fresh() };
    await app.request('POST', GENERATE, { body });
    expect((await app.request('POST', GENERATE, { body })).body.cached).toBe(true);
    expect(emu.stats().requests).toBe(1);

    const exited = new Promise((r) => redisServer.process.once('exit', r));
    redisServer.kill();
    await exited;

    for (let i = 0; i < 3; i++) {
      const r = await app.request('POST', GENERATE, { body });
      expect(r.status).toBe(200);
      expect(r.body.cached).toBe(false);
    }
    const stream = await postSse(app.url, STREAM, body);
    expect(startEvent(stream).cached).toBe(false);
    expect(doneEvent(stream).type).toBe('done');
    const complete = await app.request('POST', COMPLETE, { body: { prefix: 'def f(' } });
    expect(complete.status).toBe(200);
    expect(emu.stats().requests).toBe(6);

    const health = await app.request('GET', '/health');
    expect(health.body.services.redis).toBe('disconnected');
    const stats = await app.request('GET', STATS);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ available: false });
    expect(stats.body.by_type.code_generation.entries).toBeNull();
    const clear = await app.request('DELETE', CLEAR, { body: { cache_type: 'all', confirm: true } });
    expect(clear.status).toBe(503);
    expect(clear.body.error_code).toBe('E5002');

    const reported = () =>
      app.db!.query<{ n: number }>(
        `SELECT coalesce(sum(count), 0)::int AS n FROM error_counts WHERE error_code = 'E5002' AND route = 'internal:cache'`,
      );
    await waitFor('the E5002 report', async () => ((await reported())[0].n >= 1 ? true : undefined));
    await sleep(1500); // one more flush interval: nothing else arrives
    expect((await reported())[0].n).toBe(1);
    const [event] = await app.db!.query<{ status: number; route: string }>(
      `SELECT status, route FROM error_events WHERE error_code = 'E5002' AND route = 'internal:cache'`,
    );
    expect(event).toMatchObject({ status: 503, route: 'internal:cache' });
  });
});
