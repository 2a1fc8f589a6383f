import { Controller, Get, Module } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Authenticated, Principal } from '../src/common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../src/common/http/app-request';
import { UserPreferencesPort } from '../src/common/ports/user-preferences.port';
import { UsersModule } from '../src/users/users.module';
import { ADMIN_KEY, bearer, factory, SECRET, until, xApiKey } from './support/identity-factory';
import { DataSource } from 'typeorm';
import { CreateIdentity1795365152621 } from '../migrations/1795365152621-CreateIdentity';
import { createTestDatabase, INCIDENT_ID, startTestApp, TestApp, withAdmin } from './support/test-app';
import { pgUrlFor } from './support/test-env';

// A code-generation stand-in: injects the preferences port exactly as code generation will.
@Controller('prefs-probe')
class PrefsProbeController {
  constructor(private readonly prefs: UserPreferencesPort) {}
  @Get()
  @Authenticated({ permission: 'code_generation' })
  async get(@Principal() p: AuthPrincipal) {
    return { preferences: (await this.prefs.forUser(p.userId)) ?? null, via: p.via };
  }
}
@Module({ imports: [UsersModule], controllers: [PrefsProbeController] })
class PrefsProbeModule {}

// The project-level testTimeout is not applied by jest 30; these tests start several apps.
jest.setTimeout(60_000);

const V1 = '/api/v1';

