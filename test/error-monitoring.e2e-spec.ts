import { Controller, Get, Module, Param, Req } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { ErrorMonitoringAndAnalytics1795363805662 } from '../migrations/1795363805662-ErrorMonitoringAndAnalytics';
import { Agent, fetch as undiciFetch } from 'undici';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { AppException } from '../src/common/errors/app.exception';
import { ErrorCode } from '../src/common/errors/error-codes';
import { AppRequest } from '../src/common/http/app-request';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { ErrorMonitoringService } from '../src/error-monitoring/error-monitoring.service';
import { PersistingErrorReporter } from '../src/error-monitoring/persisting-error-reporter';
import { createTestDatabase, INCIDENT_ID, startTestApp, TestApp, TestDatabase } from './support/test-app';

// Stand-ins for feature routes: each throws a coded error the way services do.
@Controller('probe')
class ProbeController {
  @Get('upstream/:n') upstream(@Param('n') n: string): never {
    // Variable parts (address, milliseconds) must not split the incident.
    throw new AppException(ErrorCode.E5006, { message: `Model server 10.0.0.${n} failed after ${n}00 ms` });
  }
  @Get('boom') boom(): never {
    throw new Error('unexpected');
  }
  @Get('invalid') invalid(): never {
    throw new AppException(ErrorCode.E4006);
  }
  @Get('as-key') asKey(@Req() req: AppRequest): never {
    // What the auth guard will set; the filter reads it for the record.
    req.principal = { userId: 'user-1', apiKeyId: 'key-1', permissions: [], via: 'api_key' };
    throw new AppException(ErrorCode.E4005);
  }
  @Get('ok') ok() {
    return { ok: true };
  }
}
@Module({ controllers: [ProbeController] })
class ProbeModule {}

// Credentials for the ops routes once the identity work has landed (the guard is written in parallel).
const AUTH: Record<string, string> = {};

const flushAll = async (app: TestApp) => {
  // Usage is recorded on 'close', which can trail the client's reading of the body.
  const lifecycle = app.server.app.get(ServerLifecycle);
  while (lifecycle.activeRequests > 0) await sleep(5);
  await app.server.app.get(UsageRecorder).flush();
  await app.server.app.get(PersistingErrorReporter).flush();
};

