import * as http from 'node:http';
import { EmulatorRequestRecord, ModelServerEmulator } from '../emulator/emulator';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { ServerLifecycle } from '../src/common/http/server-lifecycle';
import { until } from './support/identity-factory';
import { postSse } from './support/sse-client';
import { INCIDENT_ID, startTestApp, TestApp } from './support/test-app';

// Findings of the external review of /v1 (against openai.md; vLLM and the OpenAI API where openai.md
// is silent), each over real HTTP against the emulator. The basics are in test/openai.e2e-spec.ts.

const MiB = 1024 * 1024;
const KEEP_ALIVE = ': keep-alive\n\n';

describe('OpenAI-compatible API (/v1): review findings', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request('POST', path, { body, headers });
  const chat = (extra: Record<string, unknown>) =>
    post('/v1/chat/completions', { model: 'hapa-code', max_tokens: 4, ...extra });
  const say = [{ role: 'user', content: 'Write a function that reverses a list' }];

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    app = await startTestApp({
      env: {
        VLLM_SERVER_URL: await emu.listen(),
        CACHE_ENABLED: 'false',
        SSE_HEARTBEAT_SECONDS: '1',
        SSE_CLIENT_STALL_SECONDS: '2',
        AI_MODEL_TIMEOUT: '4',
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  describe('a generation the model server aborted (finish_reason "abort")', () => {
    // The answer is truncated: openai.md's Errors never let one reach the client as a clean "stop".
    it('should end the stream with an in-band error, never finish_reason "stop"', async () => {
      const res = await postSse(
        app.url,
        '/v1/completions',
        { model: 'hapa-code', prompt: 'def add(a, b): [[fault:finish-abort]]', stream: true },
        { allowComments: true },
      );
      expect(res.status).toBe(200);
      expect(res.frames.at(-2)!.data.error).toMatchObject({ type: 'server_error', code: 'E5007' });
      expect(res.frames.some((f) => f.data?.choices?.[0]?.finish_reason)).toBe(false);
    });

    it('should answer a one-shot request with an error, not a 200 with finish_reason "stop"', async () => {
      const res = await post('/v1/completions', {
        model: 'hapa-code',
        prompt: 'def add(a, b): [[fault:finish-abort]]',
      });
      expect(res.status).toBe(502);
      expect(res.body.error).toMatchObject({ type: 'server_error', code: 'E5007' });
    });
  });

  describe('validation errors', () => {
    // The SDKs show only error.message: "Invalid field value(s)" alone says nothing of what to fix.
    it('should name the problem in error.message, not only in param', async () => {
      const res = await chat({ messages: say, temperature: 5 });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('temperature');
      expect(res.body.error.message).toMatch(/temperature/);
    });
  });

  describe('stop strings', () => {
    // vLLM's SamplingParams refuses them ("stop cannot contain an empty string."), as the emulator does; OpenAI accepts "".
    it.each([
      ['an empty string', '', ['<|EOT|>']],
      ['an array with an empty string', ['', '\n\n'], ['\n\n', '<|EOT|>']],
    ])('should drop %s instead of forwarding it', async (_, stop, sent) => {
      const res = await post('/v1/completions', { model: 'hapa-code', prompt: 'def f():', stop, max_tokens: 4 });
      expect(res.status).toBe(200);
      const upstream = emu.lastRequest()!.stop!;
      expect(upstream).not.toContain('');
      expect(upstream).toEqual(expect.arrayContaining(sent));
    });
  });

  describe('chat messages', () => {
    // vLLM joins text parts with "\n": gluing them fuses the last word of one part with the first of the next.
    it('should join the text parts of one message with a newline', async () => {
      const parts = [
        { type: 'text', text: 'part one' },
        { type: 'text', text: 'part two' },
      ];
      const res = await chat({ messages: [{ role: 'user', content: parts }] });
      expect(res.status).toBe(200);
      expect(emu.lastRequest()!.prompt).toContain('### Instruction:\npart one\npart two\n');
    });

    it.each([
      ['an unknown role', [{ role: 'wizard', content: 'hi' }], 'messages[0].role', /must be one of/],
      ['a user message without content', [{ role: 'user' }], 'messages[0].content', /required/],
      ['a user message with null content', [{ role: 'user', content: null }], 'messages[0].content', /required/],
      [
        'a system message with no parts',
        [
          { role: 'system', content: [] },
          { role: 'user', content: 'hi' },
        ],
        'messages[0].content',
        /empty/,
      ],
      [
        'a text part without text',
        [{ role: 'user', content: [{ type: 'text' }] }],
        'messages[0].content[0].text',
        /must be a string/,
      ],
    ])('should refuse %s with 400 naming the field', async (_, messages, param, problem) => {
      const res = await chat({ messages });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'E4006', param });
      expect(res.body.error.message).toMatch(problem);
      expect(emu.stats().requests).toBe(0);
    });

    it("should accept an assistant turn without content (an agent's tool-call turn) and a tool result", async () => {
      const res = await chat({
        messages: [
          { role: 'user', content: 'read main.py' },
          { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'r' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'print(1)' },
        ],
      });
      expect(res.status).toBe(200);
    });
  });

  // openai.md: tools are ignored unless a call is demanded (tool_choice "required" or a named function).
  describe('tools', () => {
    it.each([
      ['a forced legacy function_call', { functions: [{ name: 'f' }], function_call: { name: 'f' } }, 'function_call'],
      [
        'allowed_tools in required mode',
        { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [] } } },
        'tool_choice',
      ],
      ['a named custom tool', { tool_choice: { type: 'custom', custom: { name: 'f' } } }, 'tool_choice'],
    ])('should refuse %s with tools_not_supported', async (_, fields, param) => {
      const res = await chat({ messages: say, tools: [], ...fields });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'tools_not_supported', param });
      expect(emu.stats().requests).toBe(0);
    });

    it.each([
      ['function_call "auto"', { functions: [{ name: 'f' }], function_call: 'auto' }],
      ['function_call "none"', { function_call: 'none' }],
      ['tool_choice "none"', { tool_choice: 'none' }],
      [
        'allowed_tools in auto mode',
        { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } },
      ],
    ])('should accept %s: it demands no call', async (_, fields) => {
      const res = await chat({ messages: say, tools: [{ type: 'function', function: { name: 'f' } }], ...fields });
      expect(res.status).toBe(200);
    });

    it.each([
      ['tool_choice', 'bogus'],
      ['tool_choice', { type: 'bogus' }],
      ['tool_choice', { type: 'allowed_tools', allowed_tools: { mode: 'sometimes' } }],
      ['function_call', 'bogus'],
      ['function_call', 7],
    ])('should refuse an invalid %s (%j) with 400 naming it', async (param, value) => {
      const res = await chat({ messages: say, [param]: value });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'E4006', param });
      expect(res.body.error.message).toContain(param);
    });
  });

  // openai.md says nothing of these: asked for and silently answered null, a client would not know.
  describe('fields the gateway cannot honour', () => {
    it('should refuse stream_options without stream: true, as OpenAI and vLLM do', async () => {
      for (const path of ['/v1/completions', '/v1/chat/completions']) {
        const res = await post(path, {
          model: 'hapa-code',
          prompt: 'def f():',
          messages: say,
          stream_options: { include_usage: true },
        });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'E4006', param: 'stream_options' });
        expect(res.body.error.message).toMatch(/stream/);
      }
      expect(emu.stats().requests).toBe(0);
    });

    it.each([
      ['/v1/chat/completions', 'logprobs', true],
      ['/v1/chat/completions', 'top_logprobs', 3],
      ['/v1/completions', 'best_of', 2],
      ['/v1/chat/completions', 'best_of', 3],
    ])('should refuse %s with %s: %j, naming the param', async (path, param, value) => {
      const res = await post(path, { model: 'hapa-code', prompt: 'def f():', messages: say, [param]: value });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'E4006', param });
      expect(res.body.error.message).toContain(param);
    });

    it('should accept their defaults', async () => {
      const completions = { model: 'hapa-code', prompt: 'def f():', max_tokens: 4 };
      for (const extra of [{ best_of: 1 }, { logprobs: null }, { logprobs: 0 }, { stream_options: null }]) {
        expect((await post('/v1/completions', { ...completions, ...extra })).status).toBe(200);
      }
      for (const extra of [{ logprobs: false }, { logprobs: null, top_logprobs: 0 }, { best_of: 1 }]) {
        expect((await chat({ messages: say, ...extra })).status).toBe(200);
      }
    });
  });

  // openai.md: the keep-alive on /v1 is the SSE comment `: keep-alive`, after SSE_HEARTBEAT_SECONDS of silence.
  describe('keep-alive', () => {
    const stream = (content: string, extra: Record<string, unknown> = {}) =>
      postSse(
        app.url,
        '/v1/chat/completions',
        { model: 'hapa-code', messages: [{ role: 'user', content }], max_tokens: 3, stream: true, ...extra },
        { allowComments: true },
      );

    it('should send `: keep-alive` through a silence between tokens, then finish cleanly', async () => {
      emu.configure({ slowDripMs: 2500 });
      const res = await stream('keep alive [[fault:slow-drip]]');
      expect(res.comments.length).toBeGreaterThan(0);
      expect(res.text).toContain(KEEP_ALIVE);
      expect(res.frames.at(-1)!.data).toBe('[DONE]');
      expect(res.frames.at(-2)!.data.choices[0].finish_reason).toBe('length');
    }, 30_000);

    it('should send the headers and `: keep-alive` while the first token is awaited', async () => {
      emu.configure({ ttftMs: 2500 });
      const started = Date.now();
      const res = await fetch(`${app.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.apiKey}` },
        body: JSON.stringify({ model: 'hapa-code', messages: say, max_tokens: 3, stream: true }),
      });
      const headersAfter = Date.now() - started;
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(headersAfter).toBeLessThan(2400);
      expect(text.startsWith(KEEP_ALIVE)).toBe(true);
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    }, 30_000);

    it('should report a failure after a keep-alive in-band, then [DONE]', async () => {
      const res = await stream('never answered [[fault:hang-before-headers]]');
      expect(res.status).toBe(200);
      expect(res.comments.length).toBeGreaterThan(0);
      expect(res.frames.map((f) => f.data)).toEqual([
        {
          error: {
            message: expect.any(String),
            type: 'server_error',
            param: null,
            code: 'E5001',
            incident_id: expect.stringMatching(INCIDENT_ID),
          },
        },
        '[DONE]',
      ]);
    }, 30_000);

    it('should still drop a client that reads nothing and abort upstream', async () => {
      emu.configure({ hugeAnswerBytes: 64 * MiB });
      let onDisconnect!: (r: EmulatorRequestRecord) => void;
      const aborted = new Promise<number | undefined>((resolve) => {
        onDisconnect = (r) => r.fault === 'huge-answer' && resolve(r.bytesSent);
        emu.on('disconnect', onDisconnect);
      });
      const payload = JSON.stringify({ model: 'hapa-code', prompt: 'a big file [[fault:huge-answer]]', stream: true });
      const req = http.request(`${app.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.apiKey}` },
        agent: new http.Agent({ keepAlive: false }),
      });
      req.on('response', (res) => {
        res.pause();
        res.socket.pause();
      });
      req.on('error', () => undefined);
      req.end(payload);
      try {
        // Backpressure reached the model server: it wrote a few MiB into full buffers, not the 64 MiB answer.
        expect(await aborted).toBeLessThan(16 * MiB);
      } finally {
        emu.off('disconnect', onDisconnect);
        req.destroy();
      }
    }, 30_000);
  });

  describe('analytics of failed generations', () => {
    const usageByModel = async () => {
      const lifecycle = app.server.app.get(ServerLifecycle);
      await until(
        async () => lifecycle.activeRequests,
        (n) => n === 0,
        5_000,
      );
      await app.server.app.get(UsageRecorder).flush();
      const res = await app.request('GET', '/api/v1/analytics/usage?group_by=model');
      return res.body.items as { key: string | null; requests: number; errors: number }[];
    };

    it('should count a stream that failed in-band as an error, under the model asked for', async () => {
      const res = await postSse(
        app.url,
        '/v1/chat/completions',
        {
          model: 'unit_test_generation',
          messages: [{ role: 'user', content: 'tests for sum [[fault:cut-mid-stream]]' }],
          stream: true,
        },
        { allowComments: true },
      );
      expect(res.status).toBe(200);
      expect(res.frames.at(-2)!.data.error.code).toBe('E5007');
      expect(await usageByModel()).toContainEqual(
        expect.objectContaining({ key: 'unit_test_generation', requests: 1, errors: 1 }),
      );
    });

    it('should record a one-shot generation that failed under the model asked for', async () => {
      const res = await chat({
        model: 'documentation',
        messages: [{ role: 'user', content: 'doc [[fault:http-500]]' }],
      });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(await usageByModel()).toContainEqual(
        expect.objectContaining({ key: 'documentation', requests: 1, errors: 1 }),
      );
    });
  });
});
