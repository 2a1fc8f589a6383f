import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS } from '../migrations';
import { pgUrlFor } from './support/test-env';
import { withAdmin } from './support/test-app';

// `npm run migration:run|revert` as an operator runs them: the TypeORM CLI on the compiled data source.
const ROOT = path.resolve(__dirname, '..');
const CLI = [path.join(ROOT, 'node_modules/typeorm/cli.js')];
const DATA_SOURCE = path.join(ROOT, 'dist/src/database/data-source.cli.js');

function cli(command: string, env: Record<string, string>, args: string[] = []): string {
  return execFileSync(process.execPath, [...CLI, command, ...args, '-d', DATA_SOURCE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
  });
}

/** `migration:generate --check` as `npm run migration:generate` runs it; the output names any difference. */
function generateCheck(env: Record<string, string>): string {
  try {
    return cli('migration:generate', env, ['migrations/Unexpected', '--check', '--pretty']);
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    return `migration:generate found changes:\n${stdout ?? ''}${stderr ?? ''}`;
  }
}

describe('migration CLI', () => {
  const name = `${process.env.HAPA_TEST_RUN_ID}_cli`;
  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
    });
    await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  }, 120_000);
  afterAll(() => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));

  it('should have migrations to run', () => {
    expect(MIGRATIONS.length).toBeGreaterThan(0);
  });

  it('should build the schema on an empty PostgreSQL database and revert the last migration', async () => {
    const env = { DATABASE_URL: pgUrlFor(name) };
    cli('migration:run', env);
    const client = new Client({ connectionString: pgUrlFor(name) });
    await client.connect();
    try {
      const ran = async () => (await client.query('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name);
      expect(await ran()).toHaveLength(MIGRATIONS.length);
      cli('migration:revert', env);
      expect(await ran()).toHaveLength(MIGRATIONS.length - 1);
      cli('migration:run', env);
      expect(await ran()).toHaveLength(MIGRATIONS.length);
      // The entities and the migrations agree: `npm run migration:generate` would find nothing to do
      // (--check exits 1 and prints the queries otherwise).
      expect(generateCheck(env)).toContain('No changes in database schema were found');
    } finally {
      await client.end();
    }
  }, 60_000);

  it('should build the same schema on the embedded database', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'hapa-cli-'));
    try {
      const out = cli('migration:run', { DATA_DIR: dataDir });
      expect(out).toMatch(/executed successfully|No migrations are pending/);
      expect(cli('migration:show', { DATA_DIR: dataDir })).not.toMatch(/\[ \]/);
      expect(generateCheck({ DATA_DIR: dataDir })).toContain('No changes in database schema were found');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
