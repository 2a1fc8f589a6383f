import { randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { factory, xApiKey } from './support/identity-factory';
import { startTestApp, TestApp } from './support/test-app';

jest.setTimeout(120_000);

const ME = '/api/v1/users/me';
const FLOOD = 5_000;
const LIMIT = 60;
const randomKey = () => 'hapa_' + randomBytes(32).toString('base64url');

describe('failed-authentication flood: valid keys are never refused', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = { RATE_LIMIT_ENABLED: 'false', AUTH_FAILURE_LIMIT: String(LIMIT), LOG_LEVEL: 'warn' };
    a = await startTestApp({ apiKey: false, env });
    // A second instance of the same deployment: same database, same Redis prefix.
    b = await startTestApp({ apiKey: false, env, database: a.db, redisPrefix: a.redisPrefix });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('should serve a fresh key and a key first used on another instance during 5,000 invalid keys from one address', async () => {
    const other = await factory.apiKey(b);
    expect((await b.request('GET', ME, { headers: xApiKey(other.key) })).status).toBe(200);

    const agent = new Agent({ connections: 32, pipelining: 1 });
    const statuses = new Map<number, number>();
    let sent = 0;
    let limitedSeen = false;
    let markOverBudget!: () => void;
    const overBudget = new Promise<void>((r) => (markOverBudget = r));
    const worker = async () => {
      while (sent < FLOOD) {
        sent++;
        const res = await undiciFetch(a.url + ME, { headers: xApiKey(randomKey()), dispatcher: agent });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429 && !limitedSeen) {
          limitedSeen = true;
          markOverBudget();
        }
      }
    };
    const started = Date.now();
    const flood = Promise.all(Array.from({ length: 32 }, worker));

    // Once the address is over its budget, and while the flood goes on, from the same address:
    await overBudget;
    const fresh = await factory.apiKey(a);
    const [sharedBudget, ...during] = await Promise.all([
      // The budget is shared: the other instance answers failures from this address with 429 too.
      b.request('GET', ME, { headers: xApiKey(randomKey()) }),
      a.request('GET', ME, { headers: xApiKey(fresh.key) }),
      a.request('GET', ME, { headers: xApiKey(other.key) }),
    ]);
    const floodStillRunning = sent < FLOOD;
    await flood;
    await agent.close();

    expect(floodStillRunning).toBe(true);
    expect(sharedBudget.status).toBe(429);
    expect(during.map((r) => r.status)).toEqual([200, 200]);
    expect(during.map((r) => r.body.email)).toEqual([fresh.email, other.email]);
    // Every failure is a 401 within the budget or a 429 beyond it; the budget is LIMIT per minute window
    // (a slow run may span several windows).
    const windows = Math.floor((Date.now() - started) / 60_000) + 2;
    expect((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0)).toBe(FLOOD);
    expect(statuses.get(401)).toBeGreaterThanOrEqual(LIMIT);
    expect(statuses.get(401)).toBeLessThanOrEqual(LIMIT * windows);
    expect((await b.request('GET', ME, { headers: xApiKey(other.key) })).status).toBe(200);
  });
});
