import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { RedisClientType } from 'redis';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { CacheStats } from './cache-stats';
import { CacheStore } from './cache-store';
import { LruMap } from './lru-map';

const MAX_LOCAL = 10_000;
/** Bounds what a lost invalidation can leave behind in one process. */
const MAX_LOCAL_TTL_MS = 60_000;
/** Broadcast for "drop every user". */
const ALL = '*';

/**
 * User profiles in the shared cache (`user_profiles`, TTL CACHE_TTL), for the users module's
 * UserPreferencesPort: `get` before the database, `set` after reading it, `invalidate` on every
 * profile update. Like every cache access it never throws; a failed read is a miss.
 *
 * With Redis, a copy is kept in process too (a Redis read on every generation costs more than the rest
 * of the lookup): invalidations and `DELETE /cache/clear` reach every instance's copy over pub/sub, as
 * key revocations do, and a reconnect drops it (messages may have been missed meanwhile).
 */
@Injectable()
export class ProfileCache implements OnModuleInit, OnModuleDestroy {
  private readonly local?: LruMap<{ value: object; expiresAt: number }>;
  private readonly localTtlMs: number;
  private readonly channel: string;
  private subscriber?: RedisClientType;

  constructor(
    private readonly store: CacheStore,
    private readonly stats: CacheStats,
    private readonly redis: RedisService,
    private readonly logger: AppLogger,
    config: AppConfig,
  ) {
    // Without Redis the shared store already lives in this process.
    if (redis.client) this.local = new LruMap(MAX_LOCAL);
    this.localTtlMs = Math.min(MAX_LOCAL_TTL_MS, config.cache.ttlSeconds * 1000);
    this.channel = redis.key('user_profiles', 'invalidate');
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis.client || !this.local) return;
    const local = this.local;
    // SUBSCRIBE needs a connection of its own.
    const sub = this.redis.client.duplicate() as RedisClientType;
    this.subscriber = sub;
    sub.on('error', () => undefined);
    let readyBefore = false;
    sub.on('ready', () => {
      if (readyBefore) local.clear();
      readyBefore = true;
    });
    const subscribed = sub
      .connect()
      .then(() => sub.subscribe(this.channel, (userId) => (userId === ALL ? local.clear() : local.delete(userId))))
      .catch((e: unknown) =>
        this.logger.write('warn', 'user profile invalidation channel unavailable', { error: String(e) }),
      );
    await Promise.race([subscribed, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  async onModuleDestroy(): Promise<void> {
    const sub = this.subscriber;
    if (sub) await (sub.isOpen ? sub.close() : Promise.resolve(sub.destroy())).catch(() => sub.destroy());
  }

  async get<T extends object>(userId: string): Promise<T | undefined> {
    const own = this.local?.get(userId);
    if (own) {
      if (own.expiresAt > Date.now()) {
        this.stats.hit('user_profiles');
        return own.value as T;
      }
      this.local!.delete(userId);
    }
    const value = await this.store.get<T>('user_profiles', userId);
    if (value === undefined) this.stats.miss('user_profiles');
    else {
      this.stats.hit('user_profiles');
      this.keep(userId, value);
    }
    return value;
  }

  set(userId: string, profile: object): Promise<void> {
    this.keep(userId, profile);
    return this.store.set('user_profiles', userId, profile);
  }

  async invalidate(userId: string): Promise<void> {
    this.local?.delete(userId);
    await this.store.del('user_profiles', userId);
    await this.broadcast(userId);
  }

  /** After `DELETE /cache/clear` of user_profiles: every instance's in-process copies go too. */
  async cleared(): Promise<void> {
    this.local?.clear();
    await this.broadcast(ALL);
  }

  private keep(userId: string, value: object): void {
    this.local?.set(userId, { value, expiresAt: Date.now() + this.localTtlMs });
  }

  private async broadcast(message: string): Promise<void> {
    if (!this.local || !this.redis.isReady) return;
    await this.redis
      .call((client) => client.publish(this.channel, message))
      .catch((e: unknown) =>
        this.logger.write('warn', 'user profile invalidation not published', { error: String(e) }),
      );
  }
}
