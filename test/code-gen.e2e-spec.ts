import { setTimeout as sleep } from 'node:timers/promises';
import { ModelServerEmulator } from '../emulator/emulator';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { stripStopMarkers } from '../src/model-server/stop-markers';
import { postSse, streamedText } from './support/sse-client';
import { INCIDENT_ID, startTestApp, TestApp } from './support/test-app';

const API_KEY = 'upstream-model-key-0123456789';
const FAULT_ENV = {
  AI_MODEL_TIMEOUT: '1',
  AI_MODEL_IDLE_TIMEOUT: '0.4',
  HEALTH_PROBE_INTERVAL: '0.2',
  SSE_HEARTBEAT_SECONDS: '0.1',
  AI_MODEL_API_KEY: API_KEY,
  // Every request here must reach the emulator; test/cache.e2e-spec.ts covers the cache.
  CACHE_ENABLED: 'false',
};

/** What the emulator would answer for the request the gateway last sent, as plain text. */
async function emulatorText(emu: ModelServerEmulator): Promise<string> {
  const last = emu.lastRequest()!;
  const body = { ...(last.body as Record<string, unknown>) };
  let path = '/generate';
  if (last.protocol === 'openai') {
    path = '/v1/completions';
    body.stream = false;
    delete body.stream_options;
  }
  const res = await fetch(emu.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { generated_text?: string; choices?: { text: string }[] };
  return stripStopMarkers(json.generated_text ?? json.choices![0].text);
}

describe.each([
  ['openai', ''],
  ['hapa', 'hapa+'],
])('code generation over the %s protocol', (protocol, prefix) => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    const url = await emu.listen();
    app = await startTestApp({ redis: false, env: { ...FAULT_ENV, VLLM_SERVER_URL: prefix + url } });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  it('should answer a one-shot generation with code and explanation split', async () => {
    const res = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'Write a function that reverses a list', extra_field: 'ignored' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      status: 'success',
      model_used: 'prompt',
      cached: false,
      error_message: '',
    });
    expect(res.body.generated_code).toMatch(/^def \w+\(/);
    expect(res.body.generated_code).not.toContain('```');
    expect(res.body.explanation.length).toBeGreaterThan(10);
    expect(res.body.explanation).not.toContain('--- Rationale ---');
    expect(res.body.token_usage.completion_tokens).toBeGreaterThan(0);
    expect(res.body.token_usage.total_tokens).toBe(
      res.body.token_usage.prompt_tokens + res.body.token_usage.completion_tokens,
    );
    expect(typeof res.body.processing_time).toBe('number');
    expect(res.body.completion_id).toMatch(/^cmpl-/);
    expect(res.body.security_info).toMatchObject({ input_validated: true, code_validated: true });
    expect(Number(res.headers.get('x-hapa-overhead-ms'))).toBeGreaterThanOrEqual(0);
    const last = emu.lastRequest()!;
    expect(last.protocol).toBe(protocol);
    expect(last.model).toBe('prompt');
    expect(last.prompt).toContain('Write a function that reverses a list');
    expect(last.authorization).toBe(`Bearer ${API_KEY}`);
    const combined = await emulatorText(emu);
    expect(combined).toContain(res.body.generated_code);
  });

  it('should accept the seeds field names on the alias route and map tasks to adapters', async () => {
    const res = await app.request('POST', '/api/v1/generate-code', {
      body: { user_question: 'Fix this function', code_context: 'def f(x):\n    return x.y', model_type: 'bug_fix' },
    });
    expect(res.status).toBe(200);
    expect(emu.lastRequest()!.model).toBe('error_fix');
    expect(emu.lastRequest()!.prompt).toContain('return x.y');
    expect(res.body.model_used).toBe('error_fix');
  });

  it.each([
    '/api/v1/code/generate/stream?enhanced=true',
    '/api/v1/enhanced-stream-generate',
    '/api/v1/code/enhanced-stream-generate',
  ])('should stream every token once and in order on %s', async (path) => {
    const res = await postSse(app.url, path, {
      prompt: 'Write a function that sums a list of numbers',
      max_tokens: 400,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const { frames } = res;
    expect(frames[0].data).toMatchObject({ type: 'start', content: '', text: '', sequence: 0, is_complete: false });
    expect(typeof frames[0].data.request_id).toBe('string');
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const done = frames.at(-2)!.data;
    expect(done).toMatchObject({ type: 'done', is_complete: true });
    expect(done.token_usage.completion_tokens).toBeGreaterThan(0);
    const tokens = frames.filter((f) => f.data.type === 'token');
    expect(tokens.length).toBeGreaterThan(5);
    for (const t of tokens) expect(t.data.content).toBe(t.data.text);
    const seqs = frames.slice(0, -1).map((f) => f.data.sequence as number);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1] + 1);
    expect(res.text).not.toMatch(/^(event|id|retry):|^:/m);
    const streamed = streamedText(frames);
    expect(streamed).toBe(await emulatorText(emu));
    expect(streamed).not.toMatch(/<\|EOT\|>|Generation Complete/);
  });

  it('should build a fill-in-the-middle prompt for /code/complete without sending suffix', async () => {
    const res = await app.request('POST', '/api/v1/code/complete', {
      body: { prefix: '# add two numbers\ndef add(a, b', suffix: '\n\nprint(add(1, 2))\n', max_suggestions: 3 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, status: 'success', cached: false });
    expect(res.body.completions.length).toBeGreaterThanOrEqual(1);
    expect(res.body.completions[0].code.length).toBeGreaterThan(0);
    expect(typeof res.body.processing_time).toBe('number');
    const last = emu.lastRequest()!;
    expect(last.model).toBe('autocomplete');
    expect(last.prompt).toBe(
      '<｜fim▁begin｜># add two numbers\ndef add(a, b<｜fim▁hole｜>\n\nprint(add(1, 2))\n<｜fim▁end｜>',
    );
    expect((last.body as Record<string, unknown>).suffix).toBeUndefined();
  });

  it('should list models and report model health', async () => {
    const models = await app.request('GET', '/api/v1/code/models');
    expect(models.status).toBe(200);
    expect(models.body.available_models).toEqual(
      expect.arrayContaining(['autocomplete', 'prompt', 'comment', 'error_fix']),
    );
    expect(models.body.model_mapping).toMatchObject({
      code_generation: 'prompt',
      bug_fix: 'error_fix',
      code_completion: 'autocomplete',
    });
    const health = await app.request('GET', '/api/v1/code/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('healthy');
    expect(health.body.details.servers[0]).toMatchObject({ protocol, healthy: true });
  });

  it.each([
    ['http-500', 502, 'E5006'],
    // a busy model server's Retry-After (the emulator's 1 s) is passed on
    ['http-429', 503, 'E5005'],
    ['hang-before-headers', 504, 'E5001'],
    // the caller's input was refused: a 4xx that keeps the server's words
    ['context-length', 413, 'E4008'],
  ])('should answer the %s fault before the first byte with %i %s', async (fault, status, code) => {
    const one = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: `Write a sort function [[fault:${fault}]]` },
    });
    expect(one.status).toBe(status);
    expect(one.body.error_code).toBe(code);
    expect(one.body.incident_id).toMatch(INCIDENT_ID);
    if (fault === 'http-429') expect(one.headers.get('retry-after')).toBe('1');
    if (fault === 'context-length') expect(one.body.message).toMatch(/maximum context length/);
    const stream = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: `Write a sort function [[fault:${fault}]]`,
    });
    expect(stream.status).toBe(status);
    expect(stream.body).toMatchObject({ status: 'error', error_code: code, type: 'error' });
    expect(typeof stream.body.content).toBe('string');
  });

  it('should give up on a silent model server after AI_MODEL_TIMEOUT on both one-shot routes, not REQUEST_TIMEOUT', async () => {
    // AI_MODEL_TIMEOUT is 1 s here and REQUEST_TIMEOUT 30 s: the old one-shot wait took the longer of the two.
    for (const [path, body] of [
      ['/api/v1/code/generate', { prompt: 'Write a sort function [[fault:hang-before-headers]]' }],
      ['/api/v1/code/complete', { prefix: 'def f():\n    # [[fault:hang-before-headers]]\n', suffix: '' }],
    ] as const) {
      const started = Date.now();
      const res = await app.request('POST', path, { body });
      expect(res.status).toBe(504);
      expect(res.body.error_code).toBe('E5001');
      expect(Date.now() - started).toBeLessThan(15_000);
    }
  });

  it.each([
    ['cut-mid-stream', 'E5007'],
    ['malformed-chunk', 'E5006'],
    ['error-event', 'E5006'],
  ])('should end a stream hit by %s with an in-band %s error, never a clean done', async (fault, code) => {
    emu.configure({ tokenDelayMs: 5 });
    const res = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: `Write a function to count words [[fault:${fault}]]`,
    });
    expect(res.status).toBe(200);
    const types = res.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
    expect(types).not.toContain('done');
    expect(types.at(-1)).toBe('[DONE]');
    const error = res.frames.at(-2)!.data;
    expect(error).toMatchObject({ type: 'error', error_code: code, is_complete: true });
    expect(error.incident_id).toMatch(INCIDENT_ID);
    expect(error.content.length).toBeGreaterThan(0);
    expect(types).toContain('token');
    // one-shot: the same faults are a 502 (nothing reached the client yet)
    const one = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: `Write a function to count words [[fault:${fault}]]` },
    });
    expect(one.status).toBe(502);
  });

  it('should send heartbeats during upstream silence and still finish cleanly (slow-drip)', async () => {
    emu.configure({ slowDripMs: 250 });
    const res = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'Write a function that doubles a number [[fault:slow-drip]]',
      max_tokens: 4,
    });
    const beats = res.frames.filter((f) => f.data?.type === 'heartbeat');
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[0].raw).toBe('data: {"type":"heartbeat","content":"","text":""}');
    expect(res.frames.at(-2)!.data.type).toBe('done');
  });

  it('should end a stream silent for longer than the idle timeout with an in-band E5001', async () => {
    emu.configure({ slowDripMs: 1500 });
    const res = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'Write a function that doubles a number [[fault:slow-drip]]',
    });
    expect(res.frames.at(-2)!.data).toMatchObject({ type: 'error', error_code: 'E5001' });
    expect(res.frames.at(-1)!.data).toBe('[DONE]');
  });

  it('should count a stream that failed in-band and a failed one-shot as errors, under their adapter', async () => {
    const errorsByAdapter = async () => {
      const lifecycle = app.server.app.get(ServerLifecycle);
      while (lifecycle.activeRequests > 0) await sleep(5);
      await app.server.app.get(UsageRecorder).flush();
      const res = await app.request('GET', '/api/v1/analytics/usage?group_by=adapter');
      const items = res.body.items as { key: string | null; errors: number }[];
      return (adapter: string) => items.find((i) => i.key === adapter)?.errors ?? 0;
    };
    const before = await errorsByAdapter();
    const stream = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'Fix: def f(x): return x.y [[fault:cut-mid-stream]]',
      model_type: 'bug_fix',
    });
    expect(stream.status).toBe(200);
    expect(stream.frames.at(-2)!.data).toMatchObject({ type: 'error', error_code: 'E5007' });
    const oneShot = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'Explain: def f(x): return x [[fault:http-500]]', model_type: 'code_explanation' },
    });
    expect(oneShot.status).toBeGreaterThanOrEqual(500);
    const after = await errorsByAdapter();
    expect(after('error_fix') - before('error_fix')).toBe(1);
    expect(after('comment') - before('comment')).toBe(1);
  });

  it('should abort the upstream request within 100 ms of the client going away', async () => {
    emu.configure({ tokenDelayMs: 20, padToMaxTokens: true });
    const ctl = new AbortController();
    let abortedAt = 0;
    const stream = postSse(
      app.url,
      '/api/v1/code/generate/stream',
      { prompt: 'Write a function that sorts a list', max_tokens: 2000 },
      {
        signal: ctl.signal,
        onFrame: (f) => {
          if (f.data?.type === 'token' && !abortedAt) {
            abortedAt = Date.now();
            ctl.abort();
          }
        },
      },
    );
    await stream;
    const deadline = Date.now() + 2000;
    while (emu.stats().disconnects === 0 && Date.now() < deadline) await sleep(5);
    const { disconnects, disconnectTimes } = emu.stats();
    expect(disconnects).toBe(1);
    expect(disconnectTimes[0] - abortedAt).toBeLessThanOrEqual(100);
  });

  it('should reject unsupported languages, missing and blank prompts', async () => {
    const lang = await app.request('POST', '/api/v1/code/generate', { body: { prompt: 'x', language: 'javascript' } });
    expect(lang.status).toBe(422);
    expect(lang.body.error_code).toBe('E4007');
    const missing = await app.request('POST', '/api/v1/code/generate', { body: { context: 'x' } });
    expect(missing.status).toBe(422);
    expect(missing.body.error_code).toBe('E4002');
    const blank = await postSse(app.url, '/api/v1/code/generate/stream', { prompt: '   ' });
    expect(blank.status).toBe(422);
    expect(blank.body).toMatchObject({ error_code: 'E4006', type: 'error' });
    expect(typeof blank.body.content).toBe('string');
    const tooLong = await app.request('POST', '/api/v1/code/generate', { body: { prompt: 'x'.repeat(4001) } });
    expect(tooLong.body.error_code).toBe('E4006');
    const malformed = await postSse(app.url, '/api/v1/enhanced-stream-generate', '{"prompt": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error_code: 'E4001', type: 'error' });
    const streamLang = await postSse(app.url, '/api/v1/code/generate/stream', { prompt: 'x', language: 'go' });
    expect(streamLang.body).toMatchObject({ error_code: 'E4007', type: 'error' });
    expect(emu.stats().requests).toBe(0);
  });
});
