import { connect } from 'node:net';
import { ModelServerEmulator } from '../emulator/emulator';
import { postSse } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const TIMEOUT_S = 2;
const MAX_PENDING = 4;

/** Sends headers and half a chunked JSON body, then nothing; resolves with what the server answered once it closed. */
function stalledUpload(url: string, apiKey: string): { closed: Promise<string> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => undefined);
  socket.write(
    'POST /api/v1/code/generate HTTP/1.1\r\n' +
      `Host: ${hostname}\r\nX-API-Key: ${apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      '10\r\n{"prompt": "wri',
  );
  return { closed: new Promise((resolve) => socket.on('close', () => resolve(received))) };
}

describe('slow and stopped requests', () => {
  let emu: ModelServerEmulator;
  let app: TestApp;
  beforeAll(async () => {
    emu = new ModelServerEmulator();
    await emu.listen();
    app = await startTestApp({
      redis: false,
      env: {
        VLLM_SERVER_URL: emu.url,
        REQUEST_BODY_TIMEOUT_SECONDS: String(TIMEOUT_S),
        MAX_PENDING_BODIES_PER_IP: String(MAX_PENDING),
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  it('should answer and close connections that stop mid-body, and refuse more of them than the per-address cap', async () => {
    const stalled = Array.from({ length: MAX_PENDING }, () => stalledUpload(app.url, app.apiKey!));
    await new Promise((r) => setTimeout(r, 500)); // let the server read their headers
    const extra = stalledUpload(app.url, app.apiKey!);

    const refused = await extra.closed;
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused).toContain('"error_code":"E4004"');
    expect(refused).toMatch(/connection: close/i);

    const answers = await Promise.all(stalled.map((s) => s.closed));
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 400 /);
      expect(a).toContain('"error_code":"E4001"');
      expect(a).toContain(`Request body not received within ${TIMEOUT_S} s`);
    }
    // The address is free again: a normal request goes through.
    expect((await app.request('POST', '/api/v1/code/complete', { body: { prefix: 'def add(a, b):' } })).status).toBe(
      200,
    );
  });

  it('should not cut a stream that lasts longer than the body timeout', async () => {
    emu.configure({ tokenDelayMs: 40 }); // 200 tokens: several times the timeout
    try {
      const started = Date.now();
      const res = await postSse(app.url, '/api/v1/code/generate/stream', {
        prompt: 'Write a function that merges two sorted lists',
        max_tokens: 200,
        cache: false,
      });
      // Precondition: the stream did outlive the timeout.
      expect(Date.now() - started).toBeGreaterThan(TIMEOUT_S * 1000);
      expect(res.status).toBe(200);
      const types = res.frames.map((f) => (f.data === '[DONE]' ? '[DONE]' : f.data.type));
      expect(types.slice(-2)).toEqual(['done', '[DONE]']);
      expect(types).not.toContain('error');
    } finally {
      emu.configure({ tokenDelayMs: 0 });
    }
  });
});
