import { Controller, Get, Module } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { AppException } from '../src/common/errors/app.exception';
import { ErrorCode } from '../src/common/errors/error-codes';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { PersistingErrorReporter } from '../src/error-monitoring/persisting-error-reporter';
import { createTestDatabase, startTestApp, TestApp } from './support/test-app';

// One row the database can never take must not cost the rows batched with it, nor later batches.
@Controller('probe')
class ProbeController {
  @Get('ok') ok() {
    return { ok: true };
  }
  @Get('fail') fail(): never {
    throw new AppException(ErrorCode.E5005);
  }
  // Rejected by the test-only CHECK constraints below (usage route, error route and message).
  @Get('poison') poison(): never {
    throw new AppException(ErrorCode.E5005, { message: 'poison' });
  }
}
@Module({ controllers: [ProbeController] })
class ProbeModule {}

const POISON_CID = 'poison-cid';
// Real constraints on the real tables: rows matching them fail with SQLSTATE 23514 (check_violation).
const POISON_CONSTRAINTS = [
  `ALTER TABLE usage_events ADD CONSTRAINT test_poison CHECK (route <> '/api/v1/probe/poison')`,
  `ALTER TABLE completion_events ADD CONSTRAINT test_poison CHECK (completion_id <> '${POISON_CID}')`,
  `ALTER TABLE error_counts ADD CONSTRAINT test_poison CHECK (route <> '/api/v1/probe/poison')`,
  `ALTER TABLE error_incidents ADD CONSTRAINT test_poison CHECK (message <> 'poison')`,
  `ALTER TABLE error_events ADD CONSTRAINT test_poison CHECK (message <> 'poison')`,
];
const DROP_POISON_CONSTRAINTS = [
  'usage_events',
  'completion_events',
  'error_counts',
  'error_incidents',
  'error_events',
].map((t) => `ALTER TABLE ${t} DROP CONSTRAINT test_poison`);

type Query = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
// The app's own data source: works the same on PostgreSQL and embedded PGlite.
const sqlOf =
  (app: TestApp): Query =>
  (sql, params) =>
    app.server.app.get(DataSource).query(sql, params);

const flushAll = async (app: TestApp) => {
  const lifecycle = app.server.app.get(ServerLifecycle);
  while (lifecycle.activeRequests > 0) await sleep(5);
  await app.server.app.get(UsageRecorder).flush();
  await app.server.app.get(PersistingErrorReporter).flush();
};

/** Normal traffic mixed with rows the constraints reject, all in one flush. */
async function poisonedTraffic(app: TestApp): Promise<void> {
  for (const path of ['ok', 'poison', 'ok', 'fail', 'poison']) await app.request('GET', `/api/v1/probe/${path}`);
  for (const completion_id of ['good-1', POISON_CID, 'good-2']) {
    const res = await app.request('POST', '/api/v1/analytics/events', { body: { type: 'view', completion_id } });
    expect(res.status).toBe(202);
  }
}

