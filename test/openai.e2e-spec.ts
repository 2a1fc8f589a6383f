import * as http from 'node:http';
import { ApiKeysService } from '../src/api-keys/api-keys.service';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { ModelServerEmulator } from '../emulator/emulator';
import { postSse, SseFrame } from './support/sse-client';
import { factory, until } from './support/identity-factory';
import { INCIDENT_ID, request, startTestApp, TestApp } from './support/test-app';

// Raw HTTP against /v1: what the gateway sends upstream, the OpenAI envelope, framing. The real
// clients (OpenAI SDK, Continue) are driven in test/openai-clients.e2e-spec.ts.

const DEEPSEEK = (p: string, s: string) => `<｜fim▁begin｜>${p}<｜fim▁hole｜>${s}<｜fim▁end｜>`;
const PREFIX = '# return the sum of two numbers\ndef add(a, b):\n    ';
const SUFFIX = '\n\nprint(add(1, 2))\n';

const MiB = 1024 * 1024;

/** A streaming client that takes the response headers and then reads nothing (its socket paused). */
function stalledRequest(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; destroy(): void }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, baseUrl),
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        agent: new http.Agent({ keepAlive: false }),
      },
      (res) => {
        res.pause();
        res.socket.pause();
        resolve({ status: res.statusCode ?? 0, destroy: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface EmulatorRecord {
  route: string;
  model?: string;
  prompt: string;
  max_tokens?: number;
  stop?: string[];
  stream: boolean;
  body: Record<string, unknown>;
}

describe('OpenAI-compatible API (/v1) over HTTP', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  let key: string;

  /** What reached the model server last, read through the emulator's inspection route. */
  const upstream = async () => (await (await fetch(`${emu.url}/_emulator/last`)).json()) as EmulatorRecord;
  const post = (path: string, body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${key}` }) =>
    request(app.url, 'POST', path, { body, headers });
  const sse = (path: string, body: unknown) =>
    postSse(app.url, path, body, { headers: { Authorization: `Bearer ${key}` } });
  const content = (frames: SseFrame[]) =>
    frames
      .filter((f) => f.data !== '[DONE]' && f.data.choices?.length)
      .map((f) => f.data.choices[0].delta?.content ?? f.data.choices[0].text ?? '')
      .join('');

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    const url = await emu.listen();
    app = await startTestApp({ env: { VLLM_SERVER_URL: url, CACHE_ENABLED: 'false', AI_MODEL_IDLE_TIMEOUT: '2' } });
    key = app.apiKey!;
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  describe('authentication', () => {
    it.each([
      ['Authorization: Bearer', (k: string) => ({ Authorization: `Bearer ${k}` })],
      ['X-API-Key', (k: string) => ({ 'X-API-Key': k })],
      ['api-key', (k: string) => ({ 'api-key': k })],
      ['Bearer undefined plus api-key', (k: string) => ({ Authorization: 'Bearer undefined', 'api-key': k })],
      ['Bearer plus x-api-key, the same key', (k: string) => ({ Authorization: `Bearer ${k}`, 'x-api-key': k })],
    ])('should accept the key in %s', async (_, headers) => {
      const res = await request(app.url, 'GET', '/v1/models', { headers: headers(key) });
      expect(res.status).toBe(200);
    });

    it.each([
      ['no credentials', {}],
      ['Bearer undefined', { Authorization: 'Bearer undefined' }],
      ['Bearer null', { Authorization: 'Bearer null' }],
      ['an empty api-key', { 'api-key': '' }],
      ['an invalid key', { Authorization: 'Bearer hapa_invalid_key_0000000000000000' }],
    ])('should answer 401 in the OpenAI envelope for %s', async (_, headers) => {
      const res = await request(app.url, 'GET', '/v1/models', { headers: headers });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: {
          message: expect.any(String),
          type: 'authentication_error',
          param: null,
          code: 'invalid_api_key',
          incident_id: expect.stringMatching(INCIDENT_ID),
        },
      });
    });

    it('should accept a login JWT, and let the API-key header win over a different Bearer', async () => {
      const user = await factory.apiKey(app);
      const login = await app.request('POST', '/api/v1/users/login', { body: { email: user.email } });
      const jwt = { Authorization: `Bearer ${login.body.access_token}` };
      const res = await post('/v1/completions', { model: 'hapa-autocomplete', prompt: 'def f(', max_tokens: 8 }, jwt);
      expect(res.status).toBe(200);
      const keyWins = await request(app.url, 'GET', '/v1/models', {
        headers: { ...jwt, 'api-key': 'hapa_' + 'C'.repeat(43) },
      });
      expect(keyWins.status).toBe(401);
    });

    it('should list only the models a key may use and refuse the others with 403', async () => {
      const issued = await app.server.app.get(ApiKeysService, { strict: false }).issueByAdmin({
        email: 'autocomplete-only@example.com',
        permissions: ['code_completion'],
        name: 'autocomplete only',
      });
      const headers = { Authorization: `Bearer ${issued.api_key}` };
      const models = await request(app.url, 'GET', '/v1/models', { headers });
      expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(['hapa-autocomplete']);
      const chat = await post(
        '/v1/chat/completions',
        { model: 'hapa-code', messages: [{ role: 'user', content: 'x' }] },
        headers,
      );
      expect(chat.status).toBe(403);
      expect(chat.body.error).toMatchObject({ type: 'permission_error', code: 'E4005' });
      const fim = await post(
        '/v1/completions',
        { model: 'hapa-autocomplete', prompt: 'def f(', max_tokens: 8 },
        headers,
      );
      expect(fim.status).toBe(200);
    });
  });

  describe('models', () => {
    it('should list the four gateway models, hapa-code first, with the base model context length', async () => {
      const res = await request(app.url, 'GET', '/v1/models', { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(res.body.object).toBe('list');
      expect(res.body.data.map((m: { id: string }) => m.id)).toEqual([
        'hapa-code',
        'hapa-autocomplete',
        'hapa-explain',
        'hapa-bugfix',
      ]);
      for (const m of res.body.data) {
        expect(m).toEqual({
          id: m.id,
          object: 'model',
          created: expect.any(Number),
          owned_by: 'hapa',
          max_model_len: 16384,
        });
      }
    });
  });

  describe('POST /v1/completions', () => {
    it('should render a suffix in the FIM template, add the stop tokens, default max_tokens, pass vLLM extras', async () => {
      const res = await post('/v1/completions', {
        model: 'hapa-autocomplete',
        prompt: PREFIX,
        suffix: SUFFIX,
        stop: ['\n\n', '<|EOT|>'],
        top_k: 20,
        min_p: 0.05,
        repetition_penalty: 1.1,
        seed: 7,
        unknown_field: 'dropped',
      });
      expect(res.status).toBe(200);
      const last = await upstream();
      expect(last.route).toBe('/v1/completions');
      expect(last.model).toBe('autocomplete');
      expect(last.prompt).toBe(DEEPSEEK(PREFIX, SUFFIX));
      expect(last.body).not.toHaveProperty('suffix');
      expect(last.body).not.toHaveProperty('unknown_field');
      expect(last.max_tokens).toBe(128);
      expect(last.stop).toEqual(
        expect.arrayContaining(['\n\n', '<|EOT|>', '<|im_end|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']),
      );
      expect(new Set(last.stop).size).toBe(last.stop!.length);
      expect(last.body).toMatchObject({ top_k: 20, min_p: 0.05, repetition_penalty: 1.1, seed: 7 });
      expect(res.body).toMatchObject({
        object: 'text_completion',
        model: 'hapa-autocomplete',
        choices: [{ index: 0, text: expect.any(String), logprobs: null, finish_reason: 'stop' }],
      });
      expect(res.body.id).toMatch(/^cmpl-/);
      expect(res.body.usage.total_tokens).toBe(res.body.usage.prompt_tokens + res.body.usage.completion_tokens);
      expect(res.body.choices[0].text.length).toBeGreaterThan(0);
    });

    it('should take options.num_predict for max_tokens and keep a plain prompt plain on hapa-code', async () => {
      const res = await post('/v1/completions', {
        model: 'hapa-code',
        prompt: 'def reverse(items):',
        options: { num_predict: 33 },
      });
      expect(res.status).toBe(200);
      const last = await upstream();
      expect(last).toMatchObject({ model: 'prompt', prompt: 'def reverse(items):', max_tokens: 33 });
      await post('/v1/completions', { model: 'code_completion', prompt: 'def reverse(items):' });
      expect((await upstream()).prompt).toBe(DEEPSEEK('def reverse(items):', ''));
    });

    it('should stream text_completion chunks, the finish chunk, the usage chunk when asked, then [DONE]', async () => {
      const res = await sse('/v1/completions', {
        model: 'hapa-autocomplete',
        prompt: `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`,
        stream: true,
        stream_options: { include_usage: true },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const { frames } = res;
      expect(frames.at(-1)!.data).toBe('[DONE]');
      const usage = frames.at(-2)!.data;
      expect(usage).toMatchObject({
        object: 'text_completion',
        choices: [],
        usage: { total_tokens: expect.any(Number) },
      });
      const finish = frames.at(-3)!.data;
      expect(finish.choices[0]).toMatchObject({ text: '', finish_reason: 'stop' });
      for (const f of frames.slice(0, -3)) {
        expect(f.data).toMatchObject({ object: 'text_completion', model: 'hapa-autocomplete' });
        expect(f.data.choices[0].finish_reason).toBeNull();
      }
      expect(res.text).not.toContain('heartbeat');
      expect((await upstream()).prompt).toBe(DEEPSEEK(PREFIX, SUFFIX));
      expect(content(frames).length).toBeGreaterThan(0);
    });

    it('should send no usage chunk unless asked', async () => {
      const res = await sse('/v1/completions', {
        model: 'hapa-code',
        prompt: 'def f(x):',
        stream: true,
        max_tokens: 20,
      });
      expect(res.frames.some((f) => f.data !== '[DONE]' && f.data.usage)).toBe(false);
      expect(res.frames.at(-1)!.data).toBe('[DONE]');
    });

    it.each([
      ['prompt as an array', { prompt: ['a', 'b'] }, 'prompt'],
      ['token ids', { prompt: [1, 2, 3] }, 'prompt'],
      ['n above 1', { n: 2 }, 'n'],
      ['echo', { echo: true }, 'echo'],
      ['logprobs above 5', { logprobs: 6 }, 'logprobs'],
      ['a negative max_tokens', { max_tokens: -1 }, 'max_tokens'],
      ['prompt_embeds', { prompt_embeds: 'AAAA' }, 'prompt_embeds'],
      ['vllm_xargs', { vllm_xargs: { a: 1 } }, 'vllm_xargs'],
      ['request_id', { request_id: 'mine' }, 'request_id'],
    ])('should refuse %s with 400 naming the field, reaching no model server', async (_, patch, param) => {
      const res = await post('/v1/completions', { model: 'hapa-code', prompt: 'x', ...patch });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(emu.stats().requests).toBe(0);
    });

    it('should answer an unknown model with 404 model_not_found, no fallback', async () => {
      const res = await post('/v1/completions', { model: 'gpt-4o', prompt: 'x' });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
      expect(emu.stats().requests).toBe(0);
    });

    it('should answer malformed JSON and unknown /v1 routes in the OpenAI envelope, /api/v1 in its own', async () => {
      const malformed = await post('/v1/completions', '{"model": "hapa-code",');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toMatchObject({ type: 'invalid_request_error', code: 'E4001' });
      const unknown = await request(app.url, 'GET', '/v1/engines', { headers: { Authorization: `Bearer ${key}` } });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatchObject({ code: 'E4009' });
      const hapa = await request(app.url, 'POST', '/api/v1/code/generate', { body: '{"prompt":' });
      expect(hapa.body).toMatchObject({ status: 'error', error_code: 'E4001' });
    });
  });

  describe('POST /v1/fim/completions', () => {
    it('should render prefix and suffix and stream in the chat-chunk shape', async () => {
      const res = await sse('/v1/fim/completions', {
        model: 'hapa-autocomplete',
        prompt: PREFIX,
        suffix: SUFFIX,
        max_completion_tokens: 40,
        stream: true,
      });
      expect(res.status).toBe(200);
      const last = await upstream();
      expect(last.prompt).toBe(DEEPSEEK(PREFIX, SUFFIX));
      expect(last.max_tokens).toBe(40);
      const first = res.frames[0].data;
      expect(first.object).toBe('chat.completion.chunk');
      expect(first.choices[0].delta).toMatchObject({ role: 'assistant', content: expect.any(String) });
      expect(content(res.frames).length).toBeGreaterThan(0);
      expect(res.frames.at(-1)!.data).toBe('[DONE]');
    });
  });

  describe('POST /v1/chat/completions', () => {
    const messages = [
      { role: 'system', content: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: 'Write a function that reverses a list' },
    ];

    it("should render the messages in the adapters' format and call the model server's completions route", async () => {
      const res = await post('/v1/chat/completions', {
        model: 'hapa-bugfix',
        messages,
        max_completion_tokens: 300,
        tools: [{ type: 'function', function: { name: 'read_file', parameters: {} } }],
        tool_choice: 'auto',
        reasoning_effort: 'low',
        response_format: { type: 'json_object' },
      });
      expect(res.status).toBe(200);
      const last = await upstream();
      expect(last.route).toBe('/v1/completions');
      expect(last.model).toBe('error_fix');
      expect(last.prompt).toMatch(/^You are HAPA, a Python coding assistant\. Fix the bug/);
      expect(last.prompt).toContain(
        'Be brief.\n### Instruction:\nWrite a function that reverses a list\n### Response:\n',
      );
      expect(last.body).not.toHaveProperty('tools');
      expect(last.body).not.toHaveProperty('messages');
      expect(last.max_tokens).toBe(300);
      expect(res.body).toMatchObject({
        object: 'chat.completion',
        model: 'hapa-bugfix',
        choices: [
          { index: 0, message: { role: 'assistant' }, finish_reason: expect.stringMatching(/^(stop|length)$/) },
        ],
      });
      expect(res.body.id).toMatch(/^chatcmpl-/);
      expect(res.body.choices[0].message.content).not.toContain('<|EOT|>');
    });

    it('should stream the role first, content, finish_reason, usage, [DONE]', async () => {
      const res = await sse('/v1/chat/completions', {
        model: 'hapa-code',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      const { frames } = res;
      expect(frames[0].data.choices[0].delta.role).toBe('assistant');
      expect(frames.slice(1, -3).every((f) => f.data.choices[0].delta.role === undefined)).toBe(true);
      expect(frames.at(-3)!.data.choices[0].finish_reason).toBe('stop');
      expect(frames.at(-2)!.data).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: {} });
      expect(frames.at(-1)!.data).toBe('[DONE]');
      const text = content(frames);
      expect(text).toContain('def ');
      expect(text).not.toContain('<|EOT|>');
      expect(text).not.toContain('Generation Complete');
    });

    it('should refuse a required tool call with tools_not_supported', async () => {
      for (const tool_choice of ['required', { type: 'function', function: { name: 'read_file' } }]) {
        const res = await post('/v1/chat/completions', { model: 'hapa-code', messages, tools: [], tool_choice });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'tools_not_supported' });
      }
      expect(emu.stats().requests).toBe(0);
    });

    it('should refuse non-text content parts naming the field', async () => {
      const res = await post('/v1/chat/completions', {
        model: 'hapa-code',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ param: 'messages[0].content[0]' });
    });

    it('should end a stream cut by the model server with an in-stream error, then [DONE]', async () => {
      const res = await sse('/v1/chat/completions', {
        model: 'hapa-code',
        messages: [{ role: 'user', content: 'Write a function that sums a list [[fault:cut-mid-stream]]' }],
        stream: true,
      });
      expect(res.status).toBe(200);
      const { frames } = res;
      expect(frames.at(-1)!.data).toBe('[DONE]');
      expect(frames.at(-2)!.data).toEqual({
        error: {
          message: expect.any(String),
          type: 'server_error',
          param: null,
          code: 'E5007',
          incident_id: expect.stringMatching(INCIDENT_ID),
        },
      });
      expect(frames.some((f) => f.data?.choices?.[0]?.finish_reason)).toBe(false);
    });

    it('should record a usage event with the surface, the model name used and the client', async () => {
      const res = await request(app.url, 'POST', '/v1/chat/completions', {
        body: { model: 'code_review', messages },
        headers: { Authorization: `Bearer ${key}`, 'User-Agent': 'TestClient/1.2 (linux)' },
      });
      expect(res.status).toBe(200);
      await app.server.app.get(UsageRecorder).flush();
      const rows = await app.db!.query(
        `SELECT surface, model, client, adapter, stream FROM usage_events WHERE client = 'TestClient/1.2'`,
      );
      expect(rows).toEqual([
        { surface: 'openai', model: 'code_review', client: 'TestClient/1.2', adapter: 'comment', stream: false },
      ]);
      const byClient = await app.request('GET', '/api/v1/analytics/usage?group_by=client');
      expect(byClient.body.items).toEqual(
        expect.arrayContaining([expect.objectContaining({ key: 'TestClient/1.2', requests: 1 })]),
      );
    });
  });
});

describe('OpenAI-compatible API (/v1): cache, stream caps and model-server refusals', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({ env: { VLLM_SERVER_URL: await emu.listen(), SSE_CLIENT_STALL_SECONDS: '2' } });
    const issued = await app.server.app.get(ApiKeysService, { strict: false }).issueByAdmin({
      email: 'one-stream@example.com',
      permissions: ['code_generation', 'code_completion'],
      max_concurrent_streams: 1,
      name: 'one stream',
    });
    key = issued.api_key;
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  it('should answer the same request twice with one model-server call, like /api/v1', async () => {
    const body = { model: 'hapa-autocomplete', prompt: PREFIX, suffix: SUFFIX, temperature: 0 };
    const first = await request(app.url, 'POST', '/v1/completions', { body, headers: auth() });
    const second = await request(app.url, 'POST', '/v1/completions', { body, headers: auth() });
    expect(second.body.choices[0].text).toBe(first.body.choices[0].text);
    expect(emu.stats().requests).toBe(1);
  });

  it('should refuse a stream over the key cap with 429 concurrency_limit_exceeded and Retry-After', async () => {
    emu.configure({ tokenDelayMs: 100, padToMaxTokens: true });
    const ctl = new AbortController();
    const open = postSse(
      app.url,
      '/v1/chat/completions',
      { model: 'hapa-code', messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 200, stream: true },
      { headers: auth(), signal: ctl.signal },
    );
    await until(
      async () => emu.stats().inFlight,
      (n) => n >= 1,
      10_000,
    );
    const second = await request(app.url, 'POST', '/v1/completions', {
      body: { model: 'hapa-code', prompt: 'def f():', stream: true },
      headers: auth(),
    });
    ctl.abort();
    await open;
    expect(second.status).toBe(429);
    expect(second.body.error).toMatchObject({ type: 'rate_limit_error', code: 'concurrency_limit_exceeded' });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('should hold the model server while a /v1 client reads nothing, then drop the stalled client and abort upstream', async () => {
    emu.configure({ hugeAnswerBytes: 64 * MiB });
    const stalled = await stalledRequest(app.url, '/v1/completions', auth(), {
      model: 'hapa-code',
      prompt: 'a big file [[fault:huge-answer]]',
      stream: true,
    });
    expect(stalled.status).toBe(200);
    await until(
      async () => emu.stats().disconnects,
      (n) => n >= 1,
      15_000,
    );
    expect(emu.stats().disconnects).toBe(1);
    // Backpressure reached the model server: it wrote a few MiB into full buffers, not the 64 MiB answer.
    expect(emu.lastRequest()!.bytesSent).toBeLessThan(16 * MiB);
    stalled.destroy();
  });

  it("should pass the model server's context-length refusal on as 400 context_length_exceeded, verbatim", async () => {
    const res = await request(app.url, 'POST', '/v1/chat/completions', {
      body: { model: 'hapa-code', messages: [{ role: 'user', content: 'long [[fault:context-length]]' }] },
      headers: auth(),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
    expect(res.body.error.message).toContain("This model's maximum context length is 16384 tokens");
  });
});

describe('OpenAI-compatible API (/v1) at shutdown', () => {
  it('should end a /v1 stream that outlives SHUTDOWN_TIMEOUT with an in-stream E5008, then [DONE]', async () => {
    const emu = new ModelServerEmulator({ tokenDelayMs: 50, padToMaxTokens: true });
    const app = await startTestApp({
      redis: false,
      env: { VLLM_SERVER_URL: await emu.listen(), SHUTDOWN_TIMEOUT: '1' },
    });
    try {
      let firstChunk!: () => void;
      const gotChunk = new Promise<void>((r) => (firstChunk = r));
      const stream = postSse(
        app.url,
        '/v1/chat/completions',
        { model: 'hapa-code', messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 400, stream: true },
        { headers: { Authorization: `Bearer ${app.apiKey}` }, onFrame: () => firstChunk() },
      );
      await Promise.race([gotChunk, stream]);
      await app.server.shutdown();
      const res = await stream;
      expect(res.status).toBe(200);
      expect(res.frames.at(-1)!.data).toBe('[DONE]');
      expect(res.frames.at(-2)!.data.error).toMatchObject({ type: 'server_error', code: 'E5008' });
      expect(res.frames.some((f) => f.data?.choices?.[0]?.finish_reason)).toBe(false);
    } finally {
      await app.close();
      await emu.close();
    }
  });
});
