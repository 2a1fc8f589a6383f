/**
 * npm run bench:slow-readers [-- --seconds 30 --clients 4 --answer-mb 40]
 *
 * Backpressure check: the server (built, on its embedded defaults, as its own process) relays a
 * huge answer to clients that read nothing. Prints the server's RSS growth and how far the
 * emulator got with each answer; a gateway that buffers would grow by clients × answer size.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ModelServerEmulator } from '../emulator/emulator';

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number =>
  args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback;
const SECONDS = opt('seconds', 30);
const CLIENTS = opt('clients', 4);
const ANSWER_MB = opt('answer-mb', 40);

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function startServer(emulatorUrl: string, dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      VLLM_SERVER_URL: emulatorUrl,
      LOG_LEVEL: 'warn',
      // generous, so only backpressure is measured (the stall timeout would close the streams)
      SSE_CLIENT_STALL_SECONDS: String(SECONDS * 4),
      MAX_ANSWER_BYTES: String((ANSWER_MB + 8) * 1024 * 1024),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(buf);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${buf.slice(-2000)}`)));
  });
  return { child, url };
}

async function apiKey(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/users/generate-api-key`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${Date.now()}@example.com` }),
  });
  return ((await res.json()) as { api_key: string }).api_key;
}

/** Opens a stream and reads nothing after the headers. */
function stalledStream(url: string, key: string, prompt: string): Promise<http.ClientRequest> {
  const body = JSON.stringify({ prompt, cache: false });
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/v1/code/generate/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key, 'content-length': Buffer.byteLength(body) },
      agent: false,
    });
    req.on('response', (res) => {
      res.pause();
      res.socket.pause();
      resolve(req);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const emulator = new ModelServerEmulator({ hugeAnswerBytes: ANSWER_MB * 1024 * 1024 });
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hapa-slow-readers-'));
  const server = await startServer(emulatorUrl, dataDir);
  try {
    const key = await apiKey(server.url);
    // warm up: a few ordinary streams so the baseline includes a used heap
    for (let i = 0; i < 5; i++) {
      await fetch(`${server.url}/api/v1/code/generate/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ prompt: `warm up ${i}`, cache: false }),
      }).then((r) => r.text());
    }
    await sleep(1000);
    const base = rssMb(server.child.pid!);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        stalledStream(server.url, key, `big answer ${i} [[fault:huge-answer]]`),
      ),
    );
    let peak = base;
    for (let s = 0; s < SECONDS * 4; s++) {
      await sleep(250);
      peak = Math.max(peak, rssMb(server.child.pid!));
    }
    const sent = emulator
      .requests()
      .filter((r) => r.fault === 'huge-answer')
      .map((r) => r.bytesSent ?? 0);
    for (const c of clients) c.destroy();
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(`clients reading nothing: ${CLIENTS}, for ${SECONDS} s, answers of ${ANSWER_MB} MiB each`);
    console.log(
      `server RSS: ${base.toFixed(1)} MB before, ${peak.toFixed(1)} MB peak, growth ${(peak - base).toFixed(1)} MB`,
    );
    console.log(`emulator bytes sent per answer (MiB): ${sent.map(mb).join(', ')} of ${ANSWER_MB}`);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
