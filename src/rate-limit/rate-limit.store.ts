import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { createHash } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { RedisService } from '../redis/redis.service';
import { StoreOutageMonitor } from './store-outage.monitor';

// Fixed windows: the first hit of a window sets its expiry; INCR and PEXPIRE are one atomic step. Every key
// of a request (the key's bucket and the route's) in one script: one round trip per request.
const HIT_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local c = redis.call('INCR', KEYS[i])
  local t = redis.call('PTTL', KEYS[i])
  if c == 1 or t < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[i])
    t = tonumber(ARGV[i])
  end
  out[#out + 1] = c
  out[#out + 1] = t
end
return out`;
const HIT_SHA = createHash('sha1').update(HIT_SCRIPT).digest('hex');

const PEEK_SCRIPT = `
local c = redis.call('GET', KEYS[1])
if not c then return {0, 0} end
return {tonumber(c), redis.call('PTTL', KEYS[1])}`;
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;
const MAX_MEMORY_COUNTERS = 100_000;

export interface Hit {
  count: number;
  msToReset: number;
}

export interface Window {
  key: string;
  windowMs: number;
}

/**
 * Counters for @nestjs/throttler: in Redis (shared by every instance) when it is reachable,
 * otherwise in this process. Keys are namespaced with REDIS_KEY_PREFIX.
 */
@Injectable()
export class RateLimitStore implements ThrottlerStorage, OnModuleDestroy {
  private readonly memory = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisService,
    private readonly outage: StoreOutageMonitor,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return toRecord(await this.hit(key, ttl), limit);
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    return (await this.hitAll([{ key, windowMs }]))[0];
  }

  /** Counts one hit in each window, atomically and in one Redis round trip; results in the same order. */
  async hitAll(windows: readonly Window[]): Promise<Hit[]> {
    if (this.redis.client) {
      try {
        const r = await this.redis.call((client) => this.eval(client, windows));
        this.outage.recovered();
        return r;
      } catch (e) {
        this.outage.failed(e);
      }
    }
    const now = Date.now();
    return windows.map((w) => this.hitMemory(w.key, w.windowMs, now));
  }

  /** The current window's count for a key, without counting a hit (0 when no window is open). */
  async peek(key: string): Promise<Hit> {
    if (this.redis.client) {
      try {
        const [count, ttl] = (await this.redis.call((client) =>
          client.eval(PEEK_SCRIPT, { keys: [this.redis.key('rl', key)] }),
        )) as [number, number];
        this.outage.recovered();
        return { count: Number(count), msToReset: Math.max(0, Number(ttl)) };
      } catch (e) {
        this.outage.failed(e);
      }
    }
    const entry = this.memory.get(key);
    const now = Date.now();
    return entry && entry.resetAt > now
      ? { count: entry.count, msToReset: entry.resetAt - now }
      : { count: 0, msToReset: 0 };
  }

  private async eval(client: RedisClientType, windows: readonly Window[]): Promise<Hit[]> {
    const args = {
      keys: windows.map((w) => this.redis.key('rl', w.key)),
      arguments: windows.map((w) => String(w.windowMs)),
    };
    let reply: unknown;
    try {
      reply = await client.evalSha(HIT_SHA, args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      reply = await client.eval(HIT_SCRIPT, args);
    }
    const flat = reply as number[];
    return windows.map((_, i) => ({ count: Number(flat[2 * i]), msToReset: Number(flat[2 * i + 1]) }));
  }

  private hitMemory(key: string, windowMs: number, now = Date.now()): Hit {
    let entry = this.memory.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.memory.size >= MAX_MEMORY_COUNTERS) this.sweep(now);
      entry = { count: 0, resetAt: now + windowMs };
      this.memory.set(key, entry);
    }
    entry.count += 1;
    return { count: entry.count, msToReset: entry.resetAt - now };
  }

  private sweep(now = Date.now()): void {
    for (const [k, v] of this.memory) if (v.resetAt <= now) this.memory.delete(k);
    // Still full of live windows: drop the oldest rather than grow without bound.
    while (this.memory.size >= MAX_MEMORY_COUNTERS) this.memory.delete(this.memory.keys().next().value as string);
  }
}

/** A hit as @nestjs/throttler's record: blocked past the limit until the window resets. */
export function toRecord({ count, msToReset }: Hit, limit: number): ThrottlerStorageRecord {
  const seconds = Math.max(1, Math.ceil(msToReset / 1000));
  return { totalHits: count, timeToExpire: seconds, isBlocked: count > limit, timeToBlockExpire: seconds };
}
