import { CacheModule as NestCacheModule } from '@nestjs/cache-manager';
import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { CacheController } from './cache.controller';
import { cacheMetricProviders } from './cache.metrics';
import { CacheService } from './cache.service';
import { CacheStats } from './cache-stats';
import { CacheStore } from './cache-store';
import { createKeyvStore } from './keyv-store';
import { ProfileCache } from './profile-cache';

/**
 * Response cache (code generation, coalescing), the user-profile cache the users module uses, and
 * the cache ops routes. The generation core uses CacheStore and CacheStats for its answers.
 */
@Global()
@Module({
  imports: [
    NestCacheModule.registerAsync({
      inject: [AppConfig, RedisService],
      useFactory: (config: AppConfig, redis: RedisService) => ({
        stores: [createKeyvStore(config, redis)],
        ttl: config.cache.ttlSeconds * 1000,
      }),
    }),
  ],
  controllers: [CacheController],
  providers: [...cacheMetricProviders, CacheStats, CacheStore, ProfileCache, CacheService],
  exports: [CacheStore, CacheStats, ProfileCache],
})
export class CacheModule {}
