import { Controller, Get, Module, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnalyticsService } from '../src/analytics/analytics.service';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { AppException } from '../src/common/errors/app.exception';
import { ErrorCode } from '../src/common/errors/error-codes';
import { AppRequest } from '../src/common/http/app-request';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { annotateUsage } from '../src/common/ports/usage-annotation';
import { createTestDatabase, startTestApp, TestApp } from './support/test-app';

// Stands in for the model routes: sets the caller (as the auth guard will) and the usage annotation.
@Controller('probe')
class ModelProbeController {
  @Get('model')
  model(@Req() req: AppRequest, @Res({ passthrough: true }) res: Response, @Query() q: Record<string, string>) {
    if (q.user) req.principal = { userId: q.user, apiKeyId: q.key, permissions: [], via: 'api_key' };
    annotateUsage(res, {
      adapter: q.adapter,
      promptTokens: Number(q.in),
      completionTokens: Number(q.out),
      ttftMs: q.ttft ? Number(q.ttft) : undefined,
      upstreamMs: q.upstream ? Number(q.upstream) : undefined,
      cached: q.cached === undefined ? undefined : q.cached === 'true',
      completionId: q.cid,
    });
    return { ok: true };
  }
  @Get('plain') plain(@Req() req: AppRequest, @Query('user') user?: string) {
    if (user) req.principal = { userId: user, apiKeyId: `key-of-${user}`, permissions: [], via: 'api_key' };
    return { ok: true };
  }
  @Get('fail') fail(): never {
    throw new AppException(ErrorCode.E5005);
  }
  @Get('slow') async slow() {
    await sleep(300);
    return { ok: true };
  }
}
@Module({ controllers: [ModelProbeController] })
class ModelProbeModule {}

// Credentials for the ops routes once the identity work has landed (the guard is written in parallel).
const AUTH: Record<string, string> = {};

const settle = async (app: TestApp) => {
  // Usage is recorded on 'close', which can trail the client's reading of the body.
  const lifecycle = app.server.app.get(ServerLifecycle);
  while (lifecycle.activeRequests > 0) await sleep(5);
  await app.server.app.get(UsageRecorder).flush();
};

