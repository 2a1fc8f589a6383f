import { Body, Controller, Module, Post } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, ValidateBy } from 'class-validator';
import { Agent, fetch as undiciFetch } from 'undici';
import { INCIDENT_ID, startTestApp, TestApp } from './support/test-app';

jest.setTimeout(180_000);

/** A validator that throws, as class-validator's IsEmail did on a lone surrogate. */
class ThrowingDto {
  @ApiProperty() @IsString() name: string;
  @ApiProperty()
  @ValidateBy({
    name: 'throws',
    validator: {
      validate: (v: unknown) => {
        if (v === 'boom') throw new URIError('URI malformed');
        return true;
      },
    },
  })
  code: string;
}

@Controller('probe')
class ProbeController {
  @Post('throwing-validator') accept(@Body() body: ThrowingDto): { ok: boolean } {
    return { ok: body.code !== undefined };
  }
}
@Module({ controllers: [ProbeController] })
class ProbeModule {}

/** Hostile values, as raw JSON text (1e400 has no JSON.stringify form: it parses to Infinity). */
const VALUES: [string, string][] = [
  ['null', 'null'],
  ['{}', '{}'],
  ['[]', '[]'],
  ['""', '""'],
  ['-1', '-1'],
  ['1e400', '1e400'],
  ['lone surrogate', JSON.stringify('\ud800')],
  ['300 KB string', JSON.stringify('a'.repeat(300_000))],
];
const PLACEHOLDER = '"__FUZZ_VALUE__"';

type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  example?: unknown;
  minimum?: number;
  items?: Schema;
};
interface Case {
  method: string;
  path: string;
  field: string;
  value: string;
  body: string;
}

function resolve(doc: { components: { schemas: Record<string, Schema> } }, s: Schema): Schema {
  return s.$ref ? resolve(doc, doc.components.schemas[s.$ref.split('/').pop()!]) : s;
}

/** A body the route should accept: required fields and documented examples, other values from the type. */
function validValue(s: Schema): unknown {
  if (s.example !== undefined) return s.example;
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'number':
    case 'integer':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    case undefined:
    default:
      return 'x';
  }
}

/** Every documented field of every route with a JSON body, nested DTO fields included, from /docs-json. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document as parsed JSON
function casesFrom(doc: any): Case[] {
  const cases: Case[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document as parsed JSON
  for (const [template, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const schemaRef = op?.requestBody?.content?.['application/json']?.schema;
      if (!schemaRef) continue;
      const schema = resolve(doc, schemaRef);
      const path = template.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const base: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        const p = resolve(doc, prop);
        if (schema.required?.includes(name) || p.example !== undefined) base[name] = validValue(p);
      }
      const fields: [string[], Schema][] = [];
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        fields.push([[name], prop]);
        const p = resolve(doc, prop);
        for (const nested of Object.keys(p.properties ?? {})) fields.push([[name, nested], p.properties![nested]]);
      }
      for (const [fieldPath] of fields) {
        for (const [label, raw] of VALUES) {
          const body = structuredClone(base);
          let target = body;
          for (const part of fieldPath.slice(0, -1)) target = target[part] = {};
          target[fieldPath[fieldPath.length - 1]] = '__FUZZ_VALUE__';
          cases.push({
            method: method.toUpperCase(),
            path,
            field: fieldPath.join('.'),
            value: label,
            body: JSON.stringify(body).replace(PLACEHOLDER, raw),
          });
        }
      }
    }
  }
  return cases;
}

describe('no 5xx from any body', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { LOG_LEVEL: 'error' }, extraModules: [ProbeModule] });
  });
  afterAll(() => app?.close());

  it('should answer every hostile value in every documented body field without a 5xx, errors in the §3 envelope', async () => {
    const doc = (await app.request('GET', '/docs-json')).body;
    const cases = casesFrom(doc);
    // The document drives the table: the known routes with bodies must be in it.
    const routes = new Set(cases.map((c) => `${c.method} ${c.path}`));
    for (const r of ['POST /api/v1/code/generate', 'POST /api/v1/users/login', 'POST /api/v1/analytics/events'])
      expect(routes).toContain(r);
    expect(cases.some((c) => c.field === 'user_profile.pythonSkillLevel')).toBe(true);

    const agent = new Agent({ connections: 16, pipelining: 1 });
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++];
        const res = await undiciFetch(app.url + c.path, {
          method: c.method,
          headers: { 'content-type': 'application/json', 'x-api-key': app.apiKey! },
          body: c.body,
          dispatcher: agent,
        });
        const text = await res.text();
        const what = `${c.method} ${c.path} ${c.field}=${c.value} -> ${res.status} ${text.slice(0, 200)}`;
        if (res.status >= 500) failures.push(what);
        else if (res.status >= 400 && !isEnvelope(text, c.path)) failures.push(`bad envelope: ${what}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await agent.close();
    expect(failures).toEqual([]);
  });

  it('should name the field when a validator throws or an email is malformed, and treat null on an optional field as absent', async () => {
    const thrown = await app.request('POST', '/api/v1/probe/throwing-validator', {
      body: { name: 'n', code: 'boom' },
    });
    expect(thrown.status).toBe(422);
    expect(thrown.body).toMatchObject({ error_code: 'E4006', details: [{ field: 'code' }] });
    expect(thrown.body.details).toHaveLength(1);
    expect(
      (await app.request('POST', '/api/v1/probe/throwing-validator', { body: { name: 'n', code: 'ok' } })).status,
    ).toBe(201);

    const surrogate = await app.request('POST', '/api/v1/users/login', { body: { email: 'a\ud800@example.com' } });
    expect(surrogate.status).toBe(422);
    expect(surrogate.body.error_code).toBe('E4006');
    expect(new Set(surrogate.body.details.map((d: { field: string }) => d.field))).toEqual(new Set(['email']));

    const nullLanguage = await app.request('POST', '/api/v1/code/generate', {
      body: { prompt: 'add two numbers', language: null },
    });
    expect(nullLanguage.status).toBe(200);
    const event = await app.request('POST', '/api/v1/analytics/events', {
      body: { type: 'view', completion_id: 'cmpl-1', language: null },
    });
    expect(event.status).toBeLessThan(300);
    // null on a required field is a missing field.
    const nullEmail = await app.request('POST', '/api/v1/users/login', { body: { email: null } });
    expect(nullEmail.status).toBe(422);
    expect(nullEmail.body.error_code).toBe('E4002');
    expect(nullEmail.body.details.map((d: { field: string }) => d.field)).toContain('email');
  });
});

/** Spec §3 envelope; on the OpenAI-compatible /v1 surface, its own `{error: {message, type, code}}` (spec openai.md). */
function isEnvelope(text: string, path: string): boolean {
  let body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    body = JSON.parse(text);
  } catch {
    return false;
  }
  if (path.startsWith('/v1/')) {
    return typeof body.error?.message === 'string' && typeof body.error?.type === 'string' && body.error?.code != null;
  }
  return (
    body.status === 'error' &&
    typeof body.error_code === 'string' &&
    /^E[45]\d{3}$/.test(body.error_code) &&
    typeof body.message === 'string' &&
    typeof body.incident_id === 'string' &&
    INCIDENT_ID.test(body.incident_id) &&
    typeof body.timestamp === 'string' &&
    body.path === path &&
    (body.details === undefined || Array.isArray(body.details))
  );
}
