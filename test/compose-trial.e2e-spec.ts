import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { buildDist, freePort, ServerProcess, startMain, waitFor } from './support/processes';
import { createTestDatabase, deleteRedisKeys, TestDatabase } from './support/test-app';
import { TEST_REDIS_URL } from './support/test-env';

// The README's Docker Compose path without a Docker engine: its .env command run as printed, the backend and
// emulator services started as processes with the environment and commands docker-compose.yml gives them
// (only service host names and ports swapped for this machine's), and the README's admin command run against
// them. A trial without a GPU must answer a generation request end to end.

const ROOT = path.resolve(__dirname, '..');
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const production = readme.slice(readme.indexOf('## Running in production'), readme.indexOf('## Configuration'));

/** Compose's interpolation for the forms the file uses: ${X}, ${X:-default}, ${X:?error}. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const set = env[name] !== undefined && env[name] !== '';
    if (op === '?' && !set) throw new Error(`compose would abort: ${name}: ${arg}`);
    return set ? env[name] : op === '-' ? arg! : '';
  });
}

function dotenv(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const serviceEnv = (service: string, env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(compose.services[service].environment as Record<string, string>).map(([k, v]) => [
      k,
      interpolate(String(v), env),
    ]),
  );

describe('README Docker Compose trial, as processes', () => {
  let dir: string;
  let dotEnv: Record<string, string>;
  let db: TestDatabase;
  let emulator: ReturnType<typeof spawn> | undefined;
  let backend: ServerProcess | undefined;
  let backendEnv: Record<string, string>;
  let url: string;
  const redisPrefix = `hapa-compose-${process.pid}:`;

  beforeAll(async () => {
    buildDist();
    dir = mkdtempSync(path.join(tmpdir(), 'hapa-compose-'));
    // Step 1 exactly as printed.
    const command = /^printf '[^']+' \\\n(?:.+\\\n)*.+ > \.env$/m.exec(production)![0];
    execFileSync('bash', ['-c', command], { cwd: dir });
    dotEnv = dotenv(path.join(dir, '.env'));
    db = await createTestDatabase();

    // Step 2: what `docker compose up -d` starts with COMPOSE_PROFILES from .env.
    expect(compose.services.emulator.profiles).toEqual([dotEnv.COMPOSE_PROFILES]);
    const emulatorPort = await freePort();
    const [bin, script] = compose.services.emulator.command;
    expect(bin).toBe('node');
    emulator = spawn(process.execPath, [path.join(ROOT, script)], {
      env: {
        PATH: process.env.PATH,
        ...serviceEnv('emulator', dotEnv),
        EMULATOR_HOST: '127.0.0.1',
        EMULATOR_PORT: String(emulatorPort),
      },
      stdio: 'ignore',
    });
    await waitFor(
      () =>
        fetch(`http://127.0.0.1:${emulatorPort}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      60_000,
    );

    const port = await freePort();
    const composed = serviceEnv('backend', dotEnv);
    // The compose network's names, swapped for this machine's services.
    expect(new URL(composed.DATABASE_URL).host).toBe('postgres:5432');
    expect(new URL(composed.DATABASE_URL).password).toBe(dotEnv.POSTGRES_PASSWORD);
    expect(composed.REDIS_URL).toBe('redis://redis:6379');
    expect(composed.VLLM_SERVER_URL).toBe('http://model-server:8000');
    backendEnv = {
      ...composed,
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: redisPrefix,
      VLLM_SERVER_URL: `http://127.0.0.1:${emulatorPort}`,
      PORT: String(port),
    };
    backend = startMain(backendEnv, dir);
    await waitFor(() => backend!.output().includes('listening on') || backend!.child.exitCode !== null, 90_000);
    if (backend.child.exitCode !== null) throw new Error(backend.output());
    url = `http://127.0.0.1:${port}`;
  }, 240_000);

  afterAll(async () => {
    if (backend) {
      backend.child.kill('SIGTERM');
      await backend.exited;
    }
    emulator?.kill('SIGTERM');
    await db?.drop();
    await deleteRedisKeys(redisPrefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('should write real random secrets to .env, strong enough for production', () => {
    expect(Object.keys(dotEnv).sort()).toEqual([
      'COMPOSE_PROFILES',
      'GRAFANA_ADMIN_PASSWORD',
      'POSTGRES_PASSWORD',
      'SECRET_KEY',
    ]);
    expect(dotEnv.SECRET_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(dotEnv.POSTGRES_PASSWORD).toMatch(/^[0-9a-f]{48}$/);
    expect(dotEnv.GRAFANA_ADMIN_PASSWORD).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([dotEnv.SECRET_KEY, dotEnv.POSTGRES_PASSWORD, dotEnv.GRAFANA_ADMIN_PASSWORD]).size).toBe(3);
  });

  it('should serve in production on all interfaces with the emulator as its model server', async () => {
    expect(backendEnv.ENVIRONMENT).toBe('production');
    expect(backendEnv.HOST).toBe('0.0.0.0');
    expect(backend!.output()).toMatch(/listening on .* database=postgres cache=redis model_servers=1/);
    await waitFor(
      async () =>
        ((await (await fetch(`${url}/health`)).json()) as { services: { ai_model: string } }).services.ai_model ===
        'available',
      30_000,
    );
  });

  it("should answer a generation request with a key from the README's admin command", async () => {
    const printed = /^docker compose exec backend npm run admin -- (.+)$/m.exec(production)![1].split(' ');
    const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
    const [bin, script] = scripts.admin.split(' ');
    expect(bin).toBe('node');
    // `docker compose exec` runs with the container's environment: the backend's.
    const r = spawnSync(process.execPath, [path.join(ROOT, script), ...printed], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...backendEnv },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const key = r.stdout.trim();
    const res = await fetch(`${url}/api/v1/code/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ prompt: 'remove duplicates from a list' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { success: boolean; generated_code: string; model_used: string };
    expect(body.success).toBe(true);
    expect(body.generated_code.length).toBeGreaterThan(0);
    expect(body.model_used).toBe('prompt');
    expect((await fetch(`${url}/api/v1/cache/stats`, { headers: { 'x-api-key': key } })).status).toBe(200);
  });
});
