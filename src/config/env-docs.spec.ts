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
      /src\/(config\/|main\.ts|model-server\/emulator\/emulator\.main\.ts|database\/data-source\.cli\.ts)/;
    const offenders = sourceFiles(path.join(ROOT, 'src'))
      .filter((f) => /process\.env/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f))
      .filter((f) => !allowed.test(f));
    expect(offenders).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));

  it('should define the backend with its data stores, monitoring, and vLLM behind the gpu profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'backend',
      'grafana',
      'postgres',
      'prometheus',
      'redis',
      'vllm',
    ]);
    expect(compose.services.vllm.profiles).toEqual(['gpu']);
    const lora = compose.services.vllm.command.join(' ');
    for (const adapter of ['autocomplete=', 'prompt=', 'comment=', 'error_fix=']) expect(lora).toContain(adapter);
    expect(compose.services.backend.depends_on.postgres.condition).toBe('service_healthy');
  });

  it('should only set backend variables the server reads', () => {
    for (const name of Object.keys(compose.services.backend.environment))
      expect(Object.keys(ENV_SCHEMA)).toContain(name);
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
  });
});
