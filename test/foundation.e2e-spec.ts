import { Body, Controller, Get, Module, Param, Post } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';
import { setTimeout as sleep } from 'node:timers/promises';
import { INCIDENT_ID, startTestApp, TestApp } from './support/test-app';

// A test-only route: the global pipe, filter and metrics are exercised exactly as feature routes use them.
class InnerDto {
  @IsIn(['a', 'b']) kind: string;
}
class ProbeDto {
  @IsString() @Length(1, 10) name: string;
  @IsInt() @Min(1) @Max(5) count: number;
  @IsOptional() @ValidateNested() @Type(() => InnerDto) inner?: InnerDto;
}
@Controller('probe')
class ProbeController {
  @Post() echo(@Body() dto: ProbeDto) {
    return dto;
  }
  @Get('boom') boom(): never {
    throw new Error('db password=hunter2 leaked in an internal message');
  }
  @Get('items/:id') item(@Param('id') id: string) {
    return { id };
  }
  @Get('slow') async slow() {
    await sleep(700);
    return { done: true };
  }
}
@Module({ controllers: [ProbeController] })
class ProbeModule {}

describe.each([
  ['PostgreSQL', false],
  ['embedded PGlite', true],
])('foundation on %s', (_name, embedded) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      embedded,
      extraModules: [ProbeModule],
      env: { MAX_BODY_SIZE: '2kb', AI_MODEL_API_KEY: 'upstream-secret-value-123' },
    });
  });
  afterAll(() => app?.close());

  type Envelope = { incident_id: string; timestamp: string; request_id: unknown; message: unknown };
  const expectEnvelope = (body: Envelope, code: string, path: string) => {
    expect(body).toMatchObject({ status: 'error', error_code: code, path });
    expect(body.incident_id).toMatch(INCIDENT_ID);
    expect(new Date(body.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(typeof body.request_id).toBe('string');
    expect(typeof body.message).toBe('string');
  };

  it('should accept a valid body and strip unknown fields', async () => {
    const res = await app.request('POST', '/api/v1/probe', { body: { name: 'ok', count: 2, extra: 'ignored' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'ok', count: 2 });
  });

  it('should answer malformed JSON with 400 E4001', async () => {
    const res = await app.request('POST', '/api/v1/probe', { body: '{"name": ' });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'E4001', '/api/v1/probe');
  });

  it('should answer a non-JSON content type and a non-object body with 400 E4001', async () => {
    const text = await app.request('POST', '/api/v1/probe', {
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(400);
    expect(text.body.error_code).toBe('E4001');
    const arr = await app.request('POST', '/api/v1/probe', { body: [1, 2] });
    expect(arr.status).toBe(400);
    expect(arr.body.error_code).toBe('E4001');
  });

  it('should answer a missing field with 422 E4002 and details', async () => {
    const res = await app.request('POST', '/api/v1/probe', { body: { count: 2 } });
    expect(res.status).toBe(422);
    expectEnvelope(res.body, 'E4002', '/api/v1/probe');
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'name' })]));
  });

  it('should answer absurdly deep JSON with 400 E4001, not a stack overflow', async () => {
    const deep = '{"name":"ok","count":1,"junk":' + '['.repeat(3000) + ']'.repeat(3000) + '}';
    const res = await app.request('POST', '/api/v1/probe', { body: deep });
    expect([400, 413]).toContain(res.status);
    expect(['E4001', 'E4008']).toContain(res.body.error_code);
  });

  it('should answer wrong type, range and enum with 422 E4006 and details, nested fields dotted', async () => {
    const res = await app.request('POST', '/api/v1/probe', { body: { name: 5, count: 9, inner: { kind: 'z' } } });
    expect(res.status).toBe(422);
    expectEnvelope(res.body, 'E4006', '/api/v1/probe');
    const fields = res.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'count', 'inner.kind']));
    // a value of the wrong type is told its type, not also every length rule it fails
    expect(res.body.details.filter((d: { field: string }) => d.field === 'name')).toEqual([
      { field: 'name', message: 'name must be a string' },
    ]);
  });

  it('should answer an unknown route with 404 E4009', async () => {
    const res = await app.request('GET', '/api/v1/does-not-exist?x=1');
    expect(res.status).toBe(404);
    expectEnvelope(res.body, 'E4009', '/api/v1/does-not-exist');
  });

  it('should answer a body over MAX_BODY_SIZE with 413 E4008', async () => {
    const res = await app.request('POST', '/api/v1/probe', { body: { name: 'x'.repeat(5000), count: 1 } });
    expect(res.status).toBe(413);
    expectEnvelope(res.body, 'E4008', '/api/v1/probe');
  });

  it('should answer an unexpected exception with 500 E5004 and no internals', async () => {
    const res = await app.request('GET', '/api/v1/probe/boom');
    expect(res.status).toBe(500);
    expectEnvelope(res.body, 'E5004', '/api/v1/probe/boom');
    expect(res.text).not.toMatch(/hunter2|password|at .*\.ts|stack/i);
    // The internal cause reaches the logs (redacted of credentials) with the same incident id.
    const line = app.logs.find((l) => l.includes(res.body.incident_id));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'error', error_code: 'E5004', request_id: res.body.request_id });
  });

  it('should echo a sane X-Request-Id and mint one otherwise', async () => {
    const mine = await app.request('GET', '/health/live', { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const minted = await app.request('GET', '/health/live', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(minted.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const err = await app.request('GET', '/nope', { headers: { 'x-request-id': 'req-42' } });
    expect(err.body.request_id).toBe('req-42');
  });

  it('should write one JSON access-log line per request with its request id', async () => {
    await app.request('GET', '/api/v1/probe/items/7', { headers: { 'x-request-id': 'log-check-1' } });
    await sleep(20);
    const lines = app.logs.map((l) => JSON.parse(l)).filter((l) => l.request_id === 'log-check-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'request', route: '/api/v1/probe/items/:id', status: 200 });
  });

  it('should serve /health in the seeds shape and the API alias', async () => {
    for (const p of ['/health', '/api/v1/health']) {
      const res = await app.request('GET', p);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: expect.stringMatching(/healthy|degraded/),
        version: expect.any(String),
        uptime: expect.any(Number),
        services: { database: 'connected', redis: 'connected', ai_model: expect.any(String) },
      });
    }
  });

  it('should serve /health/detailed with latency per dependency, /health/live and /health/ready', async () => {
    const detailed = await app.request('GET', '/health/detailed');
    expect(detailed.body.checks.database).toMatchObject({ status: 'up', latency_ms: expect.any(Number) });
    expect(detailed.body.checks.redis).toMatchObject({ status: 'up', latency_ms: expect.any(Number) });
    expect(detailed.body.checks.database.driver).toBe(embedded ? 'embedded' : 'postgres');
    const live = await app.request('GET', '/health/live');
    expect(live.status).toBe(200);
    expect(live.body.status).toBe('ok');
    const ready = await app.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('should show the effective configuration with secrets masked', async () => {
    const res = await app.request('GET', '/api/v1/config/status');
    expect(res.status).toBe(200);
    expect(res.body.config).toMatchObject({
      PORT: 0,
      MAX_BODY_SIZE: 2048,
      AI_MODEL_API_KEY: '********',
      SECRET_KEY: '********',
    });
    expect(res.text).not.toContain('upstream-secret-value-123');
    if (!embedded) expect(res.text).not.toContain(app.db!.url);
  });

  it('should expose Prometheus text labelled by route template', async () => {
    for (const id of ['1', '2', 'x9']) await app.request('GET', `/api/v1/probe/items/${id}`);
    await app.request('GET', '/random/unmatched/path/1');
    const res = await app.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toContain('process_cpu_user_seconds_total');
    const items = res.text.match(/^hapa_requests_total\{[^}]*route="\/api\/v1\/probe\/items\/:id"[^}]*\} (\d+)/m);
    expect(items && Number(items[1])).toBeGreaterThanOrEqual(3);
    expect(res.text).not.toMatch(/route="\/api\/v1\/probe\/items\/(1|2|x9)"/);
    expect(res.text).toMatch(/^hapa_requests_total\{method="GET",route="unmatched",status="404"\}/m);
    expect(res.text).toMatch(/^hapa_request_duration_seconds_bucket\{.*route="\/api\/v1\/probe\/items\/:id"/m);
  });

  it('should document every route, both security schemes and the error envelope', async () => {
    const ui = await app.request('GET', '/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
    const doc = (await app.request('GET', '/docs-json')).body;
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['api-key', 'bearer']);
    expect(doc.components.schemas.ErrorResponse.properties.incident_id).toBeDefined();
    for (const p of [
      '/health',
      '/health/live',
      '/health/ready',
      '/health/detailed',
      '/api/v1/health',
      '/api/v1/config/status',
    ]) {
      expect(doc.paths[p]).toBeDefined();
    }
    type Operation = { responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }> };
    for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
      // The OpenAI-compatible routes answer in OpenAI's envelope.
      const envelope = path.startsWith('/v1/') ? 'OpenAiErrorResponseDto' : 'ErrorResponse';
      for (const op of Object.values(item))
        expect(op.responses['4XX'].content['application/json'].schema.$ref).toBe(`#/components/schemas/${envelope}`);
    }
    expect(doc.components.schemas.OpenAiErrorResponseDto).toBeDefined();
  });
});

