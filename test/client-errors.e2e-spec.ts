import { connect } from 'node:net';
import { startTestApp, TestApp } from './support/test-app';

/** Writes raw bytes and reads the whole answer (the server closes the connection after these errors). */
function raw(url: string, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [headers, body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body });
    });
  });
}

// Requests Node's parser refuses never reach the application; they still get a coded envelope.
describe('requests refused before routing', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ apiKey: false, redis: false });
  });
  afterAll(() => app?.close());

  it('should answer headers over the size limit with 431 and E4008 in the HAPA envelope', async () => {
    const res = await raw(app.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.headers).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'error', error_code: 'E4008' });
    expect(JSON.parse(res.body).incident_id).toMatch(/^INC-\d{8}-[0-9A-F]{8}$/);
  });

  it('should answer a malformed request with 400 E4001', async () => {
    const res = await raw(app.url, 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'error', error_code: 'E4001' });
  });

  it('should answer a /v1 request in the OpenAI envelope', async () => {
    const res = await raw(
      app.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'E4008' });
  });

  it('should go on serving on other connections', async () => {
    const res = await fetch(`${app.url}/health/live`);
    expect(res.status).toBe(200);
  });
});
