import { ModelServerEmulator } from '../emulator/emulator';
import { bearer, factory, until, xApiKey } from './support/identity-factory';
import { postSse, SseFrame, streamedText } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const V1 = '/api/v1';
const TASK = 'Write a function that reverses a string';

// The onboarding profile as the extension sends it.
const PROFILE_DATA = {
  pythonSkillLevel: 'expert',
  codeOutputStructure: 'minimal',
  explanationStyle: 'brief',
  projectContext: 'data_science',
  errorHandlingPreference: 'production_ready',
  preferredLanguageFeatures: ['dataclasses', 'generators'],
  onboardingVersion: '1.0.0',
};
const AS_REQUEST_PROFILE = {
  pythonSkillLevel: 'expert',
  codeOutputStructure: 'minimal',
  explanationStyle: 'brief',
  projectContext: 'data_science',
  errorHandlingPreference: 'production_ready',
  preferredLanguageFeatures: ['dataclasses', 'generators'],
};

describe('the VS Code extension flow through the real routes', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({
      // Generations must reach the emulator every time (a cached answer would not show the prompt).
      env: { VLLM_SERVER_URL: await emu.listen(), CACHE_ENABLED: 'false', MAX_CONCURRENT_STREAMS: '1' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  const generate = async (headers: Record<string, string>, extra: Record<string, unknown> = {}) => {
    const res = await app.request('POST', `${V1}/code/generate`, { body: { prompt: TASK, ...extra }, headers });
    expect(res.status).toBe(200);
    expect(res.body.generated_code).toEqual(expect.any(String));
    return emu.lastRequest()!;
  };

  it('should personalise generations with the profile stored at onboarding, request fields winning', async () => {
    const email = factory.email('extension');
    const gen = await app.request('POST', `${V1}/users/generate-api-key`, { body: { email } });
    expect(gen.status).toBe(200);
    const apiKey = gen.body.api_key as string;
    const login = await app.request('POST', `${V1}/users/login`, { body: { email } });
    expect(login.status).toBe(200);
    const jwt = login.body.access_token as string;

    // Before onboarding: the defaults.
    const defaults = await generate(bearer(jwt));
    const posted = await app.request('POST', `${V1}/users/profile`, {
      body: { profile_data: PROFILE_DATA, settings_mapping: [2, 11, 23] },
      headers: bearer(jwt),
    });
    expect(posted.status).toBe(200);

    // The same prompt the model gets when the request itself carries the whole profile (harness user: nothing stored).
    const expected = await generate({}, { user_profile: AS_REQUEST_PROFILE });
    expect(expected.prompt).not.toBe(defaults.prompt);

    const viaJwt = await generate(bearer(jwt));
    expect(viaJwt.prompt).toBe(expected.prompt);
    expect(viaJwt.max_tokens).toBe(expected.max_tokens);
    expect(viaJwt.temperature).toBe(expected.temperature);
    const viaKey = await generate(xApiKey(apiKey));
    expect(viaKey.prompt).toBe(expected.prompt);
    const viaBearerKey = await generate(bearer(apiKey));
    expect(viaBearerKey.prompt).toBe(expected.prompt);

    // The extension's flat fields and a nested user_profile beat the stored profile.
    const overridden = await generate(bearer(jwt), {
      programming_level: 'beginner',
      user_profile: { projectContext: 'web_development' },
    });
    const expectedOverride = await generate(
      {},
      { programming_level: 'beginner', user_profile: { ...AS_REQUEST_PROFILE, projectContext: 'web_development' } },
    );
    expect(overridden.prompt).toBe(expectedOverride.prompt);
    expect(overridden.prompt).not.toBe(expected.prompt);

    // The stream route uses the stored profile as well.
    const stream = await postSse(app.url, `${V1}/code/generate/stream`, { prompt: TASK }, { headers: bearer(jwt) });
    expect(stream.status).toBe(200);
    expect(stream.frames.at(-1)!.data).toBe('[DONE]');
    expect(emu.lastRequest()!.prompt).toBe(expected.prompt);
  });

  /** Opens a slow stream and resolves once its first token arrived; `stop()` disconnects and waits. */
  async function openSlowStream(headers: Record<string, string>) {
    emu.configure({ tokenDelayMs: 30 });
    const ctl = new AbortController();
    let firstToken!: () => void;
    const gotToken = new Promise<void>((r) => (firstToken = r));
    const done = postSse(
      app.url,
      `${V1}/code/generate/stream`,
      { prompt: 'Write a function that counts words in a text', max_tokens: 400 },
      {
        headers,
        signal: ctl.signal,
        onFrame: (f: SseFrame) => {
          if (f.data?.type === 'token') firstToken();
        },
      },
    );
    await gotToken;
    return {
      stop: async () => {
        ctl.abort();
        await done;
        emu.configure({ tokenDelayMs: 0 });
      },
    };
  }

  const activeStreams = async () =>
    Number(/^hapa_active_streams (\S+)$/m.exec((await app.request('GET', '/metrics')).text)?.[1]);

  it('should refuse a stream over the key cap with 429 E4013 in the stream envelope', async () => {
    const user = await factory.apiKey(app);
    const headers = xApiKey(user.key);
    const first = await openSlowStream(headers);
    try {
      const second = await postSse(app.url, `${V1}/code/generate/stream`, { prompt: TASK }, { headers });
      expect(second.status).toBe(429);
      expect(second.headers.get('content-type')).toMatch(/application\/json/);
      expect(second.headers.get('retry-after')).toBeTruthy();
      expect(second.body).toMatchObject({
        status: 'error',
        error_code: 'E4013',
        type: 'error',
        content: expect.stringMatching(/concurrent/i),
      });
      // The alias routes share the cap.
      const alias = await postSse(app.url, `${V1}/enhanced-stream-generate`, { prompt: TASK }, { headers });
      expect(alias.body).toMatchObject({ error_code: 'E4013', type: 'error' });
      // Another key is not affected.
      const other = await factory.apiKey(app);
      const free = await postSse(
        app.url,
        `${V1}/code/generate/stream`,
        { prompt: TASK, max_tokens: 10 },
        { headers: xApiKey(other.key) },
      );
      expect(free.status).toBe(200);
    } finally {
      await first.stop();
    }
  });

  it('should free a slot once its stream finishes', async () => {
    const user = await factory.apiKey(app);
    const headers = xApiKey(user.key);
    for (let i = 0; i < 3; i++) {
      const res = await postSse(app.url, `${V1}/code/generate/stream`, { prompt: TASK, max_tokens: 20 }, { headers });
      expect(res.status).toBe(200);
      expect(res.frames.at(-2)!.data).toMatchObject({ type: 'done' });
    }
  });

  it('should free the slot and the active-stream gauge when the client disconnects', async () => {
    const user = await factory.apiKey(app);
    const headers = xApiKey(user.key);
    const before = await activeStreams();
    const disconnectsBefore = emu.stats().disconnects;
    const first = await openSlowStream(headers);
    await first.stop();
    // The upstream request was aborted at once...
    await until(
      async () => emu.stats().disconnects,
      (n) => n > disconnectsBefore,
      3000,
    );
    // ...and the slot is free again.
    const again = await until(
      () => postSse(app.url, `${V1}/code/generate/stream`, { prompt: TASK, max_tokens: 20 }, { headers }),
      (r) => r.status === 200,
      3000,
    );
    expect(again.status).toBe(200);
    expect(again.frames.at(-2)!.data).toMatchObject({ type: 'done' });
    expect(streamedText(again.frames).length).toBeGreaterThan(0);
    expect(await activeStreams()).toBe(before);
  });
});