const metricValue = async (app: TestApp, series: string): Promise<number> => {
  const text = (await app.request('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('error monitoring', () => {
  let app: TestApp;
  let sent = 0; // requests the analytics middleware records (everything but /health and /metrics)
  const send = async (method: string, path: string, body?: unknown) => {
    sent++;
    return app.request(method, path, { body, headers: AUTH });
  };

  beforeAll(async () => {
    app = await startTestApp({ extraModules: [ProbeModule], redis: false });
  });
  afterAll(() => app?.close());

  let upstreamIncidentFromResponse: string;

  it('should record every error response with exact counts, details and incidents', async () => {
    const e4009Before = await metricValue(app, 'hapa_errors_total{error_code="E4009"}');
    for (const n of [1, 2, 3]) {
      const res = await send('GET', `/api/v1/probe/upstream/${n}`);
      expect(res.status).toBe(502);
      upstreamIncidentFromResponse = res.body.incident_id;
    }
    for (let i = 0; i < 2; i++) expect((await send('GET', '/api/v1/probe/boom')).status).toBe(500);
    for (let i = 0; i < 4; i++) expect((await send('GET', '/api/v1/probe/invalid')).status).toBe(422);
    for (let i = 0; i < 5; i++) expect((await send('GET', `/api/v1/nope/${i}`)).status).toBe(404);
    const forbidden = await send('GET', '/api/v1/probe/as-key');
    expect(forbidden.status).toBe(403);
    expect((await send('GET', '/api/v1/probe/ok')).status).toBe(200);
    await flushAll(app);

    const counts = await app.db!.query<{ error_code: string; route: string; n: string }>(
      `SELECT error_code, route, sum(count)::text AS n FROM error_counts GROUP BY 1, 2 ORDER BY 1`,
    );
    expect(counts).toEqual([
      { error_code: 'E4005', route: '/api/v1/probe/as-key', n: '1' },
      { error_code: 'E4006', route: '/api/v1/probe/invalid', n: '4' },
      { error_code: 'E4009', route: 'unmatched', n: '5' },
      { error_code: 'E5004', route: '/api/v1/probe/boom', n: '2' },
      { error_code: 'E5006', route: '/api/v1/probe/upstream/:n', n: '3' },
    ]);
    const events = await app.db!.query<Record<string, string>>(`SELECT * FROM error_events ORDER BY id`);
    expect(events).toHaveLength(15);
    const keyed = events.find((e) => e.error_code === 'E4005')!;
    expect(keyed).toMatchObject({ status: 403, method: 'GET', api_key_id: 'key-1', user_id: 'user-1' });
    expect(keyed.incident_id).toBe(forbidden.body.incident_id);
    expect(keyed.request_id).toBe(forbidden.body.request_id);
    expect(events.every((e) => INCIDENT_ID.test(e.incident_id))).toBe(true);

    // Only server errors become incidents; the three upstream failures share one.
    const incidents = await app.db!.query<Record<string, string>>(
      `SELECT error_code, route, message, count::int AS count, status FROM error_incidents ORDER BY error_code`,
    );
    expect(incidents).toEqual([
      { error_code: 'E5004', route: '/api/v1/probe/boom', message: 'Internal server error', count: 2, status: 'open' },
      {
        error_code: 'E5006',
        route: '/api/v1/probe/upstream/:n',
        message: 'Model server <n>.<n>.<n>.<n> failed after <n> ms',
        count: 3,
        status: 'open',
      },
    ]);
    expect(await metricValue(app, 'hapa_errors_total{error_code="E4009"}')).toBe(e4009Before + 5);
  });

  it('should serve the dashboard in the seeds shape with figures equal to the traffic', async () => {
    await flushAll(app);
    const requestsSoFar = sent;
    const res = await send('GET', '/api/v1/errors/dashboard');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      total_errors: 15,
      errors_last_24h: 15,
      requests_last_24h: requestsSoFar,
      error_rate: Math.round((15 / requestsSoFar) * 10_000) / 10_000,
      open_incidents: 2,
      top_error_codes: [
        { code: 'E4009', count: 5, description: 'Not found' },
        { code: 'E4006', count: 4, description: 'Invalid field value' },
        { code: 'E5006', count: 3, description: 'AI model returned an error' },
        { code: 'E5004', count: 2, description: 'Internal server error' },
        { code: 'E4005', count: 1, description: 'Permission denied' },
      ],
    });
    expect(res.body.recent_incidents).toHaveLength(2);
    for (const inc of res.body.recent_incidents) {
      expect(inc).toMatchObject({ status: 'open', error_code: expect.stringMatching(/^E5/) });
      expect(inc.incident_id).toMatch(INCIDENT_ID);
      expect(new Date(inc.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    }
  });

  it('should list incidents with filters and pagination, and find one by any occurrence id', async () => {
    const all = await send('GET', '/api/v1/error-monitoring/incidents');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
    const byCode = await send('GET', '/api/v1/error-monitoring/incidents?code=E5006&status=open&period=1h');
    expect(byCode.body.total).toBe(1);
    expect(byCode.body.items[0]).toMatchObject({ error_code: 'E5006', count: 3, status: 'open' });
    const page2 = await send('GET', '/api/v1/error-monitoring/incidents?page=2&page_size=1');
    expect(page2.body).toMatchObject({ total: 2, page: 2, page_size: 1 });
    expect(page2.body.items).toHaveLength(1);
    expect((await send('GET', '/api/v1/error-monitoring/incidents?status=resolved')).body.total).toBe(0);
    const bad = await send('GET', '/api/v1/error-monitoring/incidents?status=closed&page_size=500');
    expect(bad.status).toBe(422);
    expect(bad.body.error_code).toBe('E4006');

    // The id a client saw in its error body leads to the grouped incident.
    const found = await send('GET', `/api/v1/error-monitoring/incidents/${upstreamIncidentFromResponse}`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ error_code: 'E5006', count: 3, incident_id: byCode.body.items[0].incident_id });
    expect(found.body.occurrences).toHaveLength(3);
    expect(found.body.occurrences.map((o: { incident_id: string }) => o.incident_id)).toContain(
      upstreamIncidentFromResponse,
    );
    const missing = await send('GET', '/api/v1/error-monitoring/incidents/INC-20200101-00000000');
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe('E4009');
  });

  it('should acknowledge and resolve an incident, and reopen a resolved one that recurs', async () => {
    const [inc] = (await send('GET', '/api/v1/error-monitoring/incidents?code=E5006')).body.items;
    const path = `/api/v1/error-monitoring/incidents/${inc.incident_id}`;
    const invalid = await send('PATCH', path, { status: 'closed' });
    expect(invalid.status).toBe(422);
    const ack = await send('PATCH', path, { status: 'acknowledged' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', acknowledged_at: expect.any(String) });

    // Recurring while acknowledged: still acknowledged, count grows.
    await send('GET', '/api/v1/probe/upstream/7');
    await flushAll(app);
    expect((await send('GET', path)).body).toMatchObject({ status: 'acknowledged', count: 4 });

    const resolved = await send('PATCH', path, { status: 'resolved' });
    expect(resolved.body).toMatchObject({ status: 'resolved', resolved_at: expect.any(String), reopened_count: 0 });
    expect((await send('GET', '/api/v1/errors/dashboard')).body.open_incidents).toBe(1);

    await new Promise((r) => setTimeout(r, 20));
    await send('GET', '/api/v1/probe/upstream/8');
    await flushAll(app);
    const reopened = (await send('GET', path)).body;
    expect(reopened).toMatchObject({ status: 'open', count: 5, reopened_count: 1, resolved_at: null });
    expect((await send('GET', '/api/v1/error-monitoring/incidents?status=open')).body.total).toBe(2);
  });

  it('should serve the 22 error codes with description and HTTP status', async () => {
    const res = await send('GET', '/api/v1/error-monitoring/codes');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(22);
    expect(res.body.codes).toHaveLength(22);
    expect(res.body.codes[0]).toEqual({
      code: 'E4001',
      description: 'Invalid input format',
      http_status: 400,
      retryable: false,
      category: 'client',
    });
    expect(res.body.codes.find((c: { code: string }) => c.code === 'E5001')).toMatchObject({
      http_status: 504,
      category: 'server',
    });
  });

  it('should show patterns over time by code and route, with spikes', async () => {
    for (let i = 0; i < 25; i++) await send('GET', `/api/v1/nothing-here`);
    await flushAll(app);
    const [{ n }] = await app.db!.query<{ n: number }>(`SELECT sum(count)::int AS n FROM error_counts`);
    const res = await send('GET', '/api/v1/errors/patterns?period=1h');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ period: '1h', bucket: 'minute', total: n });
    // 30 unknown routes plus the incident looked up in vain above.
    expect(res.body.by_code[0]).toEqual({ code: 'E4009', count: 31, description: 'Not found' });
    expect(res.body.by_route[0]).toEqual({ route: 'unmatched', count: 30 });
    expect(res.body.by_code_and_route).toContainEqual({ code: 'E5006', route: '/api/v1/probe/upstream/:n', count: 5 });
    const timelineTotal = res.body.timeline.reduce((s: number, b: { count: number }) => s + b.count, 0);
    expect(timelineTotal).toBe(n);
    // All of it arrived within a minute or two of an hour: the busiest bucket is a spike.
    const busiest = Math.max(...res.body.timeline.map((b: { count: number }) => b.count));
    expect(res.body.spikes.map((s: { count: number }) => s.count)).toContain(busiest);

    const week = await send('GET', '/api/v1/errors/patterns?period=7d');
    expect(week.body).toMatchObject({ bucket: 'hour', total: n });
    expect((await send('GET', '/api/v1/errors/patterns?period=2y')).status).toBe(422);
  });

  it('should delete rows older than ERROR_RETENTION_DAYS when the retention job runs', async () => {
    const old = new Date(Date.now() - 31 * 86_400_000);
    await app.db!.query(`INSERT INTO error_counts (minute, error_code, route, count) VALUES ($1, 'E4001', '/old', 7)`, [
      old,
    ]);
    await app.db!.query(
      `INSERT INTO error_events (at, error_code, status, route, method, message, request_id, incident_id, fingerprint)
       VALUES ($1, 'E4001', 400, '/old', 'GET', 'old', 'r', 'INC-20200101-00000001', repeat('a', 32))`,
      [old],
    );
    await app.db!.query(
      `INSERT INTO error_incidents (id, fingerprint, error_code, route, message, count, first_seen, last_seen, last_incident_id)
       VALUES ('INC-20200101-00000002', repeat('b', 32), 'E5004', '/old', 'old', 1, $1, $1, 'INC-20200101-00000002')`,
      [old],
    );
    const before = await app.db!.query<{ events: number; counts: number; incidents: number }>(
      `SELECT (SELECT count(*) FROM error_events)::int AS events, (SELECT count(*) FROM error_counts)::int AS counts,
              (SELECT count(*) FROM error_incidents)::int AS incidents`,
    );
    const deleted = await app.server.app.get(ErrorMonitoringService).purgeExpired();
    expect(deleted).toEqual({ events: 1, counts: 1, incidents: 1 });
    const after = await app.db!.query<{ events: number; counts: number; incidents: number }>(
      `SELECT (SELECT count(*) FROM error_events)::int AS events, (SELECT count(*) FROM error_counts)::int AS counts,
              (SELECT count(*) FROM error_incidents)::int AS incidents`,
    );
    expect(after[0]).toEqual({
      events: before[0].events - 1,
      counts: before[0].counts - 1,
      incidents: before[0].incidents - 1,
    });
    expect(await app.db!.query(`SELECT 1 FROM error_counts WHERE route = '/old'`)).toHaveLength(0);
  });
});

