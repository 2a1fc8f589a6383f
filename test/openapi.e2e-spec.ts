import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestApp } from './support/test-app';

// openapi.json is committed so API changes show in diffs. Refresh it with:
//   UPDATE_OPENAPI=1 npm test -- --testPathPattern openapi
const FILE = path.resolve(__dirname, '../openapi.json');

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
  );
}

describe('openapi.json', () => {
  it('should match the document the server serves at /docs-json', async () => {
    const app = await startTestApp({ redis: false });
    try {
      const served = JSON.stringify(sorted((await app.request('GET', '/docs-json')).body), null, 2) + '\n';
      if (process.env.UPDATE_OPENAPI === '1') writeFileSync(FILE, served);
      expect(readFileSync(FILE, 'utf8')).toBe(served);
    } finally {
      await app.close();
    }
  });
});
