import { createHash, randomBytes } from 'node:crypto';
import { ADMIN_KEY, bearer, factory, SECRET, xApiKey } from './support/identity-factory';
import { startTestApp, TestApp } from './support/test-app';

// The project-level testTimeout is not applied by jest 30; these tests start several apps.
jest.setTimeout(60_000);

const V1 = '/api/v1';
const randomKey = () => 'hapa_' + randomBytes(32).toString('base64url');
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

describe('security: key management cannot escalate privileges (open registration)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_ENABLED: 'false' },
    });
  });
  afterAll(() => app?.close());

  const issue = (email: string, permissions: string[]) => factory.adminKey(app, ADMIN_KEY, { email, permissions });
  const canAdmin = async (key: string) =>
    (await app.request('POST', `${V1}/admin/api-keys`, { body: { email: factory.email() }, headers: xApiKey(key) }))
      .status;

  it('should refuse rotating or revoking an admin key with a restricted key of the same user', async () => {
    const email = factory.email('holder');
    const admin = await issue(email, ['admin']);
    const restricted = await issue(email, ['code_completion']);

    const rotate = await app.request('POST', `${V1}/users/api-keys/${admin.keyId}/rotate`, {
      headers: xApiKey(restricted.key),
    });
    expect(rotate.status).toBe(403);
    expect(rotate.body.error_code).toBe('E4005');
    expect(rotate.text).not.toMatch(/hapa_/);
    const revoke = await app.request('DELETE', `${V1}/users/api-keys/${admin.keyId}`, {
      headers: xApiKey(restricted.key),
    });
    expect(revoke.status).toBe(403);
    expect(revoke.body.error_code).toBe('E4005');

    // Nothing changed: the admin key still works and no new key was stored.
    expect(await canAdmin(admin.key)).toBe(201);
    const rows = await app.db!.query<{ n: string }>(
      `SELECT count(*) AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`,
      [admin.userId],
    );
    expect(rows[0].n).toBe('2');
  });

  it('should refuse a key that lacks one of the target key’s permissions', async () => {
    const email = factory.email('partial');
    const wide = await issue(email, ['code_generation', 'code_completion', 'analytics:read']);
    const narrow = await issue(email, ['code_generation', 'code_completion']);
    for (const [method, path] of [
      ['POST', `${V1}/users/api-keys/${wide.keyId}/rotate`],
      ['DELETE', `${V1}/users/api-keys/${wide.keyId}`],
    ]) {
      const res = await app.request(method, path, { headers: xApiKey(narrow.key) });
      expect(res.status).toBe(403);
      expect(res.body.error_code).toBe('E4005');
    }
    // The other way round is ordinary key management.
    const rotated = await app.request('POST', `${V1}/users/api-keys/${narrow.keyId}/rotate`, {
      headers: xApiKey(wide.key),
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.permissions.sort()).toEqual(['code_completion', 'code_generation']);
  });

  it('should refuse an anonymous login token for the admin’s email from rotating or revoking the admin key', async () => {
    const email = factory.email('victim-admin');
    const admin = await issue(email, ['admin', 'code_generation', 'code_completion', 'profile']);
    // Open registration: anyone gets a login token for any email, without credentials.
    const login = await app.request('POST', `${V1}/users/login`, { body: { email } });
    expect(login.status).toBe(200);
    const token = login.body.access_token as string;

    const rotate = await app.request('POST', `${V1}/users/api-keys/${admin.keyId}/rotate`, { headers: bearer(token) });
    expect(rotate.status).toBe(403);
    expect(rotate.body.error_code).toBe('E4005');
    expect(rotate.text).not.toMatch(/hapa_/);
    const revoke = await app.request('DELETE', `${V1}/users/api-keys/${admin.keyId}`, { headers: bearer(token) });
    expect(revoke.status).toBe(403);
    expect(await canAdmin(admin.key)).toBe(201);
  });

  it('should still let users rotate and revoke their own ordinary keys, and admins any of their keys', async () => {
    const k1 = await factory.apiKey(app);
    const k2 = await factory.apiKey(app, k1.email);
    const token = (await app.request('POST', `${V1}/users/login`, { body: { email: k1.email } })).body.access_token;

    const viaJwt = await app.request('POST', `${V1}/users/api-keys/${k2.keyId}/rotate`, { headers: bearer(token) });
    expect(viaJwt.status).toBe(200);
    expect(viaJwt.body.permissions.sort()).toEqual(['code_completion', 'code_generation', 'profile']);
    const self = await app.request('POST', `${V1}/users/api-keys/${k1.keyId}/rotate`, { headers: xApiKey(k1.key) });
    expect(self.status).toBe(200);
    const revoked = await app.request('DELETE', `${V1}/users/api-keys/${viaJwt.body.key_id}`, {
      headers: xApiKey(self.body.api_key),
    });
    expect(revoked.status).toBe(200);

    const email = factory.email('admin-own');
    const admin = await issue(email, ['admin']);
    const other = await issue(email, ['code_completion', 'analytics:read']);
    const rotatedOther = await app.request('POST', `${V1}/users/api-keys/${other.keyId}/rotate`, {
      headers: xApiKey(admin.key),
    });
    expect(rotatedOther.status).toBe(200);
    const rotatedSelf = await app.request('POST', `${V1}/users/api-keys/${admin.keyId}/rotate`, {
      headers: xApiKey(admin.key),
    });
    expect(rotatedSelf.status).toBe(200);
    expect(rotatedSelf.body.permissions).toEqual(['admin']);
    expect(await canAdmin(rotatedSelf.body.api_key)).toBe(201);
  });
});

