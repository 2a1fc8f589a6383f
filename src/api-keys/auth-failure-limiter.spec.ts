import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { loadConfig } from '../config/app-config';
import { trustProxy } from '../config/env.schema';
import type { RateLimitStore } from '../rate-limit/rate-limit.store';
import type { RedisService } from '../redis/redis.service';
import type { ApiKeyRepository, AuthKeyRecord } from './api-key.repository';
import { AuthFailureLimiter } from './auth-failure-limiter';

/** In-memory stand-ins: counters without windows, a key table that counts its queries. */
function setup(limit: number) {
  const counts = new Map<string, number>();
  const store = {
    hit: async (k: string) => {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      return { count: counts.get(k)!, msToReset: 30_000 };
    },
    peek: async (k: string) => ({ count: counts.get(k) ?? 0, msToReset: 30_000 }),
  } as unknown as RateLimitStore;
  const table = new Map<string, AuthKeyRecord>();
  const queries = { single: 0, batched: 0 };
  const keys = {
    findByHashForAuth: async (h: string) => {
      queries.single++;
      return table.get(h);
    },
    findManyByHashForAuth: async (hs: string[]) => {
      queries.batched++;
      return hs.flatMap((h) => (table.has(h) ? [table.get(h)!] : []));
    },
  } as unknown as ApiKeyRepository;
  const redis = { client: undefined, key: (...p: string[]) => p.join(':') } as unknown as RedisService;
  const sut = new AuthFailureLimiter(loadConfig({ AUTH_FAILURE_LIMIT: String(limit) }), store, redis, keys);
  const addKey = (hash: string) => table.set(hash, { id: hash, keyHash: hash } as AuthKeyRecord);
  return { sut, queries, addKey };
}

describe(AuthFailureLimiter.name, () => {
  const refusal = new AppException(ErrorCode.E4003);

  it('should look unknown keys up one by one within the budget and answer failures with the refusal', async () => {
    const { sut, queries } = setup(3);
    for (let i = 0; i < 3; i++) {
      expect(await sut.lookup(`bad-${i}`, '10.0.0.1')).toBeUndefined();
      expect(await sut.failed('10.0.0.1', refusal)).toBe(refusal);
    }
    expect(queries).toEqual({ single: 3, batched: 0 });
    const over = await sut.failed('10.0.0.1', refusal);
    expect(over.code).toBe(ErrorCode.E4004);
    expect(over.headers).toEqual({ 'Retry-After': '30' });
    expect(await sut.failed('10.0.0.2', refusal)).toBe(refusal);
  });

  it('should batch the lookups of an address over its budget and still find a valid key among them', async () => {
    const { sut, queries, addKey } = setup(1);
    await sut.failed('10.0.0.1', refusal);
    addKey('valid');
    const hashes = [...Array.from({ length: 1_000 }, (_, i) => `random-${i}`), 'valid'];
    const results = await Promise.all(hashes.map((h) => sut.lookup(h, '10.0.0.1')));
    expect(results.filter(Boolean).map((r) => r!.id)).toEqual(['valid']);
    expect(queries.single).toBe(0);
    // 1,001 hashes, at most 500 per query: three queries instead of 1,001.
    expect(queries.batched).toBe(3);
    // Another address within its budget is not slowed down.
    expect(await sut.lookup('valid', '10.0.0.2')).toMatchObject({ id: 'valid' });
    expect(queries.single).toBe(1);
  });

  it('should not look a hash up again after it failed', async () => {
    const { sut, queries, addKey } = setup(10);
    expect(await sut.lookup('h', '10.0.0.1')).toBeUndefined();
    addKey('h');
    expect(await sut.lookup('h', '10.0.0.3')).toBeUndefined();
    expect(queries.single).toBe(1);
  });
});

describe('TRUST_PROXY', () => {
  it('should accept hop counts and address lists and refuse anything else', () => {
    expect(trustProxy('')).toBe(false);
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('loopback, 10.0.0.0/8,fd00::/8, 192.168.1.1')).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.168.1.1',
    ]);
    for (const bad of ['true', '10.0.0.0/33', 'proxy.local', '1.2.3.4/8/1', '-1']) {
      expect(() => trustProxy(bad)).toThrow(/hop count|between/);
    }
  });
});
