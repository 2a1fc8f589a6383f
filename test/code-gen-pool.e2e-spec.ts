import { setTimeout as sleep } from 'node:timers/promises';
import { ModelServerEmulator } from '../emulator/emulator';
import { postSse } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';

async function until(check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('model-server pool', () => {
  it('should answer 503 E5005 with no healthy server and serve again once the probe re-admits it', async () => {
    const emu = new ModelServerEmulator();
    const app = await startTestApp({
      redis: false,
      env: { VLLM_SERVER_URL: await emu.listen(), HEALTH_PROBE_INTERVAL: '0.1' },
    });
    try {
      emu.configure({ healthy: false });
      await until(async () => (await app.request('GET', '/api/v1/code/health')).body.status === 'unhealthy');
      const one = await app.request('POST', '/api/v1/code/generate', { body: { prompt: 'Write a sort function' } });
      expect(one.status).toBe(503);
      expect(one.body.error_code).toBe('E5005');
      expect(one.headers.get('retry-after')).toBeTruthy();
      const stream = await postSse(app.url, '/api/v1/code/generate/stream', { prompt: 'Write a sort function' });
      expect(stream.status).toBe(503);
      expect(stream.body).toMatchObject({ error_code: 'E5005', type: 'error' });
      emu.configure({ healthy: true });
      await until(async () => (await app.request('GET', '/api/v1/code/health')).body.status === 'healthy');
      expect(
        (await app.request('POST', '/api/v1/code/generate', { body: { prompt: 'Write a sort function' } })).status,
      ).toBe(200);
      expect(app.logs.filter((l) => l.includes('model server down')).length).toBe(1);
    } finally {
      await app.close();
      await emu.close();
    }
  });

  it('should take out a server that refuses connections at once, retry on another, and re-admit it', async () => {
    const a = new ModelServerEmulator();
    const b = new ModelServerEmulator();
    const urlA = await a.listen();
    const urlB = await b.listen();
    const portB = Number(new URL(urlB).port);
    // B first: with equal load it is picked first.
    const app = await startTestApp({
      redis: false,
      env: { VLLM_SERVER_URL: `${urlB},hapa+${urlA}`, HEALTH_PROBE_INTERVAL: '1' },
    });
    try {
      // Close B right after a probe, so the next request (not the probe) finds it refusing.
      const probes = b.stats().byRoute['/health'] ?? 0;
      await until(() => (b.stats().byRoute['/health'] ?? 0) > probes);
      await b.close();
      const res = await app.request('POST', '/api/v1/code/generate', {
        body: { prompt: 'Write a function that adds numbers' },
      });
      expect(res.status).toBe(200);
      expect(a.stats().requests).toBe(1);
      const health = await app.request('GET', '/api/v1/code/health');
      expect(health.body.details.servers.map((s: { healthy: boolean }) => s.healthy)).toEqual([false, true]);
      await b.listen(portB);
      await until(
        async () =>
          (await app.request('GET', '/api/v1/code/health')).body.status === 'healthy' &&
          (await app.request('GET', '/api/v1/code/health')).body.details.servers[0].healthy === true,
      );
    } finally {
      await app.close();
      await a.close();
      await b.close();
    }
  });
});

describe('model-server pool: one first-token deadline across retries', () => {
  let a: ModelServerEmulator;
  let b: ModelServerEmulator;
  let app: TestApp;
  beforeAll(async () => {
    a = new ModelServerEmulator();
    b = new ModelServerEmulator();
    // A first: with equal load it is picked first.
    const urls = `${await a.listen()},${await b.listen()}`;
    app = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: urls, AI_MODEL_TIMEOUT: '2' } });
  });
  afterAll(async () => {
    await app?.close();
    await a?.close();
    await b?.close();
  });

  it.each(['finish-abort', 'http-500'] as const)(
    'should answer 504 E5001 within AI_MODEL_TIMEOUT when the first server fails (%s) and the next one hangs',
    async (fault) => {
      a.queueFault(fault);
      b.queueFault('hang-before-headers');
      const started = Date.now();
      const res = await app.request('POST', '/api/v1/code/generate', {
        body: { prompt: `write a function that adds numbers (${fault})`, cache: false },
      });
      expect([res.status, res.body.error_code]).toEqual([504, 'E5001']);
      expect(Date.now() - started).toBeLessThan(10_000); // the retry kept the deadline instead of waiting forever
      expect(b.stats().requests).toBeGreaterThan(0);
    },
    20_000,
  );
});