describe('security: login tokens carry no more than the key that obtained them (closed registration)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY, REGISTRATION_MODE: 'closed', RATE_LIMIT_ENABLED: 'false' },
    });
  });
  afterAll(() => app?.close());

  const login = (email: string, key: string) =>
    app.request('POST', `${V1}/users/login`, { body: { email }, headers: xApiKey(key) });

  it('should scope the token to the presenting key’s permissions', async () => {
    const email = factory.email('scoped');
    const completion = await factory.adminKey(app, ADMIN_KEY, { email, permissions: ['code_completion'] });
    const res = await login(email, completion.key);
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    expect(claimsOf(token).perm).toEqual(['code_completion']);

    const profile = await app.request('GET', `${V1}/users/profile`, { headers: bearer(token) });
    expect(profile.status).toBe(403);
    expect(profile.body.error_code).toBe('E4005');
    expect((await app.request('GET', `${V1}/users/me`, { headers: bearer(token) })).status).toBe(200);

    // Nor can the narrow token manage a wider key of the same user.
    const wide = await factory.adminKey(app, ADMIN_KEY, { email, permissions: ['code_completion', 'profile'] });
    const rotate = await app.request('POST', `${V1}/users/api-keys/${wide.keyId}/rotate`, { headers: bearer(token) });
    expect(rotate.status).toBe(403);
    expect(rotate.body.error_code).toBe('E4005');

    // A token obtained with a narrow token stays narrow.
    const again = await app.request('POST', `${V1}/users/login`, { body: { email }, headers: bearer(token) });
    expect(again.status).toBe(200);
    expect(claimsOf(again.body.access_token).perm).toEqual(['code_completion']);
  });

  it('should give full login-token permissions to a full key, and to admins (never admin itself)', async () => {
    const email = factory.email('full');
    const full = await factory.adminKey(app, ADMIN_KEY, {
      email,
      permissions: ['code_generation', 'code_completion', 'profile'],
    });
    const own = await login(email, full.key);
    expect(claimsOf(own.body.access_token).perm.sort()).toEqual(['code_completion', 'code_generation', 'profile']);
    expect((await app.request('GET', `${V1}/users/profile`, { headers: bearer(own.body.access_token) })).status).toBe(
      200,
    );

    const byAdmin = await app.request('POST', `${V1}/users/login`, { body: { email }, headers: xApiKey(ADMIN_KEY) });
    expect(byAdmin.status).toBe(200);
    expect(claimsOf(byAdmin.body.access_token).perm.sort()).toEqual(['code_completion', 'code_generation', 'profile']);
    const adminRoute = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: factory.email() },
      headers: bearer(byAdmin.body.access_token),
    });
    expect(adminRoute.status).toBe(403);
  });
});