describe('identity (open registration)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      extraModules: [PrefsProbeModule],
      env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_ENABLED: 'false' },
    });
  });
  afterAll(() => app?.close());

  it('should run the VS Code extension onboarding sequence end to end', async () => {
    const email = factory.email('onboard');
    const gen = await app.request('POST', `${V1}/users/generate-api-key`, { body: { email, username: 'onboarder' } });
    expect(gen.status).toBe(200);
    expect(gen.body).toMatchObject({
      api_key: expect.stringMatching(/^hapa_[A-Za-z0-9_-]{32,}$/),
      user_id: expect.any(String),
      permissions: expect.arrayContaining(['code_generation', 'code_completion', 'profile']),
      expires_in_days: 90,
      message: expect.any(String),
    });
    const expiresAt = new Date(gen.body.expires_at).getTime();
    expect(Math.abs(expiresAt - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);

    const login = await app.request('POST', `${V1}/users/login`, { body: { email, username: 'onboarder' } });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 1800 });
    const [h, p, s] = login.body.access_token.split('.');
    expect(s).toBeTruthy();
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    expect(claims.sub).toBe(gen.body.user_id);
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(1790);
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(1800);
    const token = login.body.access_token as string;

    const profile_data = {
      pythonSkillLevel: 'intermediate',
      codeOutputStructure: 'standard',
      explanationStyle: 'detailed',
      projectContext: 'web_development',
      errorHandlingPreference: 'basic',
      preferredLanguageFeatures: ['type_hints', 'f_strings'],
      onboardingVersion: '1.0.0',
    };
    const posted = await app.request('POST', `${V1}/users/profile`, {
      body: { profile_data, settings_mapping: [2, 11, 23] },
      headers: bearer(token),
    });
    expect(posted.status).toBeGreaterThanOrEqual(200);
    expect(posted.status).toBeLessThan(300);

    const got = await app.request('GET', `${V1}/users/profile`, { headers: bearer(token) });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ user_id: gen.body.user_id, profile_data, settings_mapping: [2, 11, 23] });

    const me = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(gen.body.api_key) });
    expect(me.body).toEqual({ id: gen.body.user_id, email, username: 'onboarder' });

    const none = await app.request('GET', `${V1}/users/settings`, { headers: bearer(token) });
    expect(none.status).toBe(200);
    expect(none.body).toEqual([]);
    const set = await app.request('POST', `${V1}/users/settings`, {
      body: { option_ids: [2, 4, 7] },
      headers: bearer(token),
    });
    expect(set.status).toBe(200);
    const after = await app.request('GET', `${V1}/users/settings`, { headers: xApiKey(gen.body.api_key) });
    expect(after.body).toEqual([
      { id: 2, setting_type: 'python_skill_level', option_value: 'intermediate' },
      { id: 4, setting_type: 'code_output_structure', option_value: 'standard' },
      { id: 7, setting_type: 'explanation_style', option_value: 'standard' },
    ]);

    const put = await app.request('PUT', `${V1}/users/profile`, {
      body: { profile_data: { ...profile_data, pythonSkillLevel: 'expert' } },
      headers: bearer(token),
    });
    expect(put.status).toBe(200);
    const again = await app.request('GET', `${V1}/users/profile`, { headers: bearer(token) });
    expect(again.body.profile_data.pythonSkillLevel).toBe('expert');
    expect(again.body.settings_mapping).toEqual([]);
  });

  it('should normalise emails and default the username to the local part', async () => {
    const local = factory.email('norm').split('@')[0];
    const a = await app.request('POST', `${V1}/users/generate-api-key`, {
      body: { email: `  ${local.toUpperCase()}@Example.COM ` },
    });
    expect(a.status).toBe(200);
    const b = await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: `${local}@example.com` } });
    expect(b.body.user_id).toBe(a.body.user_id);
    expect(b.body.api_key).not.toBe(a.body.api_key);
    const me = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(a.body.api_key) });
    expect(me.body).toEqual({ id: a.body.user_id, email: `${local}@example.com`, username: local });
  });

  it('should store no plaintext key anywhere in the database, only its SHA-256', async () => {
    const issued = [await factory.apiKey(app), await factory.apiKey(app)];
    const admin = await factory.adminKey(app, ADMIN_KEY, {
      email: factory.email('adm'),
      permissions: ['analytics:read'],
    });
    const rotated = await app.request('POST', `${V1}/users/api-keys/${issued[0].keyId}/rotate`, {
      headers: xApiKey(issued[0].key),
    });
    expect(rotated.status).toBe(200);
    const secrets = [...issued.map((k) => k.key), admin.key, rotated.body.api_key as string];
    const tables = await app.db!.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['users', 'api_keys']));
    let dump = '';
    for (const { table_name } of tables) {
      const rows = await app.db!.query(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
      dump += rows.map((r) => r.j).join('\n');
    }
    for (const secret of secrets) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice(5)); // the random part alone
      const hash = createHash('sha256').update(secret).digest('hex');
      const [row] = await app.db!.query(`SELECT key_prefix FROM api_keys WHERE key_hash = $1`, [hash]);
      expect(row.key_prefix).toBe(secret.slice(0, 12));
    }
  });

  it('should refuse missing, unknown and malformed credentials with 401 E4003', async () => {
    const cases: Record<string, string>[] = [
      {},
      xApiKey('hapa_' + 'A'.repeat(43)),
      xApiKey('not-a-key'),
      bearer('hapa_' + 'B'.repeat(43)),
      bearer('a.b.c'),
      { Authorization: 'Basic Zm9vOmJhcg==' },
    ];
    for (const headers of cases) {
      const res = await app.request('GET', `${V1}/users/me`, { headers });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'E4003' });
      expect(res.body.incident_id).toMatch(INCIDENT_ID);
      expect(res.text).not.toContain('hapa_A');
    }
  });

  it('should accept an API key as X-API-Key or Bearer, and prefer the API key when both are sent', async () => {
    const k = await factory.apiKey(app);
    const other = await factory.apiKey(app);
    const token = (await app.request('POST', `${V1}/users/login`, { body: { email: other.email } })).body.access_token;
    expect((await app.request('GET', `${V1}/users/me`, { headers: bearer(k.key) })).body.id).toBe(k.userId);
    const both = await app.request('GET', `${V1}/users/me`, { headers: { ...xApiKey(k.key), ...bearer(token) } });
    expect(both.body.id).toBe(k.userId);
    const badKeyGoodToken = await app.request('GET', `${V1}/users/me`, {
      headers: { ...xApiKey('hapa_' + 'C'.repeat(43)), ...bearer(token) },
    });
    expect(badKeyGoodToken.status).toBe(401);
  });

  it('should ignore credentials on login while registration is open (a stale key must not block onboarding)', async () => {
    const email = factory.email('stale');
    const res = await app.request('POST', `${V1}/users/login`, {
      body: { email },
      headers: xApiKey('hapa_' + 'E'.repeat(43)),
    });
    expect(res.status).toBe(200);
    const me = await app.request('GET', `${V1}/users/me`, { headers: bearer(res.body.access_token) });
    expect(me.body).toMatchObject({ email, username: email.split('@')[0] });
  });

  it('should refuse forged, alg-none, other-alg and expired login tokens', async () => {
    const k = await factory.apiKey(app);
    const now = Math.floor(Date.now() / 1000);
    const forged = factory.jwt('some-other-secret-of-32-characters!!', { sub: k.userId, exp: now + 600 });
    const none =
      factory
        .jwt(SECRET, { sub: k.userId, exp: now + 600 }, { alg: 'none' })
        .split('.')
        .slice(0, 2)
        .join('.') + '.';
    const hs512 = factory.jwt(SECRET, { sub: k.userId, exp: now + 600 }, { alg: 'HS512', typ: 'JWT' });
    for (const t of [forged, none, hs512]) {
      const res = await app.request('GET', `${V1}/users/me`, { headers: bearer(t) });
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe('E4003');
    }
    const valid = factory.jwt(SECRET, { sub: k.userId, exp: now + 600 });
    expect((await app.request('GET', `${V1}/users/me`, { headers: bearer(valid) })).status).toBe(200);
    const expired = factory.jwt(SECRET, { sub: k.userId, exp: now - 1 });
    const res = await app.request('GET', `${V1}/users/me`, { headers: bearer(expired) });
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe('E4010');
  });

  it('should refuse an expired API key with 401 E4010', async () => {
    const k = await factory.apiKey(app);
    await app.db!.query(`UPDATE api_keys SET expires_at = now() - interval '1 day' WHERE id = $1`, [k.keyId]);
    const res = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) });
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe('E4010');
    const list = await app.request('GET', `${V1}/users/api-keys`, { headers: bearer(await token(app, k.email)) });
    expect(list.body.find((x: { id: string }) => x.id === k.keyId).status).toBe('expired');
  });

  it('should answer a missing permission with 403 E4005 (keys and login tokens)', async () => {
    const analyst = await factory.adminKey(app, ADMIN_KEY, {
      email: factory.email('analyst'),
      permissions: ['analytics:read'],
    });
    const res = await app.request('GET', `${V1}/users/profile`, { headers: xApiKey(analyst.key) });
    expect(res.status).toBe(403);
    expect(res.body.error_code).toBe('E4005');
    const k = await factory.apiKey(app);
    const viaJwt = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: factory.email() },
      headers: bearer(await token(app, k.email)),
    });
    expect(viaJwt.status).toBe(403);
    expect(viaJwt.body.error_code).toBe('E4005');
    const viaSelfServiceKey = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: factory.email() },
      headers: xApiKey(k.key),
    });
    expect(viaSelfServiceKey.status).toBe(403);
  });

  it('should list own keys without secrets, revoke and rotate them', async () => {
    const email = factory.email('keys');
    const k1 = await factory.apiKey(app, email);
    const k2 = await factory.apiKey(app, email);
    const stranger = await factory.apiKey(app);

    const list = await app.request('GET', `${V1}/users/api-keys`, { headers: xApiKey(k1.key) });
    expect(list.status).toBe(200);
    expect(list.body.map((k: { id: string }) => k.id).sort()).toEqual([k1.keyId, k2.keyId].sort());
    for (const item of list.body) {
      expect(Object.keys(item).sort()).toEqual(
        [
          'created_at',
          'expires_at',
          'id',
          'key_prefix',
          'last_used_at',
          'max_concurrent_streams',
          'name',
          'permissions',
          'rate_limit',
          'revoked_at',
          'status',
        ].sort(),
      );
      expect(item.status).toBe('active');
    }
    expect(list.text).not.toContain(k1.key);
    expect(list.text).not.toContain(k2.key);
    expect(list.text).not.toMatch(/[0-9a-f]{64}/);

    // Someone else's key, a bad id: not found, nothing revoked.
    expect(
      (await app.request('DELETE', `${V1}/users/api-keys/${k1.keyId}`, { headers: xApiKey(stranger.key) })).status,
    ).toBe(404);
    expect((await app.request('DELETE', `${V1}/users/api-keys/not-a-uuid`, { headers: xApiKey(k1.key) })).status).toBe(
      404,
    );
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k1.key) })).status).toBe(200);

    const revoked = await app.request('DELETE', `${V1}/users/api-keys/${k2.keyId}`, { headers: xApiKey(k1.key) });
    expect(revoked.status).toBe(200);
    const refused = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k2.key) });
    expect(refused.status).toBe(401);
    expect(refused.body.error_code).toBe('E4003');
    expect((await app.request('DELETE', `${V1}/users/api-keys/${k2.keyId}`, { headers: xApiKey(k1.key) })).status).toBe(
      404,
    );

    const rotated = await app.request('POST', `${V1}/users/api-keys/${k1.keyId}/rotate`, { headers: xApiKey(k1.key) });
    expect(rotated.status).toBe(200);
    expect(rotated.body.api_key).toMatch(/^hapa_/);
    expect(rotated.body.key_id).not.toBe(k1.keyId);
    expect(rotated.body.permissions).toEqual(expect.arrayContaining(['code_generation', 'profile']));
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k1.key) })).status).toBe(401);
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(rotated.body.api_key) })).body.id).toBe(
      k1.userId,
    );
  });

  it('should record last_used_at lazily, in a batch shortly after use', async () => {
    const k = await factory.apiKey(app);
    for (let i = 0; i < 3; i++) await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) });
    const rows = await until(
      () => app.db!.query<{ last_used_at: Date | null }>(`SELECT last_used_at FROM api_keys WHERE id = $1`, [k.keyId]),
      (r) => r[0].last_used_at !== null,
      8000,
    );
    expect(rows[0].last_used_at).not.toBeNull();
  });

  it('should give code generation the stored preferences, refreshed when the profile changes', async () => {
    const k = await factory.apiKey(app);
    const empty = await app.request('GET', `${V1}/prefs-probe`, { headers: xApiKey(k.key) });
    expect(empty.body).toEqual({ preferences: null, via: 'api_key' });
    await app.request('POST', `${V1}/users/profile`, {
      body: {
        profile_data: {
          pythonSkillLevel: 'beginner',
          explanationStyle: 'educational',
          preferredLanguageFeatures: ['dataclasses'],
        },
      },
      headers: xApiKey(k.key),
    });
    const first = await app.request('GET', `${V1}/prefs-probe`, { headers: xApiKey(k.key) });
    expect(first.body.preferences).toEqual({
      pythonSkillLevel: 'beginner',
      explanationStyle: 'educational',
      preferredLanguageFeatures: ['dataclasses'],
    });
    await app.request('PUT', `${V1}/users/profile`, {
      body: { profile_data: { pythonSkillLevel: 'advanced' } },
      headers: xApiKey(k.key),
    });
    await app.request('POST', `${V1}/users/settings`, { body: { option_ids: [5] }, headers: xApiKey(k.key) });
    const second = await app.request('GET', `${V1}/prefs-probe`, { headers: xApiKey(k.key) });
    expect(second.body.preferences).toEqual({ pythonSkillLevel: 'advanced', codeOutputStructure: 'detailed' });
  });

  describe('bad input', () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      app.request('POST', `${V1}${path}`, { body, headers });

    it('should reject invalid emails and over-long usernames with coded 422s, creating nothing', async () => {
      const before = await app.db!.query<{ n: string }>(`SELECT count(*) AS n FROM users`);
      for (const email of [
        'not-an-email',
        'a@',
        '@b.com',
        'x'.repeat(250) + '@example.com',
        'a\u0000b@example.com',
        42,
      ]) {
        const res = await post('/users/generate-api-key', { email });
        expect(res.status).toBe(422);
        expect(res.body.error_code).toBe('E4006');
      }
      const missing = await post('/users/generate-api-key', { username: 'x' });
      expect(missing.status).toBe(422);
      expect(missing.body.error_code).toBe('E4002');
      const long = await post('/users/generate-api-key', { email: factory.email(), username: 'u'.repeat(101) });
      expect(long.status).toBe(422);
      expect(long.body.details[0].field).toBe('username');
      const ctrl = await post('/users/login', { email: factory.email(), username: 'bad\u0000name' });
      expect(ctrl.status).toBe(422);
      const after = await app.db!.query<{ n: string }>(`SELECT count(*) AS n FROM users`);
      expect(after[0].n).toBe(before[0].n);
    });

    it('should store SQL and script text verbatim and harmlessly', async () => {
      const username = `Robert'); DROP TABLE users;-- <script>alert(1)</script>`;
      const gen = await post('/users/generate-api-key', { email: factory.email('sql'), username, is_admin: true });
      expect(gen.status).toBe(200);
      const me = await app.request('GET', `${V1}/users/me`, { headers: xApiKey(gen.body.api_key) });
      expect(me.body.username).toBe(username);
      const profile_data = {
        note: "'; DELETE FROM api_keys; --",
        html: '<img src=x onerror=alert(1)>',
        nested: { a: ['${jndi:x}'] },
      };
      const saved = await post('/users/profile', { profile_data, admin: true }, xApiKey(gen.body.api_key));
      expect(saved.status).toBe(200);
      const got = await app.request('GET', `${V1}/users/profile`, { headers: xApiKey(gen.body.api_key) });
      expect(got.body.profile_data).toEqual(profile_data);
      expect(got.body.admin).toBeUndefined();
      expect(gen.body.permissions).not.toContain('admin');
      expect((await app.db!.query(`SELECT count(*) AS n FROM api_keys`))[0].n).not.toBe('0');
    });

    it('should reject bad profile and settings bodies without a partial write', async () => {
      const k = await factory.apiKey(app);
      const h = xApiKey(k.key);
      expect((await post('/users/settings', { option_ids: [1, 3] }, h)).status).toBe(200);
      const bad: [unknown, string][] = [
        [{ option_ids: [1, 'x'] }, 'E4006'],
        [{ option_ids: [1.5] }, 'E4006'],
        [{ option_ids: '1' }, 'E4006'],
        [{ option_ids: [2, 99] }, 'E4006'],
        [{ option_ids: [2, -1] }, 'E4006'],
        [{ option_ids: [1, 2] }, 'E4006'],
        [{}, 'E4002'],
      ];
      for (const [body, code] of bad) {
        const res = await post('/users/settings', body, h);
        expect(res.status).toBe(422);
        expect(res.body.error_code).toBe(code);
      }
      const settings = await app.request('GET', `${V1}/users/settings`, { headers: h });
      expect(settings.body.map((s: { id: number }) => s.id)).toEqual([1, 3]);

      await post('/users/profile', { profile_data: { keep: 'me' }, settings_mapping: [1] }, h);
      const badProfiles: unknown[] = [
        { profile_data: 'text' },
        { profile_data: [1, 2] },
        { profile_data: { s: 'nul \u0000 char' } },
        { profile_data: {}, settings_mapping: [1, 'two'] },
        { profile_data: {}, settings_mapping: [1e12] },
        { profile_data: {}, settings_mapping: 'x' },
      ];
      for (const body of badProfiles) {
        const res = await post('/users/profile', body, h);
        expect(res.status).toBe(422);
        expect(['E4002', 'E4006']).toContain(res.body.error_code);
      }
      let deep: unknown = 'bottom';
      for (let i = 0; i < 40; i++) deep = { d: deep };
      expect((await post('/users/profile', { profile_data: deep }, h)).status).toBe(422);
      const profile = await app.request('GET', `${V1}/users/profile`, { headers: h });
      expect(profile.body).toMatchObject({ profile_data: { keep: 'me' }, settings_mapping: [1] });
    });

    it('should reject unknown permissions and bad limits when an admin issues a key', async () => {
      const cases = [
        { email: factory.email(), permissions: ['superuser'] },
        { email: factory.email(), permissions: 'admin' },
        { email: factory.email(), expires_in_days: 0 },
        { email: factory.email(), rate_limit: 'many' },
        { email: factory.email(), max_concurrent_streams: -1 },
      ];
      for (const body of cases) {
        const res = await post('/admin/api-keys', body, xApiKey(ADMIN_KEY));
        expect(res.status).toBe(422);
        expect(res.body.error_code).toBe('E4006');
      }
      const users = await app.db!.query(`SELECT 1 FROM users WHERE email = ANY($1)`, [cases.map((c) => c.email)]);
      expect(users).toHaveLength(0);
    });
  });
});