const metricValue = async (app: TestApp, series: string): Promise<number> => {
  const text = (await app.request('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
};

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;

describe('analytics', () => {
  let app: TestApp;
  let sent = 0;
  const send = async (method: string, path: string, body?: unknown) => {
    sent++;
    return app.request(method, path, { body, headers: AUTH });
  };

  beforeAll(async () => {
    app = await startTestApp({ extraModules: [ModelProbeModule], redis: false });
  });
  afterAll(() => app?.close());

  // 3 generations for u1/k1 (cache misses), 2 cached autocompletions for u2/k2, 1 plain u1 request, 1 failure.
  const traffic = async () => {
    for (let i = 0; i < 3; i++) {
      await send(
        'GET',
        `/api/v1/probe/model?user=u1&key=k1&adapter=code_generation&in=10&out=20&ttft=100&upstream=150&cached=false&cid=c${i}`,
      );
    }
    for (let i = 0; i < 2; i++) {
      await send('GET', '/api/v1/probe/model?user=u2&key=k2&adapter=autocomplete&in=5&out=7&ttft=10&cached=true');
    }
    await send('GET', '/api/v1/probe/plain?user=u1');
    expect((await send('GET', '/api/v1/probe/fail')).status).toBe(503);
    // Not recorded:
    await app.request('GET', '/health');
    await app.request('GET', '/health/live');
    await app.request('GET', '/api/v1/health');
    await app.request('GET', '/metrics');
  };

  it('should store one usage event per request, excluding /health and /metrics, with the annotation', async () => {
    const tokensBefore = await metricValue(
      app,
      'hapa_ai_tokens_used_total{adapter="code_generation",direction="input"}',
    );
    const outBefore = await metricValue(app, 'hapa_ai_tokens_used_total{adapter="autocomplete",direction="output"}');
    const ttftBefore = await metricValue(app, 'hapa_ai_time_to_first_token_seconds_count');
    const overheadBefore = await metricValue(app, 'hapa_gateway_overhead_seconds_count');
    await traffic();
    await settle(app);
    const rows = await app.db!.query<Record<string, unknown>>(
      `SELECT route, status, user_id, api_key_id, adapter, prompt_tokens, completion_tokens, ttft_ms, upstream_ms, cached,
              completion_id, latency_ms FROM usage_events ORDER BY id`,
    );
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({
      route: '/api/v1/probe/model',
      status: 200,
      user_id: 'u1',
      api_key_id: 'k1',
      adapter: 'code_generation',
      prompt_tokens: 10,
      completion_tokens: 20,
      ttft_ms: 100,
      upstream_ms: 150,
      cached: false,
      completion_id: 'c0',
    });
    expect(rows[6]).toMatchObject({ route: '/api/v1/probe/fail', status: 503, adapter: null, user_id: null });
    expect(rows.every((r) => typeof r.latency_ms === 'number' && r.latency_ms > 0)).toBe(true);

    expect(await metricValue(app, 'hapa_ai_tokens_used_total{adapter="code_generation",direction="input"}')).toBe(
      tokensBefore + 30,
    );
    expect(await metricValue(app, 'hapa_ai_tokens_used_total{adapter="autocomplete",direction="output"}')).toBe(
      outBefore + 14,
    );
    expect(await metricValue(app, 'hapa_ai_time_to_first_token_seconds_count')).toBe(ttftBefore + 5);
    expect(await metricValue(app, 'hapa_gateway_overhead_seconds_count')).toBe(overheadBefore + 3);
  });

  it('should report performance in the seeds shape with figures equal to the traffic', async () => {
    await settle(app);
    const total = sent;
    const res = await send('GET', '/api/v1/analytics/performance?period=1h');
    expect(res.status).toBe(200);
    const tokens = 3 * 30 + 2 * 12;
    expect(res.body).toMatchObject({
      period: '1h',
      total_requests: total,
      requests_per_minute: round(total / 60, 4),
      cache_hit_rate: 0.4,
      error_rate: round(1 / total, 4),
      ai_model_usage: {
        total_tokens: tokens,
        prompt_tokens: 40,
        completion_tokens: 74,
        avg_tokens_per_request: round(tokens / 5, 2),
        model_requests: 5,
      },
      time_to_first_token: { avg_ms: 64, p50_ms: 100, p95_ms: 100, p99_ms: 100 },
    });
    expect(res.body.avg_response_time).toBeGreaterThan(0);
    const { p50_ms, p95_ms, p99_ms, avg_ms } = res.body.latency;
    expect(avg_ms).toBe(res.body.avg_response_time);
    expect(p50_ms).toBeGreaterThan(0);
    expect(p95_ms).toBeGreaterThanOrEqual(p50_ms);
    expect(p99_ms).toBeGreaterThanOrEqual(p95_ms);
    expect((await send('GET', '/api/v1/analytics/performance?period=1y')).status).toBe(422);
  });

  it('should group usage by key, user, adapter and day', async () => {
    await settle(app);
    const byKey = await send('GET', '/api/v1/analytics/usage?group_by=key&period=24h');
    expect(byKey.status).toBe(200);
    expect(byKey.body.group_by).toBe('key');
    const k1 = byKey.body.items.find((i: { key: string }) => i.key === 'k1');
    const k2 = byKey.body.items.find((i: { key: string }) => i.key === 'k2');
    expect(k1).toMatchObject({
      requests: 3,
      prompt_tokens: 30,
      completion_tokens: 60,
      total_tokens: 90,
      cache_hits: 0,
      errors: 0,
    });
    expect(k2).toMatchObject({
      requests: 2,
      prompt_tokens: 10,
      completion_tokens: 14,
      total_tokens: 24,
      cache_hits: 2,
    });

    const byUser = await send('GET', '/api/v1/analytics/usage?group_by=user');
    expect(byUser.body.items.find((i: { key: string }) => i.key === 'u1')).toMatchObject({
      requests: 4,
      total_tokens: 90,
    });

    const byAdapter = await send('GET', '/api/v1/analytics/usage?group_by=adapter');
    const adapters = Object.fromEntries(
      byAdapter.body.items.map((i: { key: string; requests: number }) => [i.key, i.requests]),
    );
    expect(adapters).toMatchObject({ code_generation: 3, autocomplete: 2 });

    await settle(app);
    const expected = sent;
    const byDay = await send('GET', '/api/v1/analytics/usage?group_by=day');
    expect(byDay.body.items).toEqual([
      expect.objectContaining({ key: new Date().toISOString().slice(0, 10), requests: expected, errors: 2 }),
    ]);
    expect((await send('GET', '/api/v1/analytics/usage?group_by=planet')).status).toBe(422);
  });

  it('should record completion telemetry and show the acceptance rate per day on the dashboard', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await send('POST', '/api/v1/analytics/events', {
        type: 'view',
        completion_id: `c${i}`,
        language: 'python',
      });
      expect(res.status).toBe(202);
    }
    await send('POST', '/api/v1/analytics/events', { type: 'select', completion_id: 'c1', elapsed_ms: 800 });
    await send('POST', '/api/v1/analytics/events', { type: 'dismiss', completion_id: 'c2' });
    const bad = await send('POST', '/api/v1/analytics/events', { type: 'click', completion_id: 'c3' });
    expect(bad.status).toBe(422);
    const missing = await send('POST', '/api/v1/analytics/events', { type: 'view' });
    expect(missing.status).toBe(422);
    expect(missing.body.error_code).toBe('E4002');
    await settle(app);
    expect(await app.db!.query(`SELECT type FROM completion_events ORDER BY id`)).toHaveLength(6);

    const total = sent;
    const res = await send('GET', '/api/v1/analytics/dashboard?period=24h');
    expect(res.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(res.body).toMatchObject({
      period: '24h',
      traffic: { total_requests: total, error_responses: 5 }, // the 503 and four 422s
      cache: { hits: 2, misses: 3, hit_rate: 0.4 },
      ai_model_usage: { total_tokens: 114, model_requests: 5 },
      completions: {
        views: 4,
        selects: 1,
        dismisses: 1,
        acceptance_rate: 0.25,
        by_day: [{ day: today, views: 4, selects: 1, dismisses: 1, acceptance_rate: 0.25 }],
      },
    });
    expect(res.body.errors).toEqual({ total: 5, rate: round(5 / total, 4) });
    expect(res.body.traffic.by_day).toEqual([expect.objectContaining({ key: today, requests: total })]);
    // The ops calls themselves are authenticated with the harness's key (most requests of all).
    const [harness] = await app.db!.query<{ id: string; user_id: string }>(
      `SELECT id, user_id FROM api_keys WHERE name = 'test harness'`,
    );
    expect(res.body.top_users.map((u: { key: string }) => u.key)).toEqual([harness.user_id, 'u1', 'u2']);
    const topKeys = res.body.top_keys.map((k: { key: string; requests: number }) => [k.key, k.requests]);
    expect(topKeys[0][0]).toBe(harness.id);
    expect(topKeys.slice(1)).toEqual([
      ['k1', 3],
      ['k2', 2],
      ['key-of-u1', 1],
    ]);
    expect(res.body.adapters.map((a: { key: string; requests: number }) => [a.key, a.requests])).toEqual([
      ['code_generation', 3],
      ['autocomplete', 2],
    ]);
    expect(res.body.traffic.top_routes[0]).toMatchObject({ key: '/api/v1/analytics/events', requests: 8 });
    expect(res.body.traffic.top_routes).toContainEqual(
      expect.objectContaining({ key: '/api/v1/probe/model', requests: 5, total_tokens: 114 }),
    );
  });

  it('should delete usage older than ANALYTICS_RETENTION_DAYS when the retention job runs', async () => {
    const old = new Date(Date.now() - 91 * 86_400_000);
    await app.db!.query(
      `INSERT INTO usage_events (at, method, route, status, latency_ms) VALUES ($1, 'GET', '/old', 200, 1)`,
      [old],
    );
    await app.db!.query(`INSERT INTO completion_events (at, type, completion_id) VALUES ($1, 'view', 'old')`, [old]);
    const deleted = await app.server.app.get(AnalyticsService).purgeExpired();
    expect(deleted).toEqual({ usage: 1, completions: 1 });
    expect(await app.db!.query(`SELECT 1 FROM usage_events WHERE route = '/old'`)).toHaveLength(0);
    expect(await app.db!.query(`SELECT 1 FROM completion_events`)).toHaveLength(6);
  });
});

describe('analytics on graceful shutdown', () => {
  it('should write every request, in-flight ones included, before the database closes', async () => {
    const db = await createTestDatabase();
    try {
      const app = await startTestApp({ database: db, extraModules: [ModelProbeModule], redis: false });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => app.request('GET', `/api/v1/probe/model?adapter=a&in=${i}&out=1&user=u`)),
      );
      const slow = app.request('GET', '/api/v1/probe/slow');
      await sleep(50);
      await app.close(); // drains the slow request, then flushes
      expect((await slow).status).toBe(200);
      const [{ n, tokens }] = await db.query<{ n: number; tokens: number }>(
        `SELECT count(*)::int AS n, coalesce(sum(prompt_tokens), 0)::int AS tokens FROM usage_events`,
      );
      expect(n).toBe(41);
      expect(tokens).toBe((39 * 40) / 2);
    } finally {
      await db.drop();
    }
  });
});