async function expectPoisonSalvaged(app: TestApp, sql: Query): Promise<void> {
  const routes = (await sql<{ route: string }>(`SELECT route FROM usage_events ORDER BY id`)).map((r) => r.route);
  expect(routes.filter((r) => r.startsWith('/api/v1/probe/'))).toEqual([
    '/api/v1/probe/ok',
    '/api/v1/probe/ok',
    '/api/v1/probe/fail',
  ]);
  expect(routes.filter((r) => r === '/api/v1/analytics/events')).toHaveLength(3);
  const cids = await sql<{ completion_id: string }>(`SELECT completion_id FROM completion_events ORDER BY id`);
  expect(cids.map((c) => c.completion_id)).toEqual(['good-1', 'good-2']);

  const counts = await sql<{ error_code: string; route: string; n: number }>(
    `SELECT error_code, route, sum(count)::int AS n FROM error_counts GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  expect(counts).toEqual([{ error_code: 'E5005', route: '/api/v1/probe/fail', n: 1 }]);
  const events = await sql<{ route: string }>(`SELECT route FROM error_events ORDER BY id`);
  expect(events).toEqual([{ route: '/api/v1/probe/fail' }]);
  const incidents = await sql<{ route: string }>(`SELECT route FROM error_incidents`);
  expect(incidents).toEqual([{ route: '/api/v1/probe/fail' }]);
}

describe('telemetry batches with rows the database rejects', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ extraModules: [ProbeModule], redis: false });
  });
  afterAll(() => app?.close());

  it('should store a method outside the usual seven as OTHER and keep recording', async () => {
    // Node accepts these; UNSUBSCRIBE is longer than the method columns.
    expect((await app.request('UNSUBSCRIBE', '/api/v1/probe/ok')).status).toBe(404);
    expect((await app.request('MKCALENDAR', '/x')).status).toBe(404);
    expect((await app.request('GET', '/api/v1/probe/ok')).status).toBe(200);
    expect((await app.request('PATCH', '/api/v1/probe/ok')).status).toBe(404);
    expect((await app.request('GET', '/api/v1/probe/fail')).status).toBe(503);
    await flushAll(app);

    const usage = await app.db!.query<{ method: string; route: string }>(
      `SELECT method, route FROM usage_events ORDER BY id`,
    );
    expect(usage).toEqual([
      { method: 'OTHER', route: 'unmatched' },
      { method: 'OTHER', route: 'unmatched' },
      { method: 'GET', route: '/api/v1/probe/ok' },
      { method: 'PATCH', route: 'unmatched' },
      { method: 'GET', route: '/api/v1/probe/fail' },
    ]);
    const events = await app.db!.query<{ method: string; error_code: string }>(
      `SELECT method, error_code FROM error_events ORDER BY id`,
    );
    expect(events).toEqual([
      { method: 'OTHER', error_code: 'E4009' },
      { method: 'OTHER', error_code: 'E4009' },
      { method: 'PATCH', error_code: 'E4009' },
      { method: 'GET', error_code: 'E5005' },
    ]);
    const counts = await app.db!.query<{ error_code: string; n: number }>(
      `SELECT error_code, sum(count)::int AS n FROM error_counts GROUP BY 1 ORDER BY 1`,
    );
    expect(counts).toEqual([
      { error_code: 'E4009', n: 3 },
      { error_code: 'E5005', n: 1 },
    ]);
  });

  it('should keep a client request id of up to 128 characters on the error record', async () => {
    const long = 'r'.repeat(128);
    const res = await app.request('GET', '/api/v1/probe/fail', { headers: { 'X-Request-Id': long } });
    expect(res.status).toBe(503);
    expect(res.body.request_id).toBe(long);
    const other = await app.request('GET', '/api/v1/probe/fail');
    await flushAll(app);
    const rows = await app.db!.query<{ request_id: string }>(
      `SELECT request_id FROM error_events WHERE request_id IN ($1, $2) ORDER BY id`,
      [long, other.body.request_id],
    );
    expect(rows.map((r) => r.request_id)).toEqual([long, other.body.request_id]);
  });

  it('should refuse completion ids and languages outside the safe pattern with 422 E4006', async () => {
    const bad = [
      { type: 'view', completion_id: 'a\u0000b' },
      { type: 'view', completion_id: 'a b' },
      { type: 'view', completion_id: 'x'.repeat(65) },
      { type: 'view', completion_id: 'c1', language: 'py\u0000thon' },
      { type: 'view', completion_id: 'c1', language: 'py thon' },
      { type: 'view', completion_id: 'c1', language: 'x'.repeat(33) },
    ];
    for (const body of bad) {
      const res = await app.request('POST', '/api/v1/analytics/events', { body });
      expect({ body, status: res.status, code: res.body.error_code }).toEqual({ body, status: 422, code: 'E4006' });
    }
    const good = [
      { type: 'view', completion_id: 'cmpl-0f8e6c9a-3b1d-4c2e-9a7b-5d4e3f2a1b0c', language: 'python' },
      { type: 'select', completion_id: 'ns:id.1_2-3', language: 'c++' },
      { type: 'dismiss', completion_id: 'x'.repeat(64), language: 'c#' },
    ];
    for (const body of good) expect((await app.request('POST', '/api/v1/analytics/events', { body })).status).toBe(202);
    await flushAll(app);
    const rows = await app.db!.query<{ completion_id: string; language: string }>(
      `SELECT completion_id, language FROM completion_events ORDER BY id`,
    );
    expect(rows).toEqual(good.map((g) => ({ completion_id: g.completion_id, language: g.language })));
  });

  it('should drop and count only the rows the database rejects, logging the SQLSTATE without the row', async () => {
    const sql = sqlOf(app);
    await flushAll(app);
    for (const t of ['usage_events', 'completion_events', 'error_counts', 'error_incidents', 'error_events']) {
      await sql(`DELETE FROM ${t}`);
    }
    for (const s of POISON_CONSTRAINTS) await sql(s);
    const recorder = app.server.app.get(UsageRecorder);
    const reporter = app.server.app.get(PersistingErrorReporter);
    const rejectedUsage = recorder.rejected;
    const rejectedErrors = reporter.rejected;
    const logsBefore = app.logs.length;
    try {
      await poisonedTraffic(app);
      await flushAll(app);
      await expectPoisonSalvaged(app, sql);
      // 2 usage rows + 1 completion; 1 count row, 1 incident, 2 details.
      expect(recorder.rejected - rejectedUsage).toBe(3);
      expect(reporter.rejected - rejectedErrors).toBe(4);
      expect(recorder.pending).toBe(0);

      const logs = app.logs.slice(logsBefore).filter((l) => l.includes('rejected'));
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.every((l) => l.includes('23514'))).toBe(true);
      expect(logs.some((l) => l.includes('poison'))).toBe(false);

      // Later batches are written as usual.
      await app.request('GET', '/api/v1/probe/ok');
      await app.request('GET', '/api/v1/probe/fail');
      await flushAll(app);
      const [{ n }] = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM usage_events WHERE route IN ('/api/v1/probe/ok', '/api/v1/probe/fail')`,
      );
      expect(n).toBe(5);
      const [{ c }] = await sql<{ c: number }>(`SELECT sum(count)::int AS c FROM error_counts`);
      expect(c).toBe(2);
    } finally {
      for (const s of DROP_POISON_CONSTRAINTS) await sql(s);
    }
  });

  it('should keep a batch that failed for any other reason and write it once the tables are back', async () => {
    const sql = sqlOf(app);
    await flushAll(app);
    const [{ before }] = await sql<{ before: number }>(`SELECT count(*)::int AS before FROM usage_events`);
    const [{ errorsBefore }] = await sql<{ errorsBefore: number }>(
      `SELECT count(*)::int AS "errorsBefore" FROM error_events`,
    );
    await sql(`ALTER TABLE usage_events RENAME TO usage_events_away`);
    await sql(`ALTER TABLE error_events RENAME TO error_events_away`);
    try {
      await app.request('GET', '/api/v1/probe/ok');
      await app.request('GET', '/api/v1/probe/fail');
      await flushAll(app); // fails: undefined_table (42P01) is not a data error
      expect(app.server.app.get(UsageRecorder).pending).toBe(2);
    } finally {
      await sql(`ALTER TABLE usage_events_away RENAME TO usage_events`);
      await sql(`ALTER TABLE error_events_away RENAME TO error_events`);
    }
    await flushAll(app);
    const [{ after }] = await sql<{ after: number }>(`SELECT count(*)::int AS after FROM usage_events`);
    expect(after).toBe(before + 2);
    const [{ errorsAfter }] = await sql<{ errorsAfter: number }>(
      `SELECT count(*)::int AS "errorsAfter" FROM error_events`,
    );
    expect(errorsAfter).toBe(errorsBefore + 1);
  });
});