describe('identity (closed registration)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      env: { SECRET_KEY: SECRET, ADMIN_API_KEY: ADMIN_KEY, REGISTRATION_MODE: 'closed', RATE_LIMIT_ENABLED: 'false' },
    });
  });
  afterAll(() => app?.close());

  it('should refuse self-service keys and key-less logins', async () => {
    const gen = await app.request('POST', `${V1}/users/generate-api-key`, { body: { email: factory.email() } });
    expect(gen.status).toBe(403);
    expect(gen.body.error_code).toBe('E4005');
    const login = await app.request('POST', `${V1}/users/login`, { body: { email: factory.email() } });
    expect(login.status).toBe(401);
    expect(login.body.error_code).toBe('E4003');
    expect((await app.db!.query(`SELECT count(*) AS n FROM users`))[0].n).toBe('0');
  });

  it('should let the bootstrap admin issue keys with chosen permissions, expiry and limits', async () => {
    const email = factory.email('closed');
    expect((await app.request('POST', `${V1}/admin/api-keys`, { body: { email } })).status).toBe(401);
    const res = await app.request('POST', `${V1}/admin/api-keys`, {
      body: {
        email: email.toUpperCase(),
        username: 'Closed User',
        permissions: ['code_generation', 'profile', 'admin'],
        expires_in_days: 7,
        rate_limit: 500,
        max_concurrent_streams: 2,
        name: 'ci',
      },
      headers: bearer(ADMIN_KEY),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      api_key: expect.stringMatching(/^hapa_/),
      permissions: ['code_generation', 'profile', 'admin'],
      expires_in_days: 7,
      rate_limit: 500,
      max_concurrent_streams: 2,
    });
    expect(Math.abs(new Date(res.body.expires_at).getTime() - (Date.now() + 7 * 86_400_000))).toBeLessThan(60_000);
    const [row] = await app.db!.query(`SELECT u.email, u.username FROM users u WHERE u.id = $1`, [res.body.user_id]);
    expect(row).toEqual({ email, username: 'Closed User' });

    // Login now needs the user's own key.
    const login = await app.request('POST', `${V1}/users/login`, {
      body: { email },
      headers: xApiKey(res.body.api_key),
    });
    expect(login.status).toBe(200);
    const me = await app.request('GET', `${V1}/users/me`, { headers: bearer(login.body.access_token) });
    expect(me.body.email).toBe(email);

    // A key with `admin` issues keys too; its holder cannot log in as someone else without being admin.
    const second = await app.request('POST', `${V1}/admin/api-keys`, {
      body: { email: factory.email('second'), permissions: ['code_completion'] },
      headers: xApiKey(res.body.api_key),
    });
    expect(second.status).toBe(201);
    const other = await app.request('POST', `${V1}/users/login`, {
      body: { email },
      headers: xApiKey(second.body.api_key),
    });
    expect(other.status).toBe(403);
    expect(other.body.error_code).toBe('E4005');
    const wrongKey = await app.request('POST', `${V1}/users/login`, {
      body: { email },
      headers: xApiKey('hapa_' + 'D'.repeat(43)),
    });
    expect(wrongKey.status).toBe(401);
  });
});