describe('error monitoring with several instances on one database', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await Promise.all([
      startTestApp({ database: db, extraModules: [ProbeModule], redis: false }),
      startTestApp({ database: db, extraModules: [ProbeModule], redis: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
  });

  it('should merge counts and incidents written concurrently by both', async () => {
    const burst = (app: TestApp, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => app.request('GET', `/api/v1/probe/upstream/${i}`)));
    for (let round = 0; round < 3; round++) {
      await Promise.all([burst(a, 10), burst(b, 10)]);
      await Promise.all([flushAll(a), flushAll(b)]);
    }
    const incidents = await db.query<{ count: number }>(`SELECT count::int AS count FROM error_incidents`);
    expect(incidents).toEqual([{ count: 60 }]);
    const [{ n }] = await db.query<{ n: number }>(
      `SELECT sum(count)::int AS n FROM error_counts WHERE error_code = 'E5006'`,
    );
    expect(n).toBe(60);
  });
});

describe('error monitoring switches', () => {
  it('should record nothing with ERROR_MONITORING_ENABLED=false, yet still count in Prometheus', async () => {
    const app = await startTestApp({
      extraModules: [ProbeModule],
      redis: false,
      env: { ERROR_MONITORING_ENABLED: 'false' },
    });
    try {
      const before = await metricValue(app, 'hapa_errors_total{error_code="E5004"}');
      expect((await app.request('GET', '/api/v1/probe/boom')).status).toBe(500);
      await flushAll(app);
      expect(await app.db!.query(`SELECT 1 FROM error_counts UNION ALL SELECT 1 FROM error_events`)).toHaveLength(0);
      expect(await metricValue(app, 'hapa_errors_total{error_code="E5004"}')).toBe(before + 1);
      expect(app.logs.some((l) => l.includes('"error_code":"E5004"'))).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('should count and keep details but open no incidents with INCIDENT_TRACKING_ENABLED=false', async () => {
    const app = await startTestApp({
      extraModules: [ProbeModule],
      redis: false,
      env: { INCIDENT_TRACKING_ENABLED: 'false' },
    });
    try {
      await app.request('GET', '/api/v1/probe/boom');
      await app.request('GET', '/api/v1/probe/boom');
      await flushAll(app);
      expect(await app.db!.query(`SELECT 1 FROM error_events`)).toHaveLength(2);
      expect(await app.db!.query(`SELECT 1 FROM error_incidents`)).toHaveLength(0);
      expect((await app.request('GET', '/api/v1/errors/dashboard')).body).toMatchObject({
        total_errors: 2,
        recent_incidents: [],
      });
    } finally {
      await app.close();
    }
  });
});

describe('error monitoring under a flood', () => {
  const TOTAL = 20_000;
  const SAMPLE = 5;
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ redis: false, env: { ERROR_SAMPLE_PER_MINUTE: String(SAMPLE), LOG_LEVEL: 'warn' } });
  });
  afterAll(() => app?.close());

  it('should keep counts exact and stored rows and memory bounded for 20,000 errors', async () => {
    const reporter = app.server.app.get(PersistingErrorReporter);
    const agent = new Agent({ connections: 32, pipelining: 1 });
    let maxPendingDetails = 0;
    let maxTracked = 0;
    const probe = setInterval(() => {
      maxPendingDetails = Math.max(maxPendingDetails, reporter.aggregator.pendingDetails);
      maxTracked = Math.max(maxTracked, reporter.aggregator.trackedFingerprints);
    }, 5);
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (next < TOTAL) {
        next++;
        // Distinct URLs, one route template ('unmatched') and one fingerprint.
        const res = await undiciFetch(`${app.url}/api/v1/no-such-route/${next}`, { dispatcher: agent });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    const started = new Date(Date.now() - 60_000);
    await Promise.all(Array.from({ length: 32 }, worker));
    clearInterval(probe);
    await agent.close();
    await flushAll(app);

    expect(statuses.get(404)).toBe(TOTAL);
    const [{ n }] = await app.db!.query<{ n: number }>(
      `SELECT sum(count)::int AS n FROM error_counts WHERE error_code = 'E4009' AND route = 'unmatched'`,
    );
    expect(n).toBe(TOTAL);
    const perMinute = await app.db!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM error_events GROUP BY date_trunc('minute', at), fingerprint`,
    );
    expect(perMinute.length).toBeGreaterThanOrEqual(1);
    for (const m of perMinute) expect(m.n).toBeLessThanOrEqual(SAMPLE);
    const minutesSpanned = Math.ceil((Date.now() - started.getTime()) / 60_000) + 1;
    const [{ stored }] = await app.db!.query<{ stored: number }>(`SELECT count(*)::int AS stored FROM error_events`);
    expect(stored).toBeLessThanOrEqual(SAMPLE * minutesSpanned);
    expect(reporter.aggregator.droppedDetails).toBeGreaterThanOrEqual(TOTAL - stored);
    expect(maxPendingDetails).toBeLessThanOrEqual(SAMPLE * 2);
    expect(maxTracked).toBeLessThanOrEqual(1);
    // Analytics kept every one of them too (one usage row per request).
    const [{ usage }] = await app.db!.query<{ usage: number }>(
      `SELECT count(*)::int AS usage FROM usage_events WHERE route = 'unmatched'`,
    );
    expect(usage).toBe(TOTAL);
    const dash = await app.request('GET', '/api/v1/errors/dashboard');
    expect(dash.body).toMatchObject({
      total_errors: TOTAL,
      errors_last_24h: TOTAL,
      top_error_codes: [{ code: 'E4009', count: TOTAL }],
    });
  }, 240_000);
});

describe('error monitoring and analytics migration', () => {
  it('should drop its tables in down() and recreate them in up()', async () => {
    const db = await createTestDatabase();
    const ds = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    const tables = async () =>
      (
        await db.query<{ t: string }>(
          `SELECT table_name AS t FROM information_schema.tables
            WHERE table_name IN ('error_counts', 'error_events', 'error_incidents', 'usage_events', 'completion_events')
            ORDER BY 1`,
        )
      ).map((r) => r.t);
    try {
      expect(await tables()).toHaveLength(5);
      const runner = ds.createQueryRunner();
      await new ErrorMonitoringAndAnalytics1795363805662().down(runner);
      expect(await tables()).toEqual([]);
      await new ErrorMonitoringAndAnalytics1795363805662().up(runner);
      expect(await tables()).toHaveLength(5);
      await runner.release();
    } finally {
      await ds.destroy();
      await db.drop();
    }
  });
});