describe.each([
  ['Redis', true],
  ['in-process counters', false],
])('security: failed authentications are limited per client IP (%s)', (_, redis) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      redis,
      env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_ENABLED: 'false', AUTH_FAILURE_LIMIT: '5' },
    });
  });
  afterAll(() => app?.close());

  it('should answer failing keys with 429 E4004 once an IP is over the limit, and still serve keys that verify', async () => {
    const known = await factory.apiKey(app);
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(known.key) })).status).toBe(200);
    const token = (await app.request('POST', `${V1}/users/login`, { body: { email: known.email } })).body.access_token;

    for (let i = 0; i < 5; i++) {
      const res = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(randomKey()) });
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe('E4003');
    }
    const limited = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(randomKey()) });
    expect(limited.status).toBe(429);
    expect(limited.body.error_code).toBe('E4004');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);

    // A valid key this instance has never seen (stored behind its back) is looked up and served all the same.
    const secret = randomKey();
    await app.db!.query(
      `INSERT INTO api_keys (id, user_id, key_hash, key_prefix, permissions, expires_at)
       VALUES (gen_random_uuid(), $1, $2, $3, ARRAY['profile'], now() + interval '1 day')`,
      [known.userId, createHash('sha256').update(secret).digest('hex'), secret.slice(0, 12)],
    );
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(secret) })).status).toBe(200);
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(known.key) })).status).toBe(200);
    expect((await app.request('GET', `${V1}/users/me`, { headers: bearer(token) })).status).toBe(200);
    // A hash that failed stays refused without a lookup, even once it exists (no key is ever issued with it).
    const failed = randomKey();
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(failed) })).status).toBe(429);
    await app.db!.query(
      `INSERT INTO api_keys (id, user_id, key_hash, key_prefix, permissions, expires_at)
       VALUES (gen_random_uuid(), $1, $2, $3, ARRAY['profile'], now() + interval '1 day')`,
      [known.userId, createHash('sha256').update(failed).digest('hex'), failed.slice(0, 12)],
    );
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(failed) })).status).toBe(429);
  });
});

describe.each([
  ['TRUST_PROXY=loopback', 'loopback', true],
  ['TRUST_PROXY=1', '1', true],
  ['no TRUST_PROXY', '', false],
])('security: client addresses behind a proxy (%s)', (_, trustProxy, separate) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      env: { RATE_LIMIT_ENABLED: 'false', AUTH_FAILURE_LIMIT: '2', TRUST_PROXY: trustProxy },
    });
  });
  afterAll(() => app?.close());

  const attempt = (forwardedFor: string) =>
    app.request('GET', `${V1}/users/me`, { headers: { ...xApiKey(randomKey()), 'X-Forwarded-For': forwardedFor } });

  it(`should ${separate ? 'give each forwarded client its own' : 'ignore X-Forwarded-For for the'} failed-auth budget`, async () => {
    for (let i = 0; i < 2; i++) expect((await attempt('203.0.113.7')).status).toBe(401);
    expect((await attempt('203.0.113.7')).status).toBe(429);
    expect((await attempt('198.51.100.9')).status).toBe(separate ? 401 : 429);
  });
});

describe('security: text that PostgreSQL cannot store is a coded 422', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY } });
  });
  afterAll(() => app?.close());

  const expect422 = (res: { status: number; body: { error_code?: string } }) => {
    expect(res.status).toBe(422);
    expect(res.body.error_code).toBe('E4006');
  };

  it('should reject lone surrogates and NUL in profile data, keys included', async () => {
    for (const profile_data of [
      { a: '\ud800' },
      { a: 'x\udc00y' },
      { nested: [{ b: 'ok\ud83d' }] },
      { ['k\udfff']: 1 },
      { a: 'nul\u0000' },
    ]) {
      expect422(await app.request('POST', `${V1}/users/profile`, { body: { profile_data } }));
      expect422(await app.request('PUT', `${V1}/users/profile`, { body: { profile_data } }));
    }
    // A well-formed pair (an emoji) is fine.
    const ok = await app.request('POST', `${V1}/users/profile`, { body: { profile_data: { a: 'hi \ud83d\ude00' } } });
    expect(ok.status).toBe(200);
    expect(ok.body.profile_data).toEqual({ a: 'hi 😀' });
  });

  it('should reject NUL and lone surrogates in usernames and key names', async () => {
    for (const username of ['nul\u0000user', 'lone\ud800']) {
      expect422(
        await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: factory.email(), username } }),
      );
      expect422(await app.request('POST', `${V1}/users/login`, { body: { email: factory.email(), username } }));
      expect422(await app.request('POST', `${V1}/admin/api-keys`, { body: { email: factory.email(), username } }));
      expect422(
        await app.request('POST', `${V1}/admin/api-keys`, { body: { email: factory.email(), name: username } }),
      );
    }
    expect422(await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: 'a\u0000@example.com' } }));
  });
});

describe('security: pagination bounds', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.close());

  it('should answer absurd page numbers and sizes with 422 E4006, not 500', async () => {
    for (const q of ['page=1e18', 'page=9007199254740993', 'page=100001', 'page_size=101', 'page=0']) {
      const res = await app.request('GET', `${V1}/error-monitoring/incidents?${q}`);
      expect(res.status).toBe(422);
      expect(res.body.error_code).toBe('E4006');
    }
    expect((await app.request('GET', `${V1}/error-monitoring/incidents?page=10000&page_size=100`)).status).toBe(200);
  });
});