describe('telemetry batches with rejected rows on graceful shutdown', () => {
  it('should write every good row before the database closes', async () => {
    const db = await createTestDatabase();
    try {
      for (const s of POISON_CONSTRAINTS) await db.query(s);
      const app = await startTestApp({ database: db, extraModules: [ProbeModule], redis: false });
      await poisonedTraffic(app);
      await app.close(); // no explicit flush: the shutdown flush alone
      await expectPoisonSalvaged(app, (sql, params) => db.query(sql, params));
    } finally {
      await db.drop();
    }
  });
});

describe('telemetry batches with rejected rows on embedded PGlite', () => {
  it('should drop and count only the rejected rows, as on PostgreSQL', async () => {
    const app = await startTestApp({ embedded: true, extraModules: [ProbeModule], redis: false });
    try {
      const sql = sqlOf(app);
      for (const s of POISON_CONSTRAINTS) await sql(s);
      expect((await app.request('UNSUBSCRIBE', '/api/v1/probe/ok')).status).toBe(404);
      await flushAll(app);
      await sql(`DELETE FROM usage_events`);
      await sql(`DELETE FROM error_counts`);
      await sql(`DELETE FROM error_events`);
      await poisonedTraffic(app);
      await flushAll(app);
      await expectPoisonSalvaged(app, sql);
      expect(app.server.app.get(UsageRecorder).rejected).toBe(3);
      expect(app.server.app.get(PersistingErrorReporter).rejected).toBe(4);
    } finally {
      await app.close();
    }
  });
});
