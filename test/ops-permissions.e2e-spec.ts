import { ADMIN_KEY, bearer, factory, xApiKey } from './support/identity-factory';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const V1 = '/api/v1';
const INCIDENT = '00000000-0000-4000-8000-000000000000';

// Every ops route: reads need analytics:read (or admin), changes need admin.
const READS: [string, string][] = [
  ['GET', '/errors/dashboard'],
  ['GET', '/errors/patterns?period=24h'],
  ['GET', '/error-monitoring/incidents'],
  ['GET', `/error-monitoring/incidents/${INCIDENT}`],
  ['GET', '/error-monitoring/codes'],
  ['GET', '/analytics/performance'],
  ['GET', '/analytics/dashboard'],
  ['GET', '/analytics/usage?group_by=adapter'],
  ['GET', '/cache/stats'],
];
const CHANGES: [string, string, unknown][] = [
  ['DELETE', '/cache/clear', { cache_type: 'all', confirm: true }],
  ['PATCH', `/error-monitoring/incidents/${INCIDENT}`, { status: 'resolved' }],
  ['POST', '/admin/api-keys', { email: 'someone@example.com' }],
];

describe('permissions on the ops routes', () => {
  let app: TestApp;
  const call = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    app.request(method, V1 + path, { headers, body });

  beforeAll(async () => {
    app = await startTestApp({ apiKey: false, redis: false, env: { ADMIN_API_KEY: ADMIN_KEY } });
  });
  afterAll(() => app?.close());

  it('should answer 401 E4003 without credentials', async () => {
    for (const [method, path, body] of [...READS.map(([m, p]) => [m, p, undefined] as const), ...CHANGES]) {
      const res = await call(method, path, {}, body);
      expect({ route: `${method} ${path}`, status: res.status, code: res.body?.error_code }).toEqual({
        route: `${method} ${path}`,
        status: 401,
        code: 'E4003',
      });
    }
  });

  it('should answer 403 E4005 to a self-service key and its login token, on reads and changes', async () => {
    const user = await factory.apiKey(app);
    const login = await app.request('POST', `${V1}/users/login`, { body: { email: user.email } });
    expect(login.status).toBe(200);
    for (const headers of [xApiKey(user.key), bearer(login.body.access_token)]) {
      for (const [method, path, body] of [...READS.map(([m, p]) => [m, p, undefined] as const), ...CHANGES]) {
        const res = await call(method, path, headers, body);
        expect({ route: `${method} ${path}`, status: res.status, code: res.body?.error_code }).toEqual({
          route: `${method} ${path}`,
          status: 403,
          code: 'E4005',
        });
      }
    }
  });

  it('should let an analytics:read key read every dashboard but change nothing', async () => {
    const reader = await factory.adminKey(app, ADMIN_KEY, {
      email: factory.email('ops'),
      permissions: ['analytics:read'],
    });
    for (const [method, path] of READS) {
      const res = await call(method, path, xApiKey(reader.key));
      // The incident id does not exist: past the guard, that is a 404.
      const expected = path.includes(INCIDENT) ? 404 : 200;
      expect({ route: `${method} ${path}`, status: res.status }).toEqual({
        route: `${method} ${path}`,
        status: expected,
      });
    }
    for (const [method, path, body] of CHANGES) {
      const res = await call(method, path, xApiKey(reader.key), body);
      expect({ route: `${method} ${path}`, status: res.status, code: res.body?.error_code }).toEqual({
        route: `${method} ${path}`,
        status: 403,
        code: 'E4005',
      });
    }
  });

  it('should let an admin key clear the cache and update incidents', async () => {
    const admin = await factory.adminKey(app, ADMIN_KEY, { email: factory.email('admin'), permissions: ['admin'] });
    const cleared = await call('DELETE', '/cache/clear', xApiKey(admin.key), { cache_type: 'all', confirm: true });
    expect(cleared.status).toBe(200);
    const patched = await call('PATCH', `/error-monitoring/incidents/${INCIDENT}`, xApiKey(admin.key), {
      status: 'resolved',
    });
    expect(patched.status).toBe(404);
    expect((await call('GET', '/analytics/performance', xApiKey(admin.key))).status).toBe(200);
  });
});
