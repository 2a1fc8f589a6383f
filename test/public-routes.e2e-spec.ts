import { Agent, fetch as undiciFetch } from 'undici';
import { ADMIN_KEY, factory, xApiKey } from './support/identity-factory';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(120_000);

/**
 * The only routes that answer without credentials: health probes for load balancers, /metrics for
 * Prometheus, and self-service registration (which refuses by itself when REGISTRATION_MODE=closed;
 * /users/login is public only while registration is open). Anything else, including every route added
 * later, must need credentials.
 */
const PUBLIC = new Set([
  'GET /health',
  'GET /health/live',
  'GET /health/ready',
  'GET /api/v1/health',
  'GET /api/v1/code/health',
  'GET /metrics',
  'POST /api/v1/users/generate-api-key',
]);
/** Public routes that must not reveal where or how the server runs. */
const DISCREET = ['/health', '/health/live', '/health/ready', '/api/v1/health', '/api/v1/code/health'];

type Layer = { route?: { path: string; methods: Record<string, boolean> } };

describe('what answers without credentials', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      env: { REGISTRATION_MODE: 'closed', ADMIN_API_KEY: ADMIN_KEY, VLLM_SERVER_URL: '' },
    });
  });
  afterAll(() => app?.close());

  /** Every route: those in the OpenAPI document, and any the router serves that the document forgot. */
  async function allRoutes(): Promise<string[]> {
    const doc = (await app.request('GET', '/docs-json')).body;
    const routes = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths))
      for (const method of Object.keys(item)) routes.add(`${method.toUpperCase()} ${path}`);
    const router = app.server.app.getHttpAdapter().getInstance().router as { stack: Layer[] };
    for (const layer of router.stack) {
      if (!layer.route || layer.route.path.startsWith('/docs')) continue;
      const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
      for (const m of Object.keys(layer.route.methods)) if (m !== '_all') routes.add(`${m.toUpperCase()} ${path}`);
    }
    return [...routes].sort();
  }

  it('should answer only the public set without credentials; every other route is 401 E4003', async () => {
    const routes = await allRoutes();
    expect(routes.length).toBeGreaterThan(30);
    for (const r of PUBLIC) expect(routes).toContain(r);

    const agent = new Agent({ connections: 8 });
    const answered: string[] = [];
    const notEnvelope: string[] = [];
    await Promise.all(
      routes.map(async (route) => {
        const [method, template] = route.split(' ');
        const path = template.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const hasBody = !['GET', 'HEAD', 'OPTIONS'].includes(method);
        const res = await undiciFetch(app.url + path, {
          method,
          dispatcher: agent,
          ...(hasBody ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
        });
        const text = await res.text();
        if (res.status !== 401) answered.push(route);
        else if (!refusedCredentials(path, text)) notEnvelope.push(`${route}: ${text}`);
      }),
    );
    await agent.close();
    expect(answered.sort()).toEqual([...PUBLIC].sort());
    expect(notEnvelope).toEqual([]);
  });

  it('should reveal no address, path, URL or process id on the public health routes', async () => {
    for (const path of DISCREET) {
      const res = await app.request('GET', path);
      expect([200, 503]).toContain(res.status);
      expect(res.text).not.toMatch(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|:\/\/|"pid"|"url"/i);
      expect(res.text).not.toContain(process.cwd());
      expect(res.text).not.toContain(String(process.pid));
    }
    // /code/health still says which servers are healthy.
    const code = await app.request('GET', '/api/v1/code/health');
    expect(code.body).toMatchObject({ status: expect.any(String), details: { available: expect.any(Boolean) } });
    expect(code.body.details.servers).toEqual([{ protocol: 'openai', healthy: expect.any(Boolean) }]);
  });

  it('should serve /config/status and /health/detailed to admins and ops:read keys only', async () => {
    const ops = await factory.adminKey(app, ADMIN_KEY, { email: factory.email('ops'), permissions: ['ops:read'] });
    const user = await factory.adminKey(app, ADMIN_KEY, {
      email: factory.email('user'),
      permissions: ['code_generation', 'analytics:read'],
    });
    for (const path of ['/api/v1/config/status', '/health/detailed']) {
      expect((await app.request('GET', path, { headers: xApiKey(ops.key) })).status).toBe(200);
      expect((await app.request('GET', path, { headers: xApiKey(ADMIN_KEY) })).status).toBe(200);
      const refused = await app.request('GET', path, { headers: xApiKey(user.key) });
      expect(refused.status).toBe(403);
      expect(refused.body.error_code).toBe('E4005');
    }
    // The ops view keeps what operators need.
    const detailed = await app.request('GET', '/health/detailed', { headers: xApiKey(ops.key) });
    expect(detailed.body.checks.ai_model.servers[0].url).toMatch(/^http:\/\//);
    expect(detailed.body.process.pid).toBe(process.pid);
  });
});

describe('URLs with credentials', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      env: {
        ADMIN_API_KEY: ADMIN_KEY,
        // An address nothing listens on: the pool probes it, fails and logs that.
        VLLM_SERVER_URL: 'http://modeluser:model-secret-1@127.0.0.1:9',
        LOG_LEVEL: 'debug',
      },
    });
  });
  afterAll(() => app?.close());

  it('should mask user-info in status answers and logs', async () => {
    const status = await app.request('GET', '/api/v1/config/status', { headers: xApiKey(ADMIN_KEY) });
    expect(status.status).toBe(200);
    expect(status.body.config.VLLM_SERVER_URL).toBe('http://***@127.0.0.1:9');
    const detailed = await app.request('GET', '/health/detailed', { headers: xApiKey(ADMIN_KEY) });
    expect(detailed.text).not.toContain('model-secret-1');
    expect(detailed.text).not.toContain('modeluser');
    await app.request('POST', '/api/v1/code/generate', { body: { prompt: 'add two numbers' } });
    expect(app.logs.length).toBeGreaterThan(0);
    expect(app.logs.join('\n')).not.toContain('model-secret-1');
  });
});

/** A 401 in the route's own error format: spec §3 E4003, or OpenAI's authentication_error on the /v1 surface. */
function refusedCredentials(path: string, text: string): boolean {
  const body = JSON.parse(text);
  if (path.startsWith('/v1/')) return body.error?.type === 'authentication_error';
  return body.error_code === 'E4003';
}
