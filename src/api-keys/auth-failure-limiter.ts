import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { RateLimitStore } from '../rate-limit/rate-limit.store';
import { RedisService } from '../redis/redis.service';
import { ApiKeyRepository, AuthKeyRecord } from './api-key.repository';
import { LruCache } from './lru-cache';

const WINDOW_MS = 60_000;
const NEGATIVE_TTL_MS = 60_000;
const MAX_NEGATIVE = 10_000;
/** Over-budget lookups share one query at a time, at most one per interval: a bounded load whatever the flood. */
const BATCH_INTERVAL_MS = 20;
const MAX_BATCH = 500;

interface Waiter {
  resolve(record: AuthKeyRecord | undefined): void;
  reject(e: unknown): void;
}

/**
 * Protects the database from random-key floods without ever refusing a key that verifies.
 *
 * - Hashes that failed are remembered for a minute, in Redis (every instance) and in process, and are
 *   refused without a lookup.
 * - Failed authentications are counted per client address (AUTH_FAILURE_LIMIT per minute, shared
 *   rate-limit store). Within that budget an unknown key is looked up directly; beyond it, lookups from
 *   that address join a batch (one `IN (...)` query per interval for the whole process), so a flood costs
 *   the database a few queries a second while a valid key in it is still found and served. Keys that fail
 *   beyond the budget answer 429 E4004 with Retry-After instead of 401.
 */
@Injectable()
export class AuthFailureLimiter implements OnModuleDestroy {
  private readonly limit: number;
  private readonly negative = new LruCache<string, true>(MAX_NEGATIVE, NEGATIVE_TTL_MS);
  private readonly queue = new Map<string, Waiter[]>();
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    config: AppConfig,
    private readonly store: RateLimitStore,
    private readonly redis: RedisService,
    private readonly keys: ApiKeyRepository,
  ) {
    this.limit = config.security.authFailureLimit;
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
  }

  /** The key record for a hash this process has no cached answer for; undefined when there is none. */
  async lookup(hash: string, ip?: string): Promise<AuthKeyRecord | undefined> {
    if (await this.failedRecently(hash)) return undefined;
    const over = await this.overBudget(ip);
    const record = over ? await this.enqueue(hash) : await this.keys.findByHashForAuth(hash);
    if (!record) await this.rememberFailure(hash, over);
    return record;
  }

  /**
   * Counts a failed authentication from `ip`; returns what to answer: `refusal` itself, or 429 E4004 once
   * the address is over its budget.
   */
  async failed(ip: string, refusal: AppException): Promise<AppException> {
    if (this.limit === 0) return refusal;
    const { count, msToReset } = await this.store.hit(key(ip), WINDOW_MS);
    if (count <= this.limit) return refusal;
    const seconds = Math.max(1, Math.ceil(msToReset / 1000));
    return new AppException(ErrorCode.E4004, {
      message: `Too many failed authentications from this address: try again in ${seconds} s`,
      headers: { 'Retry-After': String(seconds) },
    });
  }

  private async overBudget(ip?: string): Promise<boolean> {
    if (this.limit === 0 || !ip) return false;
    return (await this.store.peek(key(ip))).count >= this.limit;
  }

  private async failedRecently(hash: string): Promise<boolean> {
    if (this.negative.get(hash)) return true;
    if (!this.redis.isReady) return false;
    try {
      const hit = await this.redis.call((client) => client.exists(this.redisKey(hash)));
      if (hit) this.negative.set(hash, true);
      return hit > 0;
    } catch {
      return false; // the database lookup is the fallback
    }
  }

  private async rememberFailure(hash: string, overBudget: boolean): Promise<void> {
    this.negative.set(hash, true);
    // Shared only within the budget: a flood of random keys (never repeated) must not fill Redis.
    if (!this.redis.isReady || overBudget) return;
    await this.redis
      .call((client) => client.set(this.redisKey(hash), '1', { expiration: { type: 'PX', value: NEGATIVE_TTL_MS } }))
      .catch(() => undefined);
  }

  private redisKey(hash: string): string {
    return this.redis.key('authneg', hash);
  }

  private enqueue(hash: string): Promise<AuthKeyRecord | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.queue.get(hash);
      if (waiters) waiters.push({ resolve, reject });
      else this.queue.set(hash, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.running || this.queue.size === 0) return;
    this.timer = setTimeout(() => void this.runBatch(), BATCH_INTERVAL_MS);
  }

  private async runBatch(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    const batch = new Map<string, Waiter[]>();
    for (const [hash, waiters] of this.queue) {
      if (batch.size >= MAX_BATCH) break;
      batch.set(hash, waiters);
      this.queue.delete(hash);
    }
    try {
      const rows = await this.keys.findManyByHashForAuth([...batch.keys()]);
      const byHash = new Map(rows.map((r) => [r.keyHash.trim(), r]));
      for (const [hash, waiters] of batch) for (const w of waiters) w.resolve(byHash.get(hash));
    } catch (e) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(e);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}

const key = (ip: string) => `authfail:ip:${ip}`;
