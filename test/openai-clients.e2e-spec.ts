import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageRecorder } from '../src/analytics/usage-recorder';
import { ModelServerEmulator } from '../emulator/emulator';
import { CONTINUE_CLI, continueAdapters, OpenAiClient, openAiSdk, runNode } from './support/clients';
import { until } from './support/identity-factory';
import { startTestApp, TestApp } from './support/test-app';

// The real clients against the gateway on the emulator over real HTTP: the official `openai` SDK,
// the Continue CLI and Continue's own adapter package (installed in test/clients).

const PREFIX = '# return the sum of two numbers\ndef add(a, b):\n    ';
const SUFFIX = '\n\nprint(add(1, 2))\n';
const DEEPSEEK_FIM = `<｜fim▁begin｜>${PREFIX}<｜fim▁hole｜>${SUFFIX}<｜fim▁end｜>`;
const FIM_MARKER = /<｜fim|<\|?fim_|<PRE>|<SUF>|<MID>|\[SUFFIX\]|\[PREFIX\]/;

interface EmulatorRecord {
  route: string;
  model?: string;
  prompt: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

const sdk = openAiSdk();

describe('real clients on /v1', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  let client: OpenAiClient;

  const upstream = async () => (await (await fetch(`${emu.url}/_emulator/last`)).json()) as EmulatorRecord;
  const usageRows = async (where: string) => {
    await app.server.app.get(UsageRecorder).flush();
    return app.db!.query<{ surface: string; model: string; client: string; route: string; status: number }>(
      `SELECT surface, model, client, route, status FROM usage_events WHERE ${where} ORDER BY id`,
    );
  };

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    const url = await emu.listen();
    app = await startTestApp({ env: { VLLM_SERVER_URL: url, CACHE_ENABLED: 'false' } });
    client = new sdk.OpenAI({ apiKey: app.apiKey!, baseURL: `${app.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  describe('the official openai SDK', () => {
    it('models.list() lists the gateway models, hapa-code first', async () => {
      const ids: string[] = [];
      for await (const m of client.models.list()) ids.push(m.id);
      expect(ids).toEqual(['hapa-code', 'hapa-autocomplete', 'hapa-explain', 'hapa-bugfix']);
    });

    it('chat.completions.create() answers a non-streamed chat', async () => {
      const res = await client.chat.completions.create({
        model: 'hapa-code',
        messages: [{ role: 'user', content: 'Write a function that reverses a list' }],
      });
      expect(res.object).toBe('chat.completion');
      expect(res.model).toBe('hapa-code');
      expect(res.choices[0].message.role).toBe('assistant');
      expect(res.choices[0].message.content).toContain('def ');
      expect(res.usage!.completion_tokens).toBeGreaterThan(0);
      expect((await upstream()).route).toBe('/v1/completions');
    });

    it('chat.completions.create({stream, include_usage}) streams content then usage', async () => {
      const stream = await client.chat.completions.create({
        model: 'hapa-explain',
        messages: [{ role: 'user', content: 'Explain: def f(x): return x * 2' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: { total_tokens: number } | undefined | null;
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text.length).toBeGreaterThan(20);
      expect(finish).toBe('stop');
      expect(usage!.total_tokens).toBeGreaterThan(0);
      expect((await upstream()).model).toBe('comment');
    });

    it('completions.create() with a suffix renders the FIM template upstream, never the suffix field', async () => {
      const res = await client.completions.create({ model: 'hapa-autocomplete', prompt: PREFIX, suffix: SUFFIX });
      const last = await upstream();
      expect(last.prompt).toBe(DEEPSEEK_FIM);
      expect(last.body).not.toHaveProperty('suffix');
      expect(res.choices[0].text.length).toBeGreaterThan(0);
      expect(res.choices[0].text).not.toMatch(FIM_MARKER);
    });

    it('completions.create() without a suffix sends a plain prompt as is', async () => {
      const res = await client.completions.create({
        model: 'hapa-code',
        prompt: 'def reverse(items):',
        max_tokens: 30,
      });
      expect((await upstream()).prompt).toBe('def reverse(items):');
      expect(res.choices[0].finish_reason).toMatch(/^(stop|length)$/);
    });

    it.each([
      ['DeepSeek', `<｜fim▁begin｜>${PREFIX}<｜fim▁hole｜>${SUFFIX}<｜fim▁end｜>`],
      ['StarCoder', `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`],
      ['Qwen / CodeGemma', `<|fim_prefix|>${PREFIX}<|fim_suffix|>${SUFFIX}<|fim_middle|>`],
      ['CodeLlama', `<PRE> ${PREFIX} <SUF>${SUFFIX} <MID>`],
      ['Codestral', `[SUFFIX]${SUFFIX}[PREFIX]${PREFIX}`],
      ['HAPA ASCII', `<|fim_begin|>${PREFIX}<|fim_hole|>${SUFFIX}<|fim_end|>`],
    ])(
      'completions.create() with a %s FIM prompt reaches the model server in the adapter template',
      async (_, prompt) => {
        const stream = await client.completions.create({ model: 'hapa-autocomplete', prompt, stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
        const last = await upstream();
        expect(last.model).toBe('autocomplete');
        expect(last.prompt).toBe(DEEPSEEK_FIM);
        expect(last.body).not.toHaveProperty('suffix');
        expect(text.length).toBeGreaterThan(0);
        expect(text).not.toMatch(FIM_MARKER);
        // Exactly what the model server answers for that prompt, stop markers aside.
        const direct = await fetch(`${emu.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...last.body, stream: false, stream_options: undefined }),
        });
        expect(text).toBe(((await direct.json()) as { choices: { text: string }[] }).choices[0].text);
      },
    );

    it('an unknown model raises NotFoundError with code model_not_found', async () => {
      const err = await client.completions.create({ model: 'gpt-4o', prompt: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sdk.NotFoundError);
      expect((err as InstanceType<typeof sdk.NotFoundError>).code).toBe('model_not_found');
      expect((err as InstanceType<typeof sdk.NotFoundError>).type).toBe('invalid_request_error');
    });

    it('an invalid key raises AuthenticationError', async () => {
      const bad = new sdk.OpenAI({
        apiKey: 'hapa_not_a_real_key_000000000000',
        baseURL: `${app.url}/v1`,
        maxRetries: 0,
      });
      const err = await bad.models.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sdk.AuthenticationError);
      expect((err as InstanceType<typeof sdk.AuthenticationError>).code).toBe('invalid_api_key');
    });

    it('a model-server cut mid-stream makes the SDK throw, never a silently truncated answer', async () => {
      const stream = await client.chat.completions.create({
        model: 'hapa-code',
        messages: [{ role: 'user', content: 'Write a function that sums a list [[fault:cut-mid-stream]]' }],
        stream: true,
      });
      let text = '';
      const err = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sdk.APIError);
      expect((err as InstanceType<typeof sdk.APIError>).message).toMatch(/interrupted|ended|stream/i);
      expect(text.length).toBeGreaterThan(0);
    });

    it('a client abort reaches the model server', async () => {
      emu.configure({ tokenDelayMs: 50, padToMaxTokens: true });
      const ctl = new AbortController();
      const stream = await client.completions.create(
        { model: 'hapa-code', prompt: 'def slow():', max_tokens: 400, stream: true },
        { signal: ctl.signal },
      );
      let chunks = 0;
      // The SDK ends the iteration quietly once its own signal aborted.
      await (async () => {
        for await (const chunk of stream) {
          chunks++;
          if (chunk.choices[0]?.text) ctl.abort();
        }
      })().catch((e: unknown) => {
        if (!(e instanceof sdk.APIUserAbortError)) throw e;
      });
      expect(chunks).toBeLessThan(10);
      const stats = await until(
        async () => emu.stats(),
        (s) => s.disconnects >= 1,
        10_000,
      );
      expect(stats.disconnects).toBe(1);
      expect(stats.completed).toBe(0);
    });

    it('records its calls as the openai surface, with the model name used and the SDK as the client', async () => {
      await client.completions.create({ model: 'autocomplete', prompt: PREFIX, suffix: SUFFIX, max_tokens: 16 });
      const rows = await usageRows(`route = '/v1/completions' AND model = 'autocomplete'`);
      expect(rows.at(-1)).toMatchObject({ surface: 'openai', model: 'autocomplete', status: 200 });
      expect(rows.at(-1)!.client).toMatch(/^OpenAI\/JS 6\.\d+\.\d+$/);
    });
  });

  describe("Continue's adapters (@continuedev/openai-adapters)", () => {
    const args = () => ({ apiBase: `${app.url}/v1/`, apiKey: app.apiKey! });

    it('list() returns the gateway models', async () => {
      const models = await continueAdapters<{ id: string; max_model_len: number }[]>('list', args());
      expect(models.map((m) => m.id)).toEqual(['hapa-code', 'hapa-autocomplete', 'hapa-explain', 'hapa-bugfix']);
      expect(models[0].max_model_len).toBe(16384);
    });

    it('fimStream() fills in the middle through /v1/fim/completions', async () => {
      const chunks = await continueAdapters<{ choices: { delta: { content?: string } }[] }[]>('fimStream', {
        ...args(),
        body: { model: 'hapa-autocomplete', prompt: PREFIX, suffix: SUFFIX, max_tokens: 64 },
      });
      const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
      expect(text.length).toBeGreaterThan(0);
      expect(text).not.toMatch(FIM_MARKER);
      const last = await upstream();
      expect(last.prompt).toBe(DEEPSEEK_FIM);
      // Continue sends Bearer plus x-api-key on its FIM call.
      expect(last.route).toBe('/v1/completions');
    });

    it("completionStream() autocompletes a prompt in Continue's StarCoder fallback format", async () => {
      const chunks = await continueAdapters<{ choices: { text: string }[] }[]>('completionStream', {
        ...args(),
        body: {
          model: 'hapa-autocomplete',
          prompt: `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`,
          max_tokens: 64,
          stream: true,
        },
      });
      const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
      expect(text.length).toBeGreaterThan(0);
      expect((await upstream()).prompt).toBe(DEEPSEEK_FIM);
    });
  });

  describe('the Continue CLI (cn)', () => {
    it('answers a headless prompt through the gateway (exit 0) and is recorded as the client', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'hapa-cn-'));
      try {
        const config = path.join(dir, 'config.yaml');
        writeFileSync(
          config,
          [
            'name: hapa',
            'version: 1.0.0',
            'schema: v1',
            'models:',
            '  - name: HAPA',
            '    provider: openai',
            '    model: hapa-code',
            `    apiBase: ${app.url}/v1/`,
            `    apiKey: ${app.apiKey}`,
            '    roles: [chat]',
            '',
          ].join('\n'),
        );
        const ran = await runNode(
          [CONTINUE_CLI, '--config', config, '-p', '--format', 'json', 'Write a function that reverses a list'],
          { CONTINUE_GLOBAL_DIR: path.join(dir, 'global'), CONTINUE_CLI_ENABLE_TELEMETRY: '0' },
          dir,
        );
        expect(ran.stderr).not.toMatch(/error/i);
        expect(ran.code).toBe(0);
        const out = JSON.parse(ran.stdout) as Record<string, unknown>;
        expect(JSON.stringify(out)).toContain('def ');
        const last = await upstream();
        expect(last.model).toBe('prompt');
        expect(last.prompt).toContain('Write a function that reverses a list');
        const rows = await usageRows(`route = '/v1/chat/completions' AND model = 'hapa-code' AND client LIKE 'ls/JS%'`);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ surface: 'openai', status: 200 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('the openai SDK and the rate limit on /v1', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    const url = await emu.listen();
    app = await startTestApp({ env: { VLLM_SERVER_URL: url, RATE_LIMIT_RULES: '/v1/chat/completions=2/1m' } });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  it('raises RateLimitError with Retry-After once a /v1 route rule is spent (maxRetries: 0)', async () => {
    const client = new sdk.OpenAI({ apiKey: app.apiKey!, baseURL: `${app.url}/v1`, maxRetries: 0 });
    const ask = () =>
      client.chat.completions.create({
        model: 'hapa-code',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 8,
      });
    await ask();
    await ask();
    const err = await ask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sdk.RateLimitError);
    const limited = err as InstanceType<typeof sdk.RateLimitError>;
    expect(limited.code).toBe('rate_limit_exceeded');
    expect(Number(limited.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(emu.stats().requests).toBeLessThanOrEqual(2);
  });
});