describe('graceful shutdown', () => {
  it('should let in-flight requests finish, refuse new connections, then close', async () => {
    const app = await startTestApp({ extraModules: [ProbeModule], redis: false });
    const inFlight = app.request('GET', '/api/v1/probe/slow');
    await sleep(100);
    const stopping = app.server.shutdown();
    await sleep(50);
    await expect(fetch(app.url + '/health/live')).rejects.toThrow();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ done: true });
    await stopping;
    await app.close();
  });

  it('should cut requests that outlive SHUTDOWN_TIMEOUT', async () => {
    const app = await startTestApp({ extraModules: [ProbeModule], redis: false, env: { SHUTDOWN_TIMEOUT: '0' } });
    const inFlight = app.request('GET', '/api/v1/probe/slow').then(
      () => 'completed',
      () => 'cut',
    );
    await sleep(100);
    await app.server.shutdown();
    expect(await inFlight).toBe('cut');
    await app.close();
  });
});

describe('readiness', () => {
  it('should report 503 on /health/ready and unhealthy on /health while the database is unreachable', async () => {
    const app = await startTestApp({ redis: false, env: {} });
    const name = app.db!.name;
    const { withAdmin } = await import('./support/test-app');
    await withAdmin(async (c) => {
      await c.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
    });
    try {
      const ready = await app.request('GET', '/health/ready');
      expect(ready.status).toBe(503);
      const summary = await app.request('GET', '/health');
      expect(summary.status).toBe(503);
      expect(summary.body).toMatchObject({ status: 'unhealthy', services: { database: 'disconnected' } });
      expect((await app.request('GET', '/health/live')).status).toBe(200);
      // A route that needs the database answers 503 E5003 with Retry-After, not 500.
      const write = await app.request('POST', '/api/v1/users/generate-api-key', {
        body: { email: 'db-down@example.com' },
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      expect(write.status).toBe(503);
      expect(write.body.error_code).toBe('E5003');
      expect(write.headers.get('retry-after')).toBeTruthy();
    } finally {
      await withAdmin((c) => c.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`));
    }
    const again = await app.request('GET', '/health/ready');
    expect(again.status).toBe(200);
    await app.close();
  });
});
