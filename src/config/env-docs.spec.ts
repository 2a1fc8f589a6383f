import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ENV_SCHEMA } from './env.schema';

const ROOT = path.resolve(__dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.spec.ts') ? [p] : [];
  });
}

/** NAME=value lines of .env.example, with the comment line above each. */
function envExample(): Map<string, { value: string; comment: string }> {
  const lines = readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n');
  const out = new Map<string, { value: string; comment: string }>();
  lines.forEach((line, i) => {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[1], { value: m[2], comment: lines[i - 1]?.startsWith('#') ? lines[i - 1] : '' });
  });
  return out;
}

describe('configuration documentation', () => {
  const documented = envExample();

  it('should document every schema variable in .env.example with its default and a comment', () => {
    for (const [name, spec] of Object.entries(ENV_SCHEMA)) {
      expect({ name, ...documented.get(name) }).toEqual({
        name,
        value: spec.default,
        comment: expect.stringMatching(/^# \S/),
      });
    }
  });

  it('should list every schema variable with its default in the README configuration table', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const [name, spec] of Object.entries(ENV_SCHEMA)) {
      const shown = spec.default === '' ? '*(empty)*' : '`' + spec.default.replace(/\|/g, '\\|') + '`';
      expect(readme).toContain(`| \`${name}\` | ${shown} |`);
    }
  });

  it('should read no variable that .env.example does not document', () => {
    const read = new Set<string>();
    for (const file of [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'bench'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g))
        read.add(m[1] ?? m[2]);
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})\b/g)) read.add(m[1]);
      for (const m of text.matchAll(/\benv\w*\(\s*['"]([A-Z][A-Z0-9_]+)['"]/g)) read.add(m[1]);
    }
    const system = new Set(['NODE_ENV', 'PATH', 'HOME']); // passed through to child processes, not configuration
    const undocumented = [...read].filter((n) => !documented.has(n) && !system.has(n));
    expect(undocumented).toEqual([]);
  });

  it('should keep process.env out of feature code (config, entry points and the emulator CLI only)', () => {
    const allowed =
      /src\/(config\/|main\.ts|model-server\/emulator\/emulator\.main\.ts|database\/data-source\.cli\.ts|cli\/admin\.ts)/;
    const offenders = sourceFiles(path.join(ROOT, 'src'))
      .filter((f) => /process\.env/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f))
      .filter((f) => !allowed.test(f));
    expect(offenders).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const production = readme.slice(readme.indexOf('## Running in production'), readme.indexOf('## Configuration'));
  const backend = compose.services.backend;

  it('should define the backend with its data stores, monitoring, and one model server per profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'backend',
      'emulator',
      'grafana',
      'postgres',
      'prometheus',
      'redis',
      'vllm',
    ]);
    expect(compose.services.vllm.profiles).toEqual(['gpu']);
    expect(compose.services.emulator.profiles).toEqual(['emulator']);
    for (const name of ['backend', 'postgres', 'redis', 'prometheus', 'grafana'])
      expect(compose.services[name].profiles).toBeUndefined();
    expect(backend.depends_on.postgres.condition).toBe('service_healthy');
    expect(backend.depends_on.redis.condition).toBe('service_healthy');
  });

  it('should run the backend in production on all interfaces, draining longer than SHUTDOWN_TIMEOUT', () => {
    expect(backend.environment).toMatchObject({ ENVIRONMENT: 'production', HOST: '0.0.0.0', PORT: '8000' });
    expect(backend.ports).toEqual(['8000:8000']);
    const grace = /^(\d+)s$/.exec(backend.stop_grace_period)!;
    expect(Number(grace[1])).toBeGreaterThan(Number(backend.environment.SHUTDOWN_TIMEOUT));
  });

  it('should only set backend variables the server reads', () => {
    for (const name of Object.keys(backend.environment)) expect(Object.keys(ENV_SCHEMA)).toContain(name);
  });

  it('should reach either profile as model-server:8000 by default', () => {
    const url = /^\$\{VLLM_SERVER_URL:-(.+)\}$/.exec(backend.environment.VLLM_SERVER_URL)![1];
    expect(new URL(url).host).toBe('model-server:8000');
    for (const name of ['emulator', 'vllm'])
      expect(compose.services[name].networks.default.aliases).toEqual(['model-server']);
    expect(compose.services.emulator.environment.EMULATOR_PORT).toBe('8000');
    expect(compose.services.vllm.command).toContain('--port=8000');
  });

  it('should run the emulator from the backend image with only documented emulator variables', () => {
    const emulator = compose.services.emulator;
    expect(emulator.image).toBe(backend.image);
    expect(emulator.build).toBe(backend.build);
    expect(emulator.command).toEqual(['node', 'dist/emulator/emulator.main.js']);
    // The build compiles emulator/ into dist/emulator/ (tsconfig.build.json) and the image copies dist/.
    expect(statSync(path.join(ROOT, 'emulator/emulator.main.ts')).isFile()).toBe(true);
    expect(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')).toContain('emulator/**/*.ts');
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^COPY emulator \.\/emulator$/m);
    const documented = envExample();
    for (const name of Object.keys(emulator.environment)) {
      expect(name).toMatch(/^EMULATOR_/);
      expect(documented.has(name)).toBe(true);
    }
    // Listening beyond loopback, or the backend container could not reach it.
    expect(emulator.environment.EMULATOR_HOST).toBe('0.0.0.0');
    expect(emulator.healthcheck.test.join(' ')).toContain('/health');
  });

  it('should pin the vLLM image and serve the four adapters from ./adapters', () => {
    const vllm = compose.services.vllm;
    expect(vllm.image).toMatch(/^vllm\/vllm-openai:v\d+\.\d+\.\d+$/);
    expect(vllm.volumes).toContain('./adapters:/adapters:ro');
    const lora = vllm.command.join(' ');
    for (const adapter of ['autocomplete', 'prompt', 'comment', 'error_fix']) {
      expect(lora).toContain(`${adapter}=/adapters/${adapter}`);
      expect(production).toContain('`' + adapter + '`');
    }
    expect(production).toContain(vllm.image);
  });

  it('should require only what the README command writes to .env, and name real profiles', () => {
    const text = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const required = [...new Set([...text.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]))];
    expect(required.sort()).toEqual(['GRAFANA_ADMIN_PASSWORD', 'POSTGRES_PASSWORD', 'SECRET_KEY']);
    const command = /^printf '([^']+)' \\\n((?:.+\\\n)*.+) > \.env$/m.exec(production);
    expect(command).not.toBeNull();
    const written = [...command![1].matchAll(/([A-Z_]+)=%s/g)].map((m) => m[1]);
    expect(written.sort()).toEqual(required.sort());
    // One random value per %s, each long enough (SECRET_KEY needs 32 characters in production).
    const randoms = [...command![2].matchAll(/"\$\(openssl rand -hex (\d+)\)"/g)].map((m) => Number(m[1]));
    expect(randoms).toHaveLength(written.length);
    expect(randoms[written.indexOf('SECRET_KEY')] * 2).toBeGreaterThanOrEqual(32);
    const profiles = new Set(
      Object.values(compose.services).flatMap((svc) => (svc as { profiles?: string[] }).profiles ?? []),
    );
    expect(command![1]).toMatch(/COMPOSE_PROFILES=emulator\\n/);
    const named = [...production.matchAll(/COMPOSE_PROFILES=(\w+)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThanOrEqual(2);
    for (const profile of named) expect(profiles).toContain(profile);
    expect(production).toMatch(/^docker compose up -d$/m);
  });

  it('should document an admin command the image can run', () => {
    const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(scripts.admin).toBe('node dist/src/cli/admin.js');
    expect(statSync(path.join(ROOT, 'src/cli/admin.ts')).isFile()).toBe(true);
    expect(production).toContain(
      'docker compose exec backend npm run admin -- create-key --email ops@example.com --permissions admin',
    );
    expect(production).toMatch(/kubectl -n hapa exec deploy\/hapa -- node dist\/src\/cli\/admin\.js create-key/);
  });

  it('should mount provisioning files that exist in deploy/', () => {
    const mounts = [...compose.services.prometheus.volumes, ...compose.services.grafana.volumes]
      .map((v: string) => v.split(':')[0])
      .filter((src: string) => src.startsWith('./'));
    expect(mounts.length).toBeGreaterThanOrEqual(3);
    for (const src of mounts)
      expect(statSync(path.join(ROOT, src)).isFile() || statSync(path.join(ROOT, src)).isDirectory()).toBe(true);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  it('should build in stages, run as non-root and check /health/live', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/health\/live/);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('should use one supported Node LTS that engines and the README agree with', () => {
    const majors = [...dockerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    expect(new Set(majors)).toEqual(new Set([22]));
    const engines = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node;
    expect(engines).toBe('>=20.19');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('runs Node 22 LTS');
    expect(readme).toContain('Node 20.19 or later (`engines`)');
  });

  it('should leave out of the build context what the image does not need', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.env', 'adapters', 'test', 'bench']) expect(ignored).toContain(entry);
    for (const copied of [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(' ')))
      expect(ignored).not.toContain(copied);
  });
});
