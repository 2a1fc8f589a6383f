import { EmulatorRequestRecord, ModelServerEmulator } from '../emulator/emulator';

const BASE_MODEL = 'deepseek-ai/deepseek-coder-6.7b-instruct';
const PROMPT = '### Instruction:\nwrite a function to remove duplicates from a list\n### Response:\n';

interface SseRead {
  frames: string[];
  /** Set when the connection broke before the response ended. */
  error?: unknown;
  /** `Date.now()` when each frame arrived. */
  times: number[];
}

async function readSse(res: Response, stopAfter = Infinity): Promise<SseRead> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const frames: string[] = [];
  const times: number[] = [];
  let buffer = '';
  try {
    while (frames.length < stopAfter) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        frames.push(buffer.slice(0, end));
        times.push(Date.now());
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    return { frames, times, error };
  }
  expect(buffer).toBe('');
  return { frames, times };
}

/** The JSON payloads of `data:` frames, `[DONE]` kept as the string. */
function payloads(frames: string[]): unknown[] {
  return frames.map((frame) => {
    expect(frame.startsWith('data: ')).toBe(true);
    const data = frame.slice('data: '.length);
    return data === '[DONE]' ? data : JSON.parse(data);
  });
}

interface CompletionChunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    text?: string;
    delta?: { role?: string; content?: string };
    finish_reason: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ModelServerEmulator (e2e)', () => {
  let sut: ModelServerEmulator;
  let base: string;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal,
    });
  const completion = (patch: Record<string, unknown> = {}) => ({
    model: 'prompt',
    prompt: PROMPT,
    max_tokens: 512,
    ...patch,
  });
  const hapa = (patch: Record<string, unknown> = {}) => ({
    user_id: 1,
    prompt: 'write a function to reverse a string',
    model_type: 'prompt',
    user_select_options: {},
    ...patch,
  });
  const nextDisconnect = (timeoutMs = 1000) =>
    new Promise<{ record: EmulatorRequestRecord; at: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no disconnect event')), timeoutMs);
      sut.once('disconnect', (record) => {
        clearTimeout(timer);
        resolve({ record, at: Date.now() });
      });
    });

  beforeAll(async () => {
    sut = new ModelServerEmulator();
    base = await sut.listen(0);
  });

  afterAll(async () => {
    await sut.close();
  });

  beforeEach(() => {
    sut.reset({ config: true });
  });

  describe('OpenAI-compatible protocol', () => {
    it('should answer a non-stream completion deterministically, ending with the end marker', async () => {
      const first = await post('/v1/completions', completion());
      const body = (await first.json()) as CompletionChunk;
      const again = (await (await post('/v1/completions', completion())).json()) as CompletionChunk;

      expect(first.status).toBe(200);
      expect(body).toMatchObject({ object: 'text_completion', model: 'prompt' });
      expect(body.id).toMatch(/^cmpl-/);
      expect(body.choices).toHaveLength(1);
      expect(body.choices[0]).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop' });
      expect(body.choices[0].text).toContain('def remove_duplicates_from_list(items):');
      expect(body.choices[0].text).toContain('--- Rationale ---');
      expect(body.choices[0].text).toContain('—');
      expect(body.choices[0].text!.endsWith('<|EOT|>')).toBe(true);
      expect(body.usage!.completion_tokens).toBeGreaterThan(50);
      expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens + body.usage!.completion_tokens);
      expect(again.choices[0].text).toBe(body.choices[0].text);
    });

    it('should stream one frame per token whose deltas equal the non-stream text', async () => {
      const unary = (await (await post('/v1/completions', completion())).json()) as CompletionChunk;
      const res = await post('/v1/completions', completion({ stream: true, stream_options: { include_usage: true } }));
      const { frames, error } = await readSse(res);
      const chunks = payloads(frames);

      expect(error).toBeUndefined();
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(chunks[chunks.length - 1]).toBe('[DONE]');
      const usage = chunks[chunks.length - 2] as CompletionChunk;
      expect(usage.choices).toEqual([]);
      expect(usage.usage).toEqual(unary.usage);
      const tokens = chunks.slice(0, -2) as CompletionChunk[];
      expect(tokens).toHaveLength(unary.usage!.completion_tokens);
      expect(tokens.map((c) => c.choices[0].text).join('')).toBe(unary.choices[0].text);
      expect(tokens.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(tokens[tokens.length - 1].choices[0].finish_reason).toBe('stop');
      expect(new Set(tokens.map((c) => c.id)).size).toBe(1);
      expect(tokens[0]).toMatchObject({ object: 'text_completion', model: 'prompt' });
    });

    it('should send no usage chunk unless include_usage is set', async () => {
      const { frames } = await readSse(await post('/v1/completions', completion({ stream: true })));
      const chunks = payloads(frames).slice(0, -1) as CompletionChunk[];

      expect(frames[frames.length - 1]).toBe('data: [DONE]');
      expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    });

    it('should honour max_tokens and stop strings', async () => {
      const truncated = (await (
        await post('/v1/completions', completion({ max_tokens: 5 }))
      ).json()) as CompletionChunk;
      const stopped = (await (
        await post('/v1/completions', completion({ stop: ['<|EOT|>', '<|im_end|>'] }))
      ).json()) as CompletionChunk;
      const cut = (await (
        await post('/v1/completions', completion({ stop: '--- Rationale' }))
      ).json()) as CompletionChunk;

      expect(truncated.usage!.completion_tokens).toBe(5);
      expect(truncated.choices[0].finish_reason).toBe('length');
      expect(stopped.choices[0].text).not.toContain('<|EOT|>');
      expect(stopped.choices[0].text!.endsWith('.')).toBe(true);
      expect(stopped.choices[0].finish_reason).toBe('stop');
      expect(cut.choices[0].text!.endsWith('```\n\n')).toBe(true);
    });

    it('should pad the answer to exactly max_tokens when padToMaxTokens is on', async () => {
      sut.configure({ padToMaxTokens: true });

      const { frames } = await readSse(await post('/v1/completions', completion({ stream: true, max_tokens: 256 })));

      expect(frames).toHaveLength(256 + 1);
    });

    it('should stream chat completions with the assistant role in the first delta', async () => {
      const body = {
        model: 'error_fix',
        messages: [
          { role: 'system', content: 'You are a helpful assistant.' },
          { role: 'user', content: 'Fix: def first(items):\n    return items[0]\nIndexError: list index out of range' },
        ],
        stream: true,
        stream_options: { include_usage: true },
      };
      const { frames } = await readSse(await post('/v1/chat/completions', body));
      const chunks = payloads(frames).slice(0, -1) as CompletionChunk[];
      const tokenChunks = chunks.slice(0, -1);
      const text = tokenChunks.map((c) => c.choices[0].delta!.content).join('');

      expect(chunks[0].object).toBe('chat.completion.chunk');
      expect(chunks[0].id).toMatch(/^chatcmpl-/);
      expect(chunks[0].choices[0].delta!.role).toBe('assistant');
      expect(chunks[1].choices[0].delta!.role).toBeUndefined();
      expect(text).toMatch(/^```python\ndef first\(items\):/);
      expect(text).toContain('--- Fix Explanation ---');
      expect(text).toContain('IndexError');
      expect(tokenChunks[tokenChunks.length - 1].choices[0].finish_reason).toBe('stop');
      expect(chunks[chunks.length - 1].usage!.completion_tokens).toBe(tokenChunks.length);
    });

    it('should answer a non-stream chat completion with a message', async () => {
      const res = await post('/v1/chat/completions', {
        model: BASE_MODEL,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'write a function to sort a list' }] }],
      });
      const body = (await res.json()) as { object: string; choices: { message: { role: string; content: string } }[] };

      expect(res.status).toBe(200);
      expect(body.object).toBe('chat.completion');
      expect(body.choices[0].message.role).toBe('assistant');
      expect(body.choices[0].message.content).toContain('def sort_list(items):');
    });

    it('should list the base model and the adapters', async () => {
      const body = (await (await fetch(`${base}/v1/models`)).json()) as {
        object: string;
        data: { id: string; object: string; owned_by: string; root: string; parent: string | null }[];
      };

      expect(body.object).toBe('list');
      expect(body.data.map((m) => m.id)).toEqual([BASE_MODEL, 'autocomplete', 'prompt', 'comment', 'error_fix']);
      expect(body.data[0]).toMatchObject({ object: 'model', owned_by: 'vllm', root: BASE_MODEL, parent: null });
      expect(body.data[1]).toMatchObject({ root: BASE_MODEL, parent: BASE_MODEL });
    });

    it('should reject an unknown model with 404, a suffix, an empty stop string and malformed JSON with 400', async () => {
      const unknown = await post('/v1/completions', completion({ model: 'gpt-4' }));
      const suffix = await post('/v1/completions', completion({ suffix: '\n    return x' }));
      const emptyStop = await post('/v1/completions', completion({ stop: ['\n', ''] }));
      const malformed = await post('/v1/completions', '{"model": "prompt",');

      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({
        error: { message: 'The model `gpt-4` does not exist.', type: 'NotFoundError', param: null, code: 404 },
      });
      expect(suffix.status).toBe(400);
      expect(await suffix.json()).toMatchObject({ error: { type: 'BadRequestError', code: 400 } });
      expect(emptyStop.status).toBe(400);
      expect(await emptyStop.json()).toMatchObject({ error: { message: 'stop cannot contain an empty string.' } });
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toMatchObject({ error: { code: 400 } });
      expect(sut.stats().requests).toBe(4);
    });

    it('should answer autocomplete with the continuation of the FIM prefix only', async () => {
      const prompt = '<｜fim▁begin｜># compute the nth fibonacci number\ndef fib(<｜fim▁hole｜>\n<｜fim▁end｜>';
      const body = (await (await post('/v1/completions', { model: 'autocomplete', prompt })).json()) as CompletionChunk;

      expect(body.choices[0].text).toMatch(/^n\):\n {4}"""/);
      expect(body.choices[0].text).not.toContain('```');
      expect(body.choices[0].text!.endsWith('return result<|EOT|>')).toBe(true);
    });
  });

  describe('HAPA protocol', () => {
    it('should stream text frames ending with the completion marker and a done frame', async () => {
      const res = await post('/generate/stream', hapa());
      const chunks = payloads((await readSse(res)).frames) as { text?: string; type?: string }[];
      const text = chunks
        .slice(0, -1)
        .map((c) => c.text)
        .join('');
      const unary = (await (await post('/generate', hapa())).json()) as { generated_text: string };

      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(chunks[chunks.length - 1]).toEqual({ type: 'done', text: '' });
      expect(chunks.slice(0, -1).every((c) => Object.keys(c).join() === 'text')).toBe(true);
      expect(text).toContain('def reverse_string(text):');
      expect(text.endsWith('\n# --- Generation Complete ---')).toBe(true);
      expect(unary.generated_text).toBe(text);
    });

    it('should end with data: [DONE] in legacy mode and honour max_tokens', async () => {
      sut.configure({ hapaLegacyDone: true });

      const { frames } = await readSse(await post('/generate/stream', hapa({ max_tokens: 4 })));

      expect(frames).toHaveLength(5);
      expect(frames[4]).toBe('data: [DONE]');
    });

    it('should list the adapters at / and reject an unknown model_type with 400', async () => {
      const root = (await (await fetch(`${base}/`)).json()) as { available_models: string[] };
      const unknown = await post('/generate/stream', hapa({ model_type: 'code_review' }));
      const missing = await post('/generate', { prompt: 'x', model_type: 'prompt' });

      expect(root.available_models).toEqual(['autocomplete', 'prompt', 'comment', 'error_fix']);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { detail: string }).detail).toContain('code_review');
      expect(missing.status).toBe(422);
      expect(await missing.json()).toEqual({
        detail: [{ loc: ['body', 'user_id'], msg: expect.any(String), type: 'value_error' }],
      });
    });
  });

  describe('ops endpoints', () => {
    it('should report health and follow configure() and the control API', async () => {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      sut.configure({ healthy: false });
      expect((await fetch(`${base}/health`)).status).toBe(503);
      await post('/_emulator/config', { healthy: true });
      const healthy = await fetch(`${base}/health`);
      expect(healthy.status).toBe(200);
      expect(await healthy.text()).toBe('');
    });

    it('should expose running and waiting gauges while a request waits for its first token', async () => {
      sut.configure({ ttftMs: 300 });
      const label = `{model_name="${BASE_MODEL}"}`;

      const streaming = await post('/v1/completions', completion({ stream: true }));
      const during = await (await fetch(`${base}/metrics`)).text();
      await readSse(streaming);
      const after = await (await fetch(`${base}/metrics`)).text();

      expect(during).toContain('# TYPE vllm:num_requests_running gauge');
      expect(during).toContain('# HELP vllm:num_requests_waiting');
      expect(during).toContain(`vllm:num_requests_running${label} 1\n`);
      expect(during).toContain(`vllm:num_requests_waiting${label} 1\n`);
      expect(after).toContain(`vllm:num_requests_running${label} 0\n`);
      expect(after).toContain(`vllm:num_requests_waiting${label} 0\n`);
    });

    it('should send stream headers at once, then wait ttft and the token delay', async () => {
      sut.configure({ ttftMs: 150, tokenDelayMs: 20 });
      const start = Date.now();

      const res = await post('/v1/completions', completion({ stream: true, max_tokens: 4 }));
      const headersAt = Date.now();
      const { frames, times } = await readSse(res);

      expect(headersAt - start).toBeLessThan(120);
      expect(frames).toHaveLength(5);
      expect(times[0] - start).toBeGreaterThanOrEqual(148); // timers may fire ~1 ms early
      expect(times[3] - start).toBeGreaterThanOrEqual(148 + 3 * 20);
    });

    it('should record the last request in full', async () => {
      const body = completion({ temperature: 0.2, top_p: 0.9, max_tokens: 64, stop: '<|EOT|>', stream: false });

      await post('/v1/completions', body, { authorization: 'Bearer upstream-token', 'x-request-id': 'req-1' });
      const record = sut.lastRequest()!;
      const overHttp = (await (await fetch(`${base}/_emulator/last`)).json()) as EmulatorRequestRecord;

      expect(record).toMatchObject({
        route: '/v1/completions',
        protocol: 'openai',
        model: 'prompt',
        adapter: 'prompt',
        prompt: PROMPT,
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 64,
        stop: ['<|EOT|>'],
        stream: false,
        body,
        authorization: 'Bearer upstream-token',
      });
      expect(record.headers['x-request-id']).toBe('req-1');
      expect(Date.now() - record.receivedAt).toBeLessThan(2000);
      expect(overHttp).toEqual(JSON.parse(JSON.stringify(record)));
      expect(sut.requests()).toHaveLength(1);
    });

    it('should drive faults, stats and reset through the control API', async () => {
      const queued = await post('/_emulator/faults', { fault: 'http-500', count: 2 });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post('/v1/completions', completion())).status);
      const stats = (await (await fetch(`${base}/_emulator/stats`)).json()) as ReturnType<ModelServerEmulator['stats']>;
      const badFault = await post('/_emulator/faults', { fault: 'explode' });
      const badConfig = await post('/_emulator/config', { ttftMs: -1, colour: 'red' });
      await post('/_emulator/reset', {});
      const requests = (await (await fetch(`${base}/_emulator/requests`)).json()) as unknown[];

      expect(queued.status).toBe(200);
      expect(statuses).toEqual([500, 500, 200]);
      expect(stats).toMatchObject({ requests: 3, completed: 3, inFlight: 0, disconnects: 0, queuedFaults: [] });
      expect(stats.byRoute['/v1/completions']).toBe(3);
      expect(badFault.status).toBe(400);
      expect(badConfig.status).toBe(400);
      expect(((await badConfig.json()) as { detail: string }).detail).toMatch(/ttftMs.*unknown option colour/);
      expect(requests).toEqual([]);
      expect(sut.stats().requests).toBe(0);
    });
  });

  describe('faults', () => {
    it('should answer http-500 with each protocol error body', async () => {
      const openai = await post('/v1/completions', completion(), { 'x-emulator-fault': 'http-500' });
      const hapaRes = await post('/generate/stream', hapa(), { 'x-emulator-fault': 'http-500' });

      expect(openai.status).toBe(500);
      expect(await openai.json()).toMatchObject({ error: { type: 'InternalServerError', code: 500 } });
      expect(hapaRes.status).toBe(500);
      expect(await hapaRes.json()).toEqual({ detail: expect.any(String) });
      expect(sut.lastRequest()!.fault).toBe('http-500');
    });

    it('should answer http-429 with Retry-After when the prompt carries the marker', async () => {
      const res = await post('/v1/completions', completion({ prompt: `${PROMPT} [[fault:http-429]]` }));

      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toMatchObject({ error: { code: 429 } });
    });

    it('should hang before headers until the client gives up, counting a disconnect', async () => {
      sut.queueFault('hang-before-headers');
      const disconnected = nextDisconnect();

      const outcome = await post('/v1/completions', completion({ stream: true }), {}, AbortSignal.timeout(200)).then(
        () => 'answered',
        (error: Error) => error.name,
      );
      const { record } = await disconnected;

      expect(outcome).toBe('TimeoutError');
      expect(record.fault).toBe('hang-before-headers');
      expect(sut.stats()).toMatchObject({ disconnects: 1, inFlight: 0, waiting: 0, completed: 0 });
    });

    it('should cut a stream mid-way without finish_reason or [DONE]', async () => {
      const full = (await (await post('/v1/completions', completion())).json()) as CompletionChunk;
      sut.queueFault('cut-mid-stream');

      const { frames, error } = await readSse(await post('/v1/completions', completion({ stream: true })));
      const chunks = payloads(frames) as CompletionChunk[];

      expect(error).toBeDefined();
      expect(chunks.length).toBe(Math.floor(full.usage!.completion_tokens / 2));
      expect(chunks.every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(sut.stats()).toMatchObject({ disconnects: 0, inFlight: 0 });
    });

    it('should cut a non-stream body mid-way', async () => {
      const res = await post('/v1/completions', completion(), { 'x-emulator-fault': 'cut-mid-stream' });

      await expect(res.text()).rejects.toThrow();
    });

    it('should cut a HAPA stream before the done frame', async () => {
      const { frames, error } = await readSse(
        await post('/generate/stream', hapa(), { 'x-emulator-fault': 'cut-mid-stream' }),
      );

      expect(error).toBeDefined();
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.some((f) => f.includes('"done"'))).toBe(false);
    });

    it('should insert a malformed frame and still finish the stream', async () => {
      const { frames, error } = await readSse(
        await post('/v1/completions', completion({ stream: true }), { 'x-emulator-fault': 'malformed-chunk' }),
      );
      const unparsable = frames.filter((f) => {
        try {
          JSON.parse(f.slice('data: '.length));
          return false;
        } catch {
          return f !== 'data: [DONE]';
        }
      });

      expect(error).toBeUndefined();
      expect(unparsable).toEqual(['data: {"choices": [ {']);
      expect(frames.indexOf(unparsable[0])).toBe(3);
      expect(frames[frames.length - 1]).toBe('data: [DONE]');
    });

    it('should drip tokens every slowDripMs', async () => {
      await post('/_emulator/config', { slowDripMs: 120 });
      const controller = new AbortController();
      const disconnected = nextDisconnect();
      const start = Date.now();

      const res = await post(
        '/generate/stream',
        hapa({ prompt: 'sort a list [[fault:slow-drip]]' }),
        {},
        controller.signal,
      );
      const { frames, times } = await readSse(res, 3);
      controller.abort();
      await disconnected;

      // Token i is due i * slowDripMs after the request; never earlier, possibly batched when late.
      expect(frames).toHaveLength(3);
      expect(times[0] - start).toBeLessThan(100);
      expect(times[1] - start).toBeGreaterThanOrEqual(118);
      expect(times[2] - start).toBeGreaterThanOrEqual(238);
    });

    it('should send an in-band error event after a few tokens on both protocols', async () => {
      const openai = payloads(
        (
          await readSse(
            await post('/v1/completions', completion({ stream: true }), { 'x-emulator-fault': 'error-event' }),
          )
        ).frames,
      );
      const hapaChunks = payloads(
        (await readSse(await post('/generate/stream', hapa(), { 'x-emulator-fault': 'error-event' }))).frames,
      );

      expect(openai).toHaveLength(5);
      expect(openai[3]).toMatchObject({ error: { type: 'InternalServerError', code: 500 } });
      expect(openai[4]).toBe('[DONE]');
      expect(hapaChunks).toHaveLength(4);
      expect(hapaChunks[3]).toEqual({ error: expect.any(String) });
    });
  });

  describe('disconnects', () => {
    it('should count a client abort within 100 ms and stop streaming', async () => {
      sut.configure({ tokenDelayMs: 50 });
      const controller = new AbortController();
      const disconnected = nextDisconnect();

      const res = await post('/v1/completions', completion({ stream: true }), {}, controller.signal);
      await readSse(res, 2);
      const abortedAt = Date.now();
      controller.abort();
      const { record, at } = await disconnected;
      await sleep(150);

      expect(at - abortedAt).toBeLessThan(100);
      expect(record.route).toBe('/v1/completions');
      const stats = sut.stats();
      expect(stats).toMatchObject({ requests: 1, disconnects: 1, completed: 0, inFlight: 0 });
      expect(stats.disconnectTimes).toHaveLength(1);
      expect(stats.disconnectTimes[0] - abortedAt).toBeLessThan(100);
    });

    it('should close every socket at once, a hanging one included, without counting disconnects', async () => {
      const other = new ModelServerEmulator();
      const url = await other.listen(0);
      other.queueFault('hang-before-headers');

      const pending = fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify(completion()) }).then(
        () => 'answered',
        () => 'failed',
      );
      for (let i = 0; i < 100 && other.stats().inFlight === 0; i++) await sleep(10);
      const closingAt = Date.now();
      await other.close();

      expect(Date.now() - closingAt).toBeLessThan(200);
      expect(await pending).toBe('failed');
      expect(other.stats()).toMatchObject({ requests: 1, inFlight: 0, waiting: 0, disconnects: 0 });
      expect(other.url).toBe('');
    });

    it('should serve many concurrent streams', async () => {
      sut.configure({ tokenDelayMs: 2 });

      const reads = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          post(
            '/v1/completions',
            completion({ stream: true, max_tokens: 32, prompt: `write a function number ${i}` }),
          ).then((res) => readSse(res)),
        ),
      );

      expect(reads.every((r) => r.error === undefined && r.frames[r.frames.length - 1] === 'data: [DONE]')).toBe(true);
      expect(sut.stats()).toMatchObject({ requests: 100, completed: 100, inFlight: 0, disconnects: 0 });
    });
  });
});
