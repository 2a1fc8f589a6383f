import 'reflect-metadata';
import { Type } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createClient } from 'redis';
import { ApiKeysService } from '../../src/api-keys/api-keys.service';
import { RunningServer, startServer } from '../../src/bootstrap';
import { JsonLogger, LogLevel } from '../../src/common/logging/json-logger';
import { loadConfig } from '../../src/config/app-config';
import { pgUrlFor, TEST_PG_ADMIN_URL, TEST_REDIS_URL } from './test-env';

export interface TestDatabase {
  name: string;
  url: string;
  /** A pg client on this database, for assertions on what was stored. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A fresh database cloned from the run's migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.HAPA_TEST_TEMPLATE_DB;
  const runId = process.env.HAPA_TEST_RUN_ID;
  if (!template || !runId) throw new Error('e2e global setup did not run');
  const name = `${runId}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  const url = pgUrlFor(name);
  let client: Client | undefined;
  return {
    name,
    url,
    async query<T>(sql: string, params: unknown[] = []) {
      if (!client) {
        client = new Client({ connectionString: url });
        await client.connect();
      }
      return (await client.query(sql, params)).rows as T[];
    },
    async drop() {
      await client?.end();
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

export async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Embedded PGlite instead of the machine's PostgreSQL. */
  embedded?: boolean;
  /** Share an existing database (several instances of one deployment). */
  database?: TestDatabase;
  /** false: no Redis (in-process cache and limits). Default: the machine's Redis. */
  redis?: boolean;
  /** Share a Redis key prefix with another instance. */
  redisPrefix?: string;
  /** Extra modules, for tests of cross-cutting behaviour (filters, pipes) through a test-only route. */
  extraModules?: Type[];
  logLevel?: LogLevel;
  /**
   * Default (true): the harness issues one API key with every permission and very high limits
   * (in process, as the admin route would) and sends it on every request that carries no credentials of its own.
   * false: requests go out exactly as written (tests of authentication itself).
   */
  apiKey?: boolean;
}

const defaultAuth = new Map<string, Record<string, string>>();

/** The harness's default credentials for an app's base URL, unless `headers` already carry credentials. */
export function withDefaultAuth(baseUrl: string, headers: Record<string, string> = {}): Record<string, string> {
  const own = Object.keys(headers).some((h) => ['x-api-key', 'authorization'].includes(h.toLowerCase()));
  return own ? headers : { ...defaultAuth.get(baseUrl), ...headers };
}

export interface TestApp {
  url: string;
  server: RunningServer;
  db?: TestDatabase;
  redisPrefix: string;
  /** The harness's default API key (see TestAppOptions.apiKey). */
  apiKey?: string;
  /** Every log line the app wrote, for assertions on logging. */
  logs: string[];
  request(
    method: string,
    path: string,
    init?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const ownDb = opts.embedded || opts.database ? undefined : await createTestDatabase();
  const db = opts.database ?? ownDb;
  // Always an own DATA_DIR: besides PGlite it holds telemetry spilled at shutdown, which must not reach another test.
  const dataDir = mkdtempSync(path.join(tmpdir(), opts.embedded ? 'hapa-pglite-' : 'hapa-data-'));
  const redisPrefix = opts.redisPrefix ?? `hapa-test:${randomBytes(4).toString('hex')}:`;
  const env: Record<string, string> = {
    ENVIRONMENT: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    SHUTDOWN_TIMEOUT: '5',
    // Feature suites are not about limits (anonymous test traffic shares one IP); the limiter still
    // runs on every request. Rate-limit tests set their own limits and rules.
    DEFAULT_RATE_LIMIT: '1000000',
    AUTOCOMPLETE_RATE_LIMIT: '1000000',
    API_RATE_LIMIT: '1000000',
    RATE_LIMIT_RULES: '',
    // A loaded test machine must not trip the Redis breaker in suites about something else; the outage suite sets its own.
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    ...(db ? { DATABASE_URL: db.url } : {}),
    DATA_DIR: dataDir,
    ...(opts.redis === false ? {} : { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix }),
    ...opts.env,
  };
  const config = loadConfig(env);
  const logs: string[] = [];
  const logger = new JsonLogger(opts.logLevel ?? 'info', true, (line) => logs.push(line));
  const server = await startServer(config, logger, { extraModules: opts.extraModules });
  const apiKey = opts.apiKey === false ? undefined : await issueDefaultKey(server);
  if (apiKey) defaultAuth.set(server.url, { 'X-API-Key': apiKey });
  return {
    url: server.url,
    server,
    db,
    redisPrefix,
    apiKey,
    logs,
    request: (method, p, init) =>
      request(server.url, method, p, { ...init, headers: withDefaultAuth(server.url, init?.headers) }),
    async close() {
      defaultAuth.delete(server.url);
      await server.shutdown();
      await ownDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
      if (opts.redis !== false && !opts.redisPrefix) await deleteRedisKeys(redisPrefix);
    },
  };
}

/** Issued in process (not over HTTP), so the harness's key leaves no trace in usage or error records. */
async function issueDefaultKey(server: RunningServer): Promise<string | undefined> {
  try {
    const issued = await server.app.get(ApiKeysService, { strict: false }).issueByAdmin({
      email: 'test-harness@example.com',
      permissions: ['code_generation', 'code_completion', 'profile', 'analytics:read', 'admin'],
      rate_limit: 10_000_000,
      max_concurrent_streams: 10_000,
      name: 'test harness',
    });
    return issued.api_key;
  } catch {
    // An app started against a broken database cannot issue keys; its requests then go out bare.
    return undefined;
  }
}

export async function request(
  baseUrl: string,
  method: string,
  p: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<TestResponse> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + p, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export async function deleteRedisKeys(prefix: string): Promise<void> {
  const client = createClient({ url: TEST_REDIS_URL });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length) await client.del(keys);
    }
  } finally {
    await client.close();
  }
}

export const INCIDENT_ID = /^INC-\d{8}-[0-9A-F]{8}$/;
