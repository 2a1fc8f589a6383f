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

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  requestBody?: { content: Record<string, { examples?: Record<string, unknown>; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
}

const operations = (doc: { paths: Record<string, Record<string, Operation>> }) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
  );

describe('the OpenAPI document, for a newcomer', () => {
  const doc = JSON.parse(readFileSync(FILE, 'utf8'));

  it('should give every operation a summary, a description and the permission it needs', () => {
    const gaps = operations(doc)
      .filter(({ op }) => !op.summary || !op.description || !/\*\*Permission:\*\* /.test(op.description))
      .map(({ route }) => route);
    expect(gaps).toEqual([]);
    const permissionOf = (route: string) =>
      /\*\*Permission:\*\* ([^.]*)/.exec(operations(doc).find((o) => o.route === route)!.op.description!)![1];
    expect(permissionOf('POST /api/v1/code/generate')).toBe('`code_generation` (or `admin`)');
    expect(permissionOf('DELETE /api/v1/cache/clear')).toBe('`admin`');
    expect(permissionOf('GET /api/v1/cache/stats')).toBe('`admin` or `analytics:read`');
    expect(permissionOf('GET /api/v1/users/me')).toBe('any valid API key or login token');
    expect(permissionOf('GET /health/live')).toBe('none (public)');
    expect(permissionOf('POST /api/v1/users/login')).toMatch(/^none while `REGISTRATION_MODE=open`/);
  });

  it('should show an example for every request body', () => {
    const without = operations(doc)
      .filter(({ op }) => op.requestBody)
      .filter(({ op }) => !Object.values(op.requestBody!.content).some((c) => c.examples || c.example))
      .map(({ route }) => route);
    expect(without).toEqual([]);
  });

  it('should declare the stream routes as text/event-stream with an example frame sequence', () => {
    const streams = operations(doc).filter(({ route }) => /stream-generate|generate\/stream/.test(route));
    expect(streams).toHaveLength(3);
    for (const { op } of streams) {
      const example = op.responses['200'].content?.['text/event-stream']?.example as string;
      const frames = example.split('\n\n').filter(Boolean);
      expect(frames.at(-1)).toBe('data: [DONE]');
      const events = frames.slice(0, -1).map((f) => JSON.parse(f.replace(/^data: /, '')).type);
      expect(events).toEqual(['start', 'token', 'token', 'done']);
    }
  });

  it('should put onboarding first', () => {
    expect(doc.tags[0].name).toBe('onboarding');
    const onboarding = operations(doc).filter(({ op }) => op.tags?.includes('onboarding'));
    expect(onboarding.map(({ route }) => route).sort()).toEqual([
      'POST /api/v1/users/generate-api-key',
      'POST /api/v1/users/login',
    ]);
    expect(onboarding.every(({ op }) => op.tags!.length === 1)).toBe(true);
  });
});

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