describe('ops routes on embedded PGlite', () => {
  it('should record and report usage and errors the same way', async () => {
    const app = await startTestApp({ embedded: true, extraModules: [ModelProbeModule], redis: false });
    try {
      await app.request('GET', '/api/v1/probe/model?adapter=a&in=3&out=4&ttft=20&cached=false&user=u&key=k');
      await app.request('GET', '/api/v1/probe/fail');
      await app.request('GET', '/api/v1/probe/fail');
      await settle(app);
      const { PersistingErrorReporter } = await import('../src/error-monitoring/persisting-error-reporter');
      await app.server.app.get(PersistingErrorReporter).flush();
      const perf = await app.request('GET', '/api/v1/analytics/performance');
      expect(perf.body).toMatchObject({
        total_requests: 3,
        ai_model_usage: { total_tokens: 7 },
        time_to_first_token: { p50_ms: 20 },
      });
      const dash = await app.request('GET', '/api/v1/analytics/dashboard');
      expect(dash.status).toBe(200);
      const byKey = (await app.request('GET', '/api/v1/analytics/usage?group_by=key')).body.items;
      expect(byKey).toContainEqual(expect.objectContaining({ key: 'k', requests: 1, total_tokens: 7 }));
      const errors = await app.request('GET', '/api/v1/errors/dashboard');
      expect(errors.body).toMatchObject({ total_errors: 2, top_error_codes: [{ code: 'E5005', count: 2 }] });
      expect(errors.body.recent_incidents).toEqual([expect.objectContaining({ error_code: 'E5005', status: 'open' })]);
      const id = errors.body.recent_incidents[0].incident_id;
      const patch = await app.request('PATCH', `/api/v1/error-monitoring/incidents/${id}`, {
        body: { status: 'resolved' },
      });
      expect(patch.body.status).toBe('resolved');
      expect((await app.request('GET', '/api/v1/errors/patterns?period=30d')).body).toMatchObject({ total: 2 });
      expect((await app.request('GET', '/api/v1/error-monitoring/incidents?status=resolved')).body.total).toBe(1);
    } finally {
      await app.close();
    }
  });
});
