import { ModelServerEmulator } from '../emulator/emulator';
import { factory, xApiKey } from './support/identity-factory';
import { createTestDatabase, startTestApp, TestApp } from './support/test-app';

// Several apps per test.
jest.setTimeout(60_000);

const V1 = '/api/v1';
const TASK = 'Write a function that sorts a list';

/** The prompt the model server received for one generation through `app` with `key`. */
async function promptSent(
  app: TestApp,
  emu: ModelServerEmulator,
  headers: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await app.request('POST', `${V1}/code/generate`, { body: { prompt: TASK, ...extra }, headers });
  expect(res.status).toBe(200);
  return emu.lastRequest()!.prompt;
}

const profile = (pythonSkillLevel: string) => ({
  profile_data: { pythonSkillLevel, explanationStyle: 'brief' },
  settings_mapping: [],
});

describe('stored preferences in the shared user_profiles cache', () => {
  let emu: ModelServerEmulator;
  beforeAll(async () => {
    emu = new ModelServerEmulator();
    await emu.listen();
  });
  afterAll(() => emu?.close());

  it('should show a profile update made through one instance on the next generation through another, and obey cache clear', async () => {
    const database = await createTestDatabase();
    const redisPrefix = `hapa-test:prefs-${Date.now()}:`;
    // CACHE_ENABLED=false: every generation goes upstream, so each one shows the prompt it built.
    const env = { VLLM_SERVER_URL: emu.url, CACHE_ENABLED: 'false' };
    const a = await startTestApp({ database, redisPrefix, env });
    const b = await startTestApp({ database, redisPrefix, env });
    try {
      const user = await factory.apiKey(a);
      const own = xApiKey(user.key);
      // What each skill level looks like when the request itself carries it (harness user: no stored profile).
      const expected = async (level: string) =>
        promptSent(b, emu, {}, { user_profile: { pythonSkillLevel: level, explanationStyle: 'brief' } });
      const beginner = await expected('beginner');
      const expert = await expected('expert');
      const intermediate = await expected('intermediate');
      expect(new Set([beginner, expert, intermediate]).size).toBe(3);

      expect((await a.request('POST', `${V1}/users/profile`, { body: profile('beginner'), headers: own })).status).toBe(
        200,
      );
      expect(await promptSent(b, emu, own)).toBe(beginner); // B now holds the profile in the cache
      expect((await a.request('PUT', `${V1}/users/profile`, { body: profile('expert'), headers: own })).status).toBe(
        200,
      );
      expect(await promptSent(b, emu, own)).toBe(expert);

      // A change behind the application's back stays unseen while cached (the hot path reads the cache)...
      await database.query(
        `UPDATE user_profiles SET profile_data = jsonb_set(profile_data, '{pythonSkillLevel}', '"intermediate"') WHERE user_id = $1`,
        [user.userId],
      );
      expect(await promptSent(b, emu, own)).toBe(expert);
      const stats = await a.request('GET', `${V1}/cache/stats`);
      expect(stats.body.by_type.user_profiles.entries).toBeGreaterThanOrEqual(1);
      // ...until an operator clears user_profiles on any instance.
      const cleared = await a.request('DELETE', `${V1}/cache/clear`, {
        body: { cache_type: 'user_profiles', confirm: true },
      });
      expect(cleared.status).toBe(200);
      expect(cleared.body.deleted_entries).toBeGreaterThanOrEqual(1);
      expect(await promptSent(b, emu, own)).toBe(intermediate);

      // Settings changes invalidate too.
      await database.query(`UPDATE user_profiles SET profile_data = '{}'::jsonb WHERE user_id = $1`, [user.userId]);
      expect(
        (await a.request('POST', `${V1}/users/settings`, { body: { option_ids: [1, 6] }, headers: own })).status,
      ).toBe(200);
      expect(await promptSent(b, emu, own)).toBe(beginner);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it('should cache and clear stored preferences in process without Redis', async () => {
    const app = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: emu.url, CACHE_ENABLED: 'false' } });
    try {
      const user = await factory.apiKey(app);
      const own = xApiKey(user.key);
      const expert = await promptSent(app, emu, {}, { user_profile: { pythonSkillLevel: 'expert' } });
      const beginner = await promptSent(app, emu, {}, { user_profile: { pythonSkillLevel: 'beginner' } });
      await app.request('POST', `${V1}/users/profile`, {
        body: { profile_data: { pythonSkillLevel: 'expert' }, settings_mapping: [] },
        headers: own,
      });
      expect(await promptSent(app, emu, own)).toBe(expert);
      await app.db!.query(
        `UPDATE user_profiles SET profile_data = '{"pythonSkillLevel":"beginner"}' WHERE user_id = $1`,
        [user.userId],
      );
      expect(await promptSent(app, emu, own)).toBe(expert);
      const cleared = await app.request('DELETE', `${V1}/cache/clear`, { body: { cache_type: 'all', confirm: true } });
      expect(cleared.status).toBe(200);
      expect(await promptSent(app, emu, own)).toBe(beginner);
    } finally {
      await app.close();
    }
  });
});