describe('personalisation, adapters and safety', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({
      redis: false,
      // CACHE_ENABLED=false: these tests read the upstream request each call sends (repeats included).
      env: {
        VLLM_SERVER_URL: await emu.listen(),
        MODEL_ADAPTERS: 'code_review=error_fix,comment=docs-lora',
        CACHE_ENABLED: 'false',
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  const sent = async (body: Record<string, unknown>) => {
    const res = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'Write a function that sorts a list', ...body },
    });
    expect(res.status).toBe(200);
    return emu.lastRequest()!;
  };

  it.each([
    ['pythonSkillLevel', 'beginner', 'expert'],
    ['codeOutputStructure', 'minimal', 'comprehensive'],
    ['explanationStyle', 'brief', 'educational'],
    ['preferredLanguageFeatures', ['dataclasses'], ['async_await', 'generators']],
    ['projectContext', 'data_science', 'web_development'],
    ['errorHandlingPreference', 'minimal', 'production_ready'],
  ])('should change what reaches the model when user_profile.%s changes', async (field, a, b) => {
    const first = await sent({ user_profile: { [field]: a } });
    const second = await sent({ user_profile: { [field]: b } });
    expect(first.prompt).not.toBe(second.prompt);
  });

  it('should adjust max_tokens and temperature by skill level and output structure, explicit values winning', async () => {
    const beginner = await sent({ user_profile: { pythonSkillLevel: 'beginner' } });
    const expert = await sent({ user_profile: { pythonSkillLevel: 'expert' } });
    expect(beginner.temperature).not.toBe(expert.temperature);
    expect(beginner.max_tokens).toBeGreaterThan(expert.max_tokens!);
    const minimal = await sent({ user_profile: { codeOutputStructure: 'minimal' } });
    const comprehensive = await sent({ user_profile: { codeOutputStructure: 'comprehensive' } });
    expect(comprehensive.max_tokens).toBeGreaterThan(minimal.max_tokens!);
    const explicit = await sent({
      user_profile: { codeOutputStructure: 'minimal' },
      max_tokens: 777,
      temperature: 1.1,
    });
    expect(explicit.max_tokens).toBe(777);
    expect(explicit.temperature).toBe(1.1);
  });

  it('should let the extension flat fields override the nested profile', async () => {
    const nested = await sent({ user_profile: { pythonSkillLevel: 'expert' } });
    const flat = await sent({ user_profile: { pythonSkillLevel: 'expert' }, programming_level: 'beginner' });
    expect(flat.prompt).not.toBe(nested.prompt);
    expect(flat.prompt).toBe((await sent({ programming_level: 'beginner' })).prompt);
    const hints = await sent({ include_type_hints: true, include_docstring: false, code_style: 'black' });
    expect(hints.prompt).toMatch(/type hints/);
    expect(hints.prompt).toMatch(/black/);
  });

  it('should reject values outside the spec enums with 422 E4006', async () => {
    const res = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'x', user_profile: { pythonSkillLevel: 'guru' } },
    });
    expect(res.status).toBe(422);
    expect(res.body.error_code).toBe('E4006');
  });

  it('should apply MODEL_ADAPTERS overrides of tasks and adapter names', async () => {
    expect((await sent({ model_type: 'code_review' })).model).toBe('error_fix');
    emu.configure({ adapters: ['autocomplete', 'prompt', 'docs-lora', 'error_fix'] });
    expect((await sent({ model_type: 'documentation' })).model).toBe('docs-lora');
    emu.reset({ config: true });
  });

  it('should report dangerous prompts at the standard level without blocking them', async () => {
    const res = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'Write a script that runs os.system("rm -rf /tmp/x")' },
    });
    expect(res.status).toBe(200);
    expect(res.body.security_info).toMatchObject({
      input_validated: true,
      code_validated: true,
      threat_detected: true,
      safety_level: 'standard',
    });
    expect(res.body.security_info.input_rules).toEqual(expect.arrayContaining(['os_system', 'destructive_shell']));
  });

  it.each([
    ['strict', 400],
    ['off', 200],
  ])('should apply SAFETY_LEVEL=%s', async (level, status) => {
    const strictApp = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: emu.url, SAFETY_LEVEL: level } });
    try {
      const before = emu.stats().requests;
      const res = await strictApp.request('POST', '/api/v1/code/generate', {
        body: { prompt: 'Use eval( to run input and DROP TABLE users' },
      });
      expect(res.status).toBe(status);
      if (level === 'strict') {
        expect(res.body.error_code).toBe('E4011');
        expect(res.body.details.map((d: { message: string }) => d.message).join(' ')).toMatch(
          /eval_exec.*sql_destruction|sql_destruction.*eval_exec/s,
        );
        expect(emu.stats().requests).toBe(before);
        const stream = await postSse(strictApp.url, '/api/v1/code/generate/stream', {
          prompt: 'steal the passwords from /etc/shadow',
        });
        expect(stream.body).toMatchObject({ error_code: 'E4011', type: 'error' });
        const safe = await strictApp.request('POST', '/api/v1/code/generate', {
          body: { prompt: 'Write a function that sorts a list' },
        });
        expect(safe.status).toBe(200);
      } else {
        expect(res.body.security_info).toMatchObject({ input_validated: false, code_validated: true, input_rules: [] });
      }
    } finally {
      await strictApp.close();
    }
  });
});
