import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { LruMap } from './lru-map';

/**
 * KeyvRedis on the process's shared node-redis client. RedisService owns that connection: this
 * adapter never connects, reconnects or closes it (cache-manager disconnects its stores on module
 * destroy, which would otherwise close the client other modules still use).
 */
class SharedClientKeyvRedis extends KeyvRedis<unknown> {
  override async getClient(): ReturnType<KeyvRedis<unknown>['getClient']> {
    if (!this.client.isOpen) throw new Error('Redis client is not connected');
    return this.client;
  }

  override async disconnect(): Promise<void> {
    // the connection belongs to RedisService
  }
}

/** Namespace of every cache key in Redis: `<REDIS_KEY_PREFIX>cache`, then `:<cache_type>:<id>`. */
export function redisCacheNamespace(redis: RedisService): string {
  return redis.key('cache');
}

/**
 * The Keyv store behind cache-manager: Redis (values as one JSON string each, errors thrown so the
 * cache layer can serve uncached and report the outage) or, without REDIS_URL, an LRU map bounded
 * by MAX_CACHE_SIZE holding the values as they are.
 */
export function createKeyvStore(config: AppConfig, redis: RedisService): Keyv {
  if (redis.client) {
    const namespace = redisCacheNamespace(redis);
    const adapter = new SharedClientKeyvRedis(redis.client, {
      namespace,
      keyPrefixSeparator: ':',
      throwOnErrors: true,
      throwOnConnectError: true,
    });
    return new Keyv(adapter, {
      namespace,
      useKeyPrefix: false,
      serialize: JSON.stringify,
      deserialize: JSON.parse as never,
      throwOnErrors: true,
    });
  }
  return new Keyv(new LruMap(config.cache.maxSize) as never, {
    namespace: undefined,
    useKeyPrefix: false,
    serialize: undefined,
    deserialize: undefined,
  });
}