describe('identity across instances', () => {
  it('should refuse a revoked key on a second instance within 5 s (pub/sub, even with a long cache TTL)', async () => {
    const database = await createTestDatabase();
    const redisPrefix = `hapa-test:shared-${Date.now()}:`;
    const env = { SECRET_KEY: SECRET, RATE_LIMIT_ENABLED: 'false', AUTH_CACHE_TTL_SECONDS: '120' };
    const a = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
    });
    const b = await startTestApp({
      apiKey: false,
      database,
      redisPrefix,
      env,
    });
    try {
      const k = await factory.apiKey(a);
      // Warm both caches.
      expect((await a.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) })).status).toBe(200);
      expect((await b.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) })).status).toBe(200);
      expect((await a.request('DELETE', `${V1}/users/api-keys/${k.keyId}`, { headers: xApiKey(k.key) })).status).toBe(
        200,
      );
      const started = Date.now();
      const res = await until(
        () => b.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) }),
        (r) => r.status === 401,
        5000,
      );
      expect(res.status).toBe(401);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

async function token(app: TestApp, email: string): Promise<string> {
  return (await app.request('POST', `${V1}/users/login`, { body: { email } })).body.access_token;
}

describe('identity on embedded PGlite', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      apiKey: false,
      embedded: true,
      redis: false,
      env: { SECRET_KEY: SECRET, RATE_LIMIT_ENABLED: 'false' },
    });
  });
  afterAll(() => app?.close());

  it('should onboard, manage keys and store settings the same way', async () => {
    const k = await factory.apiKey(app);
    const token = (await app.request('POST', `${V1}/users/login`, { body: { email: k.email } })).body.access_token;
    const saved = await app.request('POST', `${V1}/users/profile`, {
      body: { profile_data: { pythonSkillLevel: 'advanced' }, settings_mapping: [1, 2] },
      headers: bearer(token),
    });
    expect(saved.status).toBe(200);
    expect((await app.request('GET', `${V1}/users/profile`, { headers: bearer(token) })).body).toMatchObject({
      profile_data: { pythonSkillLevel: 'advanced' },
      settings_mapping: [1, 2],
    });
    expect(
      (await app.request('POST', `${V1}/users/settings`, { body: { option_ids: [1, 9] }, headers: bearer(token) }))
        .status,
    ).toBe(200);
    expect((await app.request('GET', `${V1}/users/settings`, { headers: bearer(token) })).body).toHaveLength(2);
    const rotated = await app.request('POST', `${V1}/users/api-keys/${k.keyId}/rotate`, { headers: xApiKey(k.key) });
    expect(rotated.status).toBe(200);
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(k.key) })).status).toBe(401);
    const del = await app.request('DELETE', `${V1}/users/api-keys/${rotated.body.key_id}`, { headers: bearer(token) });
    expect(del.status).toBe(200);
    expect((await app.request('GET', `${V1}/users/me`, { headers: xApiKey(rotated.body.api_key) })).status).toBe(401);
  });
});

describe('identity migration', () => {
  it('should go down and up again cleanly on an empty database', async () => {
    const name = `hapa_${Date.now().toString(36)}_${process.pid}_mig`;
    await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
    const ds = new DataSource({ type: 'postgres', url: pgUrlFor(name) });
    await ds.initialize();
    try {
      const qr = ds.createQueryRunner();
      const sut = new CreateIdentity1795365152621();
      const tables = async () =>
        (
          await qr.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
        ).map((r: { table_name: string }) => r.table_name);
      await sut.up(qr);
      expect(await tables()).toEqual(['api_keys', 'user_profiles', 'user_settings', 'users']);
      await sut.down(qr);
      expect(await tables()).toEqual([]);
      await sut.up(qr);
      expect(await tables()).toHaveLength(4);
      await qr.release();
    } finally {
      await ds.destroy();
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    }
  });
});
