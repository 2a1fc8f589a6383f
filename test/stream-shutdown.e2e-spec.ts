import { ModelServerEmulator } from '../emulator/emulator';
import { postSse, SseFrame, SseResponse, streamedText } from './support/sse-client';
import { INCIDENT_ID, startTestApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const V1 = '/api/v1';
const BODY = { prompt: 'Write a function that merges two sorted lists', cache: false };

/** Starts a stream and resolves once its first token arrived, with the whole response to come. */
async function streamStarted(app: TestApp, body: Record<string, unknown>): Promise<{ whole: Promise<SseResponse> }> {
  let firstToken!: () => void;
  const gotToken = new Promise<void>((r) => (firstToken = r));
  const whole = postSse(app.url, `${V1}/code/generate/stream`, body, {
    onFrame: (f: SseFrame) => {
      if (f.data?.type === 'token') firstToken();
    },
  });
  await Promise.race([gotToken, whole]);
  return { whole }; // wrapped: an async function returning the promise itself would wait for it
}

describe('shutdown with streams open', () => {
  let emu: ModelServerEmulator;
  beforeAll(async () => {
    emu = new ModelServerEmulator();
    await emu.listen();
  });
  afterAll(() => emu?.close());

  it('should end a stream that outlives SHUTDOWN_TIMEOUT with an in-band E5008 then [DONE], and still close', async () => {
    emu.configure({ tokenDelayMs: 50 }); // 400 tokens: ~20 s, far beyond the 1 s timeout
    const app = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: emu.url, SHUTDOWN_TIMEOUT: '1' } });
    try {
      const disconnects = emu.stats().disconnects;
      const { whole: stream } = await streamStarted(app, { ...BODY, max_tokens: 400 });
      const startedAt = Date.now();
      await app.server.shutdown();
      const tookMs = Date.now() - startedAt;
      expect(tookMs).toBeGreaterThanOrEqual(900);
      expect(tookMs).toBeLessThan(5000);
      const res = await stream;
      expect(res.status).toBe(200);
      const types = res.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
      expect(types[0]).toBe('start');
      expect(types).toContain('token');
      expect(types).not.toContain('done');
      expect(types.slice(-2)).toEqual(['error', '[DONE]']);
      expect(res.frames.at(-2)!.data).toMatchObject({
        type: 'error',
        error_code: 'E5008',
        content: expect.any(String),
        incident_id: expect.stringMatching(INCIDENT_ID),
        is_complete: true,
      });
      // The server is closed, and the upstream request was given up.
      await expect(fetch(app.url + '/health/live')).rejects.toThrow();
      const deadline = Date.now() + 3000;
      while (emu.stats().disconnects === disconnects && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(emu.stats().disconnects).toBeGreaterThan(disconnects);
    } finally {
      emu.configure({ tokenDelayMs: 0 });
      await app.close();
    }
  });

  it('should deliver a stream that finishes within SHUTDOWN_TIMEOUT in full, then close', async () => {
    const app = await startTestApp({ redis: false, env: { VLLM_SERVER_URL: emu.url, SHUTDOWN_TIMEOUT: '5' } });
    try {
      const reference = await postSse(app.url, `${V1}/code/generate/stream`, { ...BODY, max_tokens: 60 });
      expect(reference.frames.at(-2)!.data).toMatchObject({ type: 'done' });
      emu.configure({ tokenDelayMs: 10 }); // ~0.6 s
      const { whole: stream } = await streamStarted(app, { ...BODY, max_tokens: 60 });
      await app.server.shutdown();
      const res = await stream;
      expect(res.status).toBe(200);
      expect(res.frames.at(-1)!.data).toBe('[DONE]');
      expect(res.frames.at(-2)!.data).toMatchObject({ type: 'done', is_complete: true });
      expect(res.frames.some((f) => f.data?.type === 'error')).toBe(false);
      expect(streamedText(res.frames)).toBe(streamedText(reference.frames));
      await expect(fetch(app.url + '/health/live')).rejects.toThrow();
    } finally {
      emu.configure({ tokenDelayMs: 0 });
      await app.close();
    }
  });
});
