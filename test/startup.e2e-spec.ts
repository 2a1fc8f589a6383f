import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDist, freePort, startMain as run, waitFor } from './support/processes';

// The server as users start it: `node dist/src/main.js` with no configuration but a free port.
describe('server process', () => {
  let cwd: string;
  beforeAll(() => {
    buildDist();
    cwd = mkdtempSync(path.join(tmpdir(), 'hapa-start-'));
  }, 120_000);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('should start on embedded defaults within 20 s, log one start-up line, and exit 0 on SIGTERM', async () => {
    const port = await freePort();
    const proc = run({ PORT: String(port) }, cwd);
    try {
      await waitFor(() => proc.output().includes('listening on'), 20_000);
      const startLines = proc
        .output()
        .split('\n')
        .filter((l) => l.includes('listening on'));
      expect(startLines).toHaveLength(1);
      expect(startLines[0]).toMatch(/database=embedded cache=memory model_servers=emulator/);
      expect(JSON.parse(startLines[0]).level).toBe('info');
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { services: { database: string } }).services.database).toBe('connected');
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
    // Embedded data went under ./data of the working directory.
    expect(existsSync(path.join(cwd, 'data/pglite'))).toBe(true);
  }, 40_000);

  it('should refuse bad configuration with one message naming every bad variable', async () => {
    const proc = run({ PORT: 'eighty', LOG_LEVEL: 'loud', RATE_LIMIT_WINDOW_MINUTES: '-5' }, cwd);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    for (const name of ['PORT', 'LOG_LEVEL', 'RATE_LIMIT_WINDOW_MINUTES']) expect(proc.output()).toContain(name);
    expect(proc.output()).not.toContain('listening on');
  });

  it('should refuse to start in production with the example or a short SECRET_KEY', async () => {
    for (const secret of ['change-me-to-a-random-string-of-at-least-32-chars', 'too-short']) {
      const proc = run({ ENVIRONMENT: 'production', SECRET_KEY: secret, VLLM_SERVER_URL: 'http://127.0.0.1:9' }, cwd);
      expect(await proc.exited).not.toBe(0);
      expect(proc.output()).toContain('SECRET_KEY');
    }
  });
});
