import { Client } from 'pg';
import { TEST_PG_ADMIN_URL } from './test-env';

export default async function globalTeardown(): Promise<void> {
  const runId = process.env.HAPA_TEST_RUN_ID;
  if (!runId) return;
  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
      `${runId}%`,
    ]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
