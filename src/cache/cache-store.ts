import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorReporter } from '../common/errors/error-reporter';
import { newIncidentId } from '../common/errors/incident-id';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { RedisService, withTimeout } from '../redis/redis.service';
import { CacheType } from './cache-types';
import { redisCacheNamespace } from './keyv-store';
import { LruMap } from './lru-map';

const ADMIN_TIMEOUT_MS = 10_000;
const SCAN_COUNT = 500;

/**
 * cache-manager over the Keyv store, keyed `<cache_type>:<id>`. Reads and writes never throw and
 * never wait long: while Redis is down they are skipped, and one E5002 is reported per outage (the
 * outage ends when Redis reconnects or a write succeeds again).
 */
@Injectable()
export class CacheStore {
  readonly backend: 'redis' | 'memory';
  readonly ttlMs: number;
  private down = false;

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly redis: RedisService,
    private readonly reporter: ErrorReporter,
    private readonly logger: AppLogger,
    config: AppConfig,
  ) {
    this.backend = redis.client ? 'redis' : 'memory';
    this.ttlMs = config.cache.ttlSeconds * 1000;
    // cache-manager swallows read errors and reports them as events
    cache.on('get', (e: { error?: unknown }) => {
      if (e.error) this.failed(e.error);
    });
    redis.onStateChange((state) => {
      if (state === 'connected') this.recovered();
    });
  }

  get available(): boolean {
    return this.backend === 'memory' || this.redis.isReady;
  }

  async get<T>(type: CacheType, id: string): Promise<T | undefined> {
    if (!this.usable()) return undefined;
    try {
      return (await this.bounded(() => this.cache.get<T>(`${type}:${id}`))) ?? undefined;
    } catch (e) {
      this.failed(e);
      return undefined;
    }
  }

  async set(type: CacheType, id: string, value: unknown): Promise<void> {
    if (!this.usable()) return;
    try {
      await this.bounded(() => this.cache.set(`${type}:${id}`, value, this.ttlMs));
      this.recovered();
    } catch (e) {
      this.failed(e);
    }
  }

  async del(type: CacheType, id: string): Promise<void> {
    if (!this.usable()) return;
    try {
      await this.bounded(() => this.cache.del(`${type}:${id}`));
    } catch (e) {
      this.failed(e);
    }
  }

  /** Deletes every entry of one type of this deployment (Redis: SCAN on the key prefix, never FLUSHDB). */
  async clear(type: CacheType): Promise<number> {
    const memory = this.memoryMap();
    if (memory) {
      let n = 0;
      for (const key of [...memory.keys()]) if (key.startsWith(`${type}:`) && memory.delete(key)) n++;
      return n;
    }
    return this.adminScan(type, async (keys) => (keys.length ? this.redis.client!.unlink(keys) : 0));
  }

  /** Live entries of one type (admin statistics; Redis: a SCAN of the prefix). */
  async count(type: CacheType): Promise<number> {
    const memory = this.memoryMap();
    if (memory) {
      const now = Date.now();
      let n = 0;
      for (const [key, raw] of memory.entries()) {
        const expires = (raw as { expires?: number } | undefined)?.expires;
        if (key.startsWith(`${type}:`) && (expires === undefined || expires > now)) n++;
      }
      return n;
    }
    return this.adminScan(type, async (keys) => keys.length);
  }

  private memoryMap(): LruMap<unknown> | undefined {
    const store = (this.cache.stores[0] as { store?: unknown } | undefined)?.store;
    return store instanceof LruMap ? (store as LruMap<unknown>) : undefined;
  }

  private async adminScan(type: CacheType, onKeys: (keys: string[]) => Promise<number>): Promise<number> {
    const client = this.redis.client;
    if (!client || !this.redis.isReady) {
      throw new AppException(ErrorCode.E5002, { message: 'The cache service is unavailable' });
    }
    const match = `${escapeGlob(redisCacheNamespace(this.redis))}:${type}:*`;
    const run = async (): Promise<number> => {
      let n = 0;
      for await (const keys of client.scanIterator({ MATCH: match, COUNT: SCAN_COUNT })) n += await onKeys(keys);
      return n;
    };
    try {
      return await withTimeout(run(), ADMIN_TIMEOUT_MS, 'cache scan timed out');
    } catch (e) {
      this.failed(e);
      throw new AppException(ErrorCode.E5002, { message: 'The cache service is unavailable', cause: e });
    }
  }

  // A slow cache must cost a request little: Redis operations run under the shared deadline and breaker.
  private bounded<T>(op: () => Promise<T>): Promise<T> {
    return this.backend === 'redis' ? this.redis.call(op) : op();
  }

  private usable(): boolean {
    if (this.available) return true;
    this.failed(new Error('Redis is not connected'));
    return false;
  }

  private failed(e: unknown): void {
    if (this.down) return;
    this.down = true;
    const internal = e instanceof Error ? e.message : String(e);
    this.logger.write('warn', 'cache unavailable: serving without the cache', { error: internal });
    this.reporter.report({
      code: ErrorCode.E5002,
      status: 503,
      message: 'Cache service error: requests are served without the cache',
      route: 'internal:cache',
      method: 'INTERNAL',
      path: 'internal:cache',
      requestId: 'internal',
      incidentId: newIncidentId(),
      at: new Date(),
      internal,
    });
  }

  private recovered(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.write('info', 'cache available again');
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
