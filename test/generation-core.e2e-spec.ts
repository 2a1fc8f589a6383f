import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatorRequestRecord, ModelServerEmulator } from '../emulator/emulator';
import { postSse, SseFrame, streamedText } from './support/sse-client';
import { startTestApp, TestApp, withDefaultAuth } from './support/test-app';

const MiB = 1024 * 1024;

/** Polls until `check` returns a value (or throws after `ms`). */
async function until<T>(check: () => T | undefined, ms = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * A streaming client that reads the response headers and then nothing: its socket is paused, so
 * the kernel buffers fill and the gateway's writes report a full buffer.
 */
function stalledStream(
  baseUrl: string,
  body: unknown,
): Promise<{ status: number; resume(): Promise<string>; destroy(): void }> {
  const url = new URL('/api/v1/code/generate/stream', baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...withDefaultAuth(baseUrl),
          'content-length': Buffer.byteLength(payload),
        },
        // a small receive window, so "reads nothing" is felt quickly
        agent: new http.Agent({ keepAlive: false }),
      },
      (res) => {
        res.pause();
        res.socket.pause();
        resolve({
          status: res.statusCode ?? 0,
          resume: () =>
            new Promise<string>((done) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => done(text));
              res.on('error', () => done(text));
              res.on('close', () => done(text));
              res.socket.resume();
              res.resume();
            }),
          destroy: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Complete frames only: a connection the gateway dropped may end inside one. */
function frames(text: string): SseFrame[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // after the last separator: empty, or a frame cut short
  return blocks
    .filter((b) => b.startsWith('data: '))
    .map((b) => {
      const payload = b.slice(6);
      return { raw: b, data: payload === '[DONE]' ? '[DONE]' : (JSON.parse(payload) as unknown) };
    });
}

const metric = async (app: TestApp, name: string): Promise<number> => {
  const text = (await app.request('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('generation core: backpressure, bounds and stream end', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;

  beforeAll(async () => {
    emu = new ModelServerEmulator();
    const url = await emu.listen();
    app = await startTestApp({
      redis: false,
      env: {
        VLLM_SERVER_URL: url,
        // long enough that a held-open connection would show as E5001, not as a clean end
        AI_MODEL_IDLE_TIMEOUT: '20',
        SSE_CLIENT_STALL_SECONDS: '3',
        MAX_ANSWER_BYTES: String(16 * MiB),
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });
  beforeEach(() => emu.reset({ config: true }));

  const lastRecord = (): EmulatorRequestRecord => emu.lastRequest()!;

  it('should stop reading the model server while the client reads nothing, and go on when it reads again', async () => {
    emu.configure({ hugeAnswerBytes: 64 * MiB });
    const client = await stalledStream(app.url, { prompt: 'write a big file [[fault:huge-answer]]', cache: false });
    expect(client.status).toBe(200);
    const record = await until(
      () => ((lastRecord()?.bytesSent ?? 0) > 0 ? lastRecord() : undefined),
      5_000,
      'first bytes',
    );
    // Let the socket buffers on both sides fill, then the emulator must be held where it is.
    await sleep(1_000);
    const held = record.bytesSent!;
    await sleep(1_000);
    expect(record.bytesSent).toBe(held);
    // kernel buffers (both sockets) + the gateway's small output buffer: a few MiB at most, not 64
    expect(held).toBeLessThan(12 * MiB);
    client.destroy();
    await until(() => emu.stats().disconnects > 0 || undefined, 5_000, 'upstream abort');
  });

  it('should close a stream whose client reads nothing for SSE_CLIENT_STALL_SECONDS and abort the model request', async () => {
    emu.configure({ hugeAnswerBytes: 64 * MiB });
    const before = await metric(app, 'hapa_stream_client_stalls_total');
    const client = await stalledStream(app.url, { prompt: 'another big file [[fault:huge-answer]]', cache: false });
    // the gateway gave up on the client and aborted the model request
    await until(() => emu.stats().disconnects > 0 || undefined, 10_000, 'upstream abort');
    expect(await metric(app, 'hapa_stream_client_stalls_total')).toBe(before + 1);
    // reading again finds a connection the gateway ended without a `done`
    const rest = frames(await client.resume());
    expect(rest.map((f) => (f.data === '[DONE]' ? '[DONE]' : (f.data as { type: string }).type))).not.toContain('done');
  });

  it('should detach only a stalled follower of a coalesced stream; the others get every token', async () => {
    emu.configure({ hugeAnswerBytes: 6 * MiB });
    const body = { prompt: 'a shared big answer [[fault:huge-answer]]', temperature: 0.1 };
    const stalled = await stalledStream(app.url, body);
    await until(() => (lastRecord()?.bytesSent ?? 0) > 0 || undefined, 5_000, 'first bytes');
    const reader = await postSse(app.url, '/api/v1/code/generate/stream', body);
    expect(emu.stats().requests).toBe(1); // one upstream generation for both
    const types = reader.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
    expect(types.at(-2)).toBe('done');
    expect(streamedText(reader.frames).length).toBeGreaterThanOrEqual(6 * MiB);
    // the stalled one: what it got, then an in-band E5008, then [DONE]
    const rest = frames(await stalled.resume());
    const last = rest.at(-2)!.data as { type: string; error_code: string };
    expect(last).toMatchObject({ type: 'error', error_code: 'E5008' });
    expect(rest.at(-1)!.data).toBe('[DONE]');
  });

  it('should cut an answer larger than MAX_ANSWER_BYTES with E5006 on the stream and one-shot routes', async () => {
    emu.configure({ hugeAnswerBytes: 48 * MiB });
    const stream = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'too big [[fault:huge-answer]]',
      cache: false,
    });
    expect(stream.status).toBe(200);
    const error = stream.frames.at(-2)!.data as { type: string; error_code: string };
    expect(error).toMatchObject({ type: 'error', error_code: 'E5006' });
    expect(streamedText(stream.frames).length).toBeLessThanOrEqual(16 * MiB);
    const one = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'too big again [[fault:huge-answer]]', cache: false },
    });
    expect(one.status).toBe(502);
    expect(one.body.error_code).toBe('E5006');
    // the one-shot read stopped at the bound instead of taking the whole 48 MiB
    await until(() => emu.stats().disconnects > 0 || undefined, 5_000, 'upstream abort');
    expect(lastRecord().bytesSent).toBeLessThan(40 * MiB);
  });

  it('should end a stream at [DONE] even when the model server keeps the connection open', async () => {
    const res = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'write a function that adds two numbers [[fault:done-keep-open]]',
      cache: false,
    });
    const types = res.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
    expect(types).not.toContain('error');
    expect(types.slice(-2)).toEqual(['done', '[DONE]']);
    expect(streamedText(res.frames).length).toBeGreaterThan(0);
  });

  it('should turn finish_reason "abort" into E5007 (in-band after tokens, 502 one-shot) and cache nothing', async () => {
    const body = { prompt: 'write a function that adds two numbers [[fault:finish-abort]]' };
    const stream = await postSse(app.url, '/api/v1/code/generate/stream', body);
    expect(stream.status).toBe(200);
    expect(streamedText(stream.frames).length).toBeGreaterThan(0);
    const types = stream.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
    expect(types).not.toContain('done');
    expect(stream.frames.at(-2)!.data).toMatchObject({ type: 'error', error_code: 'E5007' });
    const one = await app.request('POST', '/api/v1/code/generate', { body });
    expect(one.status).toBe(502);
    expect(one.body.error_code).toBe('E5007');
    // the truncated answers were not kept: the same request goes to the model server again
    const before = emu.stats().requests;
    await postSse(app.url, '/api/v1/code/generate/stream', body);
    expect(emu.stats().requests).toBe(before + 1);
  });

  it('should refuse a stream that ends with [DONE] alone (no token, no finish_reason) instead of a clean empty done', async () => {
    const res = await postSse(app.url, '/api/v1/code/generate/stream', {
      prompt: 'write a function [[fault:done-only]]',
      cache: false,
    });
    // nothing was sent yet, so the error is an ordinary JSON error with the stream envelope
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error_code: 'E5006', type: 'error' });
  });
});
