import { connect } from 'node:net';
import { startTestApp, TestApp } from './support/test-app';

interface Exchange {
  /** Status codes of the responses read, in order. */
  statuses: number[];
  /** The last response's body. */
  body: string;
  /**
   * After the server's FIN we keep our side open and write once more: a server that only half-closed
   * still reads (and holds a descriptor for it); one that let go of the socket answers with a reset.
   */
  released: boolean;
}

/** Writes each chunk in turn on one connection and reads until the server ends it (or 5 s pass). */
function session(url: string, chunks: string[]): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // 100 ms apart, so each chunk reaches the parser in a read of its own
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () =>
      chunks.forEach((chunk, i) => setTimeout(() => socket.write(chunk), i * 100)),
    );
    let text = '';
    let released = false;
    const giveUp = setTimeout(() => socket.destroy(), 5_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      // the first write draws the reset, the second reports it (our read side has already ended)
      setTimeout(() => socket.write('more\r\n'), 200);
      setTimeout(() => socket.write('more\r\n'), 500);
      setTimeout(() => socket.destroy(), 1_200);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') released = true;
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses, body: text.slice(text.lastIndexOf('\r\n\r\n') + 4), released });
    });
  });
}

const big = (name: string) => `${name}: ${'a'.repeat(20_000)}\r\n`;

// Requests Node's parser refuses never reach the application; they still get a coded answer.
describe('requests refused before routing', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ apiKey: false, redis: false });
  });
  afterAll(() => app?.close());

  it('should answer headers over the size limit with 431 E4008, readable as HAPA and as OpenAI envelope', async () => {
    const res = await session(app.url, [`GET /health HTTP/1.1\r\nHost: x\r\n${big('X-Big')}\r\n`]);
    expect(res.statuses).toEqual([431]);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ status: 'error', error_code: 'E4008' });
    expect(body.incident_id).toMatch(/^INC-\d{8}-[0-9A-F]{8}$/);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'E4008' });
    expect(app.logs.some((l) => l.includes(body.incident_id) && l.includes('HPE_HEADER_OVERFLOW'))).toBe(true);
  });

  it('should answer a malformed request with 400 E4001', async () => {
    const res = await session(app.url, ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n']);
    expect(res.statuses).toEqual([400]);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'error', error_code: 'E4001' });
  });

  it('should answer a bad request that follows a good one on a kept-alive connection', async () => {
    const res = await session(app.url, [
      'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n',
      `GET /health/live HTTP/1.1\r\nHost: x\r\n${big('X-Big')}\r\n`,
    ]);
    expect(res.statuses).toEqual([200, 431]);
  });

  it('should answer a /v1 request whose headers arrive in several chunks in the OpenAI shape too', async () => {
    const res = await session(app.url, [
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${'X-A: ' + 'a'.repeat(10_000)}\r\n`,
      `${'X-B: ' + 'b'.repeat(10_000)}\r\n\r\n`,
    ]);
    expect(res.statuses).toEqual([431]);
    expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'E4008' });
  });

  it('should let go of a refused connection even when the client keeps its side open', async () => {
    const res = await session(app.url, ['BAD REQUEST\r\n\r\n']);
    expect(res.statuses).toEqual([400]);
    expect(res.released).toBe(true);
  });

  it('should go on serving on other connections', async () => {
    const res = await fetch(`${app.url}/health/live`);
    expect(res.status).toBe(200);
  });
});
