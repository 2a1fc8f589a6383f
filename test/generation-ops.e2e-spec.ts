import { setTimeout as sleep } from 'node:timers/promises';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { splitCodeAndExplanation } from '../src/code-gen/prompt-builder';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { generateOutput } from '../emulator/emulator-output';
import { ModelServerEmulator } from '../emulator/emulator';
import { factory, xApiKey } from './support/identity-factory';
import { postSse } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const V1 = '/api/v1';

describe('code generation seen from the ops side', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: await emu.listen(), SAFETY_LEVEL: 'standard' } });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  /** The code the emulator answered for the last request, as the model produced it. */
  const emulatorCode = (): string => {
    const sent = emu.lastRequest()!;
    return splitCodeAndExplanation(generateOutput('prompt', sent.prompt).text).code;
  };

  it.each([
    // The emulator keeps a `def` signature found in the prompt, so the dangerous call lands in its code.
    ['os_system', 'Fix this function: def run(cmd=os.system()', ['os_system']],
    ['pickle_loads', 'Fix this function: def load(blob=pickle.loads()', []],
    ['eval_exec', 'Fix this function: def calc(expr=eval()', ['eval_exec']],
  ])(
    'should report %s in generated code at SAFETY_LEVEL standard and return the code unaltered',
    async (rule, prompt, inputRules) => {
      const res = await app.request('POST', `${V1}/code/generate`, { body: { prompt, cache: false } });
      expect(res.status).toBe(200);
      expect(res.body.security_info).toMatchObject({
        input_validated: true,
        code_validated: true,
        threat_detected: true,
        safety_level: 'standard',
        input_rules: inputRules,
      });
      expect(res.body.security_info.code_rules).toContain(rule);
      expect(res.body.generated_code).toBe(emulatorCode());
      expect(res.body.generated_code).toMatch(/os\.system\(|pickle\.loads\(|=eval\(/);

      const stream = await postSse(app.url, `${V1}/code/generate/stream`, { prompt, cache: false });
      const done = stream.frames.at(-2)!.data;
      expect(done).toMatchObject({ type: 'done', security_info: { threat_detected: true } });
      expect(done.security_info.code_rules).toContain(rule);
    },
  );

  it('should report a clean generation as no threat', async () => {
    const res = await app.request('POST', `${V1}/code/generate`, {
      body: { prompt: 'Write a function that sorts a list', cache: false },
    });
    expect(res.body.security_info).toMatchObject({ threat_detected: false, input_rules: [], code_rules: [] });
  });

  it('should count one-shot generations and streams and their tokens in usage and performance analytics', async () => {
    // Its own app and database: the figures must equal exactly this traffic.
    const own = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: emu.url } });
    try {
      const user = await factory.apiKey(own);
      const headers = xApiKey(user.key);
      let prompt = 0;
      let completion = 0;
      for (let i = 0; i < 3; i++) {
        const res = await own.request('POST', `${V1}/code/generate`, {
          body: { prompt: `Write a function that adds ${i} to a number`, max_tokens: 30 + i },
          headers,
        });
        expect(res.status).toBe(200);
        prompt += res.body.token_usage.prompt_tokens;
        completion += res.body.token_usage.completion_tokens;
      }
      for (let i = 0; i < 2; i++) {
        const res = await postSse(
          own.url,
          `${V1}/code/generate/stream`,
          { prompt: `Write a parser for record ${i}`, max_tokens: 20 + i },
          { headers },
        );
        const done = res.frames.at(-2)!.data;
        expect(done.type).toBe('done');
        prompt += done.token_usage.prompt_tokens;
        completion += done.token_usage.completion_tokens;
      }
      expect(prompt).toBeGreaterThan(0);
      expect(completion).toBeGreaterThan(0);
      expect(emu.lastRequest()!.max_tokens).toBe(21);

      // Usage is recorded when each response closes and written in batches.
      const lifecycle = own.server.app.get(ServerLifecycle);
      while (lifecycle.activeRequests > 0) await sleep(5);
      await own.server.app.get(UsageRecorder).flush();

      const byAdapter = await own.request('GET', `${V1}/analytics/usage?group_by=adapter`);
      expect(byAdapter.status).toBe(200);
      const adapters = byAdapter.body.items.filter((i: { key: string | null }) => i.key !== null);
      expect(adapters).toEqual([
        expect.objectContaining({
          key: 'prompt',
          requests: 5,
          prompt_tokens: prompt,
          completion_tokens: completion,
          total_tokens: prompt + completion,
          errors: 0,
        }),
      ]);
      const byKey = await own.request('GET', `${V1}/analytics/usage?group_by=key`);
      expect(byKey.body.items.find((i: { key: string }) => i.key === user.keyId)).toMatchObject({
        requests: 5,
        total_tokens: prompt + completion,
      });

      const perf = await own.request('GET', `${V1}/analytics/performance?period=1h`);
      expect(perf.status).toBe(200);
      expect(perf.body.ai_model_usage).toEqual({
        total_tokens: prompt + completion,
        prompt_tokens: prompt,
        completion_tokens: completion,
        avg_tokens_per_request: Math.round(((prompt + completion) / 5) * 100) / 100,
        model_requests: 5,
      });
      expect(perf.body.time_to_first_token.p50_ms).toBeGreaterThanOrEqual(0);
      expect(perf.body.cache_hit_rate).toBe(0);
    } finally {
      await own.close();
    }
  });
});
