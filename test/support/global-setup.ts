import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { pgUrlFor, TEST_PG_ADMIN_URL } from './test-env';

/** Migrates one template database per run; every test file clones it (CREATE DATABASE … TEMPLATE). */
export default async function globalSetup(): Promise<void> {
  const runId = `hapa_${Date.now().toString(36)}_${process.pid}`;
  const template = `${runId}_tpl`;
  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await dropStale(admin);
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const ds = new DataSource({ type: 'postgres', url: pgUrlFor(template), migrations: MIGRATIONS });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.destroy();
  process.env.HAPA_TEST_RUN_ID = runId;
  process.env.HAPA_TEST_TEMPLATE_DB = template;
}

// Databases left by runs that were killed more than two hours ago.
async function dropStale(admin: Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE 'hapa\\_%' AND NOT datistemplate`,
  );
  const cutoff = Date.now() - 2 * 3600_000;
  for (const { datname } of rows) {
    const started = parseInt(datname.split('_')[1] ?? '', 36);
    if (Number.isFinite(started) && started < cutoff) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  }
}
