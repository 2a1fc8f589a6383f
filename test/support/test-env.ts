// Where the e2e suite finds this machine's real services (CI sets nothing: these defaults are CI's).
export const TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function pgUrlFor(database: string): string {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = '/' + database;
  return u.toString();
}
