import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDist, freePort, ServerProcess, startMain, waitFor } from './support/processes';
import { createTestDatabase, TestDatabase } from './support/test-app';

// `npm run admin -- create-key …` as operators run it: a real process on the server's configuration,
// then the printed key used on a running server (production: self-registration closed).

const ROOT = path.resolve(__dirname, '..');

function admin(args: string[], env: Record<string, string>, cwd: string) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/cli/admin.js'), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function started(env: Record<string, string>, cwd: string): Promise<{ proc: ServerProcess; url: string }> {
  const port = await freePort();
  const proc = startMain({ ...env, PORT: String(port) }, cwd);
  await waitFor(() => proc.output().includes('listening on') || proc.child.exitCode !== null, 30_000);
  if (proc.child.exitCode !== null) throw new Error(proc.output());
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function stop(proc: ServerProcess): Promise<void> {
  proc.child.kill('SIGTERM');
  await proc.exited;
}

const get = (url: string, key?: string) => fetch(url, { headers: key ? { 'x-api-key': key } : {} });

describe('admin CLI', () => {
  let cwd: string;
  const production = {
    ENVIRONMENT: 'production',
    SECRET_KEY: randomBytes(32).toString('hex'),
    // Nothing listens there: these tests need no model server.
    VLLM_SERVER_URL: 'http://127.0.0.1:9',
    HOST: '127.0.0.1',
  };
  beforeAll(() => {
    buildDist();
    cwd = mkdtempSync(path.join(tmpdir(), 'hapa-admin-'));
  }, 120_000);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  describe('on PostgreSQL, next to a running server', () => {
    let db: TestDatabase;
    let server: { proc: ServerProcess; url: string };
    let env: Record<string, string>;
    beforeAll(async () => {
      db = await createTestDatabase();
      env = { ...production, DATABASE_URL: db.url };
      server = await started(env, cwd);
    }, 60_000);
    afterAll(async () => {
      await stop(server.proc);
      await db.drop();
    });

    it('should print an admin key once that the running server accepts for admin routes', async () => {
      // Production closes self-registration: this is the way to a first key.
      const closed = await fetch(`${server.url}/api/v1/users/generate-api-key`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ops@example.com' }),
      });
      expect(closed.status).toBe(403);

      const r = admin(['create-key', '--email', 'Ops@Example.com', '--permissions', 'admin'], env, cwd);
      expect(r.status).toBe(0);
      const key = r.stdout.trim();
      expect(key).toMatch(/^hapa_[A-Za-z0-9_-]{43}$/);
      expect(r.stderr).toContain('ops@example.com');
      expect(r.stderr).toContain('shown once');
      expect(r.stderr).not.toContain(key);

      expect((await get(`${server.url}/api/v1/cache/stats`)).status).toBe(401);
      expect((await get(`${server.url}/api/v1/cache/stats`, key)).status).toBe(200);
      const issued = await fetch(`${server.url}/api/v1/admin/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ email: 'analyst@example.com', permissions: ['analytics:read'] }),
      });
      expect(issued.status).toBe(201);

      // Stored as its hash only, and never logged by the server.
      const hash = createHash('sha256').update(key).digest('hex');
      const rows = await db.query<{ permissions: string[]; email: string }>(
        `SELECT k.permissions, u.email FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1`,
        [hash],
      );
      expect(rows).toEqual([{ permissions: ['admin'], email: 'ops@example.com' }]);
      expect(server.proc.output()).not.toContain(key);
    });

    it('should print the whole result as JSON with --json, with the permissions asked for', async () => {
      const r = admin(
        ['create-key', '--email', 'grafana@example.com', '--permissions', 'analytics:read', '--json'],
        env,
        cwd,
      );
      expect(r.status).toBe(0);
      const body = JSON.parse(r.stdout) as { api_key: string; permissions: string[]; expires_in_days: number };
      expect(body).toMatchObject({ permissions: ['analytics:read'], expires_in_days: 90 });
      expect((await get(`${server.url}/api/v1/analytics/dashboard`, body.api_key)).status).toBe(200);
      // analytics:read is not admin.
      expect(
        (await fetch(`${server.url}/api/v1/cache/clear`, { method: 'DELETE', headers: { 'x-api-key': body.api_key } }))
          .status,
      ).toBe(403);
    });

    it('should refuse bad arguments with exit code 2 and write nothing', async () => {
      const before = await db.query<{ n: string }>('SELECT count(*) AS n FROM api_keys');
      const r = admin(['create-key', '--email', 'x@example.com', '--permissions', 'root'], env, cwd);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('code_generation, code_completion, profile, analytics:read, ops:read, admin');
      expect(await db.query('SELECT count(*) AS n FROM api_keys')).toEqual(before);
    });

    it('should refuse to run on a configuration the server would refuse', () => {
      const r = admin(['create-key', '--email', 'x@example.com'], { ...env, SECRET_KEY: 'short' }, cwd);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('SECRET_KEY');
    });
  });

  describe('on the embedded database', () => {
    it('should create the key on a fresh data directory for the server started next, and refuse while it runs', async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'hapa-admin-data-'));
      const env = { ...production, DATA_DIR: dataDir };
      try {
        const r = admin(['create-key', '--email', 'ops@example.com', '--permissions', 'admin'], env, cwd);
        expect(r.status).toBe(0);
        const key = r.stdout.trim();
        const server = await started(env, cwd);
        try {
          expect((await get(`${server.url}/api/v1/cache/stats`, key)).status).toBe(200);
          // A second process on the same files would see none of the server's writes.
          const busy = admin(['create-key', '--email', 'late@example.com'], env, cwd);
          expect(busy.status).toBe(1);
          expect(busy.stdout).toBe('');
          expect(busy.stderr).toContain(`in use by process ${server.proc.child.pid}`);
        } finally {
          await stop(server.proc);
        }
        // Once the server has stopped, the CLI may open the files again.
        expect(admin(['create-key', '--email', 'late@example.com'], env, cwd).status).toBe(0);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }, 240_000);
  });
});
