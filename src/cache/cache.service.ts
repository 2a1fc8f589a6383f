import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { CacheStats } from './cache-stats';
import { CacheStore } from './cache-store';
import { CACHE_TYPES, CacheType } from './cache-types';
import { CacheStatsDto, CacheTypeStatsDto, ClearCacheDto, ClearCacheResponseDto } from './dto/cache.dto';

/** The ops routes: clear this deployment's entries, and hit/miss/entry statistics. */
@Injectable()
export class CacheService {
  constructor(
    private readonly store: CacheStore,
    private readonly stats: CacheStats,
    private readonly config: AppConfig,
  ) {}

  async clear(dto: ClearCacheDto): Promise<ClearCacheResponseDto> {
    const types: CacheType[] = dto.cache_type === 'all' ? [...CACHE_TYPES] : [dto.cache_type];
    let deleted = 0;
    for (const type of types) deleted += await this.store.clear(type);
    return {
      success: true,
      message: `Cleared ${types.join(' and ')} cache`,
      cleared: types,
      deleted_entries: deleted,
    };
  }

  async statistics(): Promise<CacheStatsDto> {
    const byType: Record<string, CacheTypeStatsDto> = {};
    let hits = 0;
    let misses = 0;
    for (const type of CACHE_TYPES) {
      const c = this.stats.snapshot(type);
      hits += c.hits;
      misses += c.misses;
      byType[type] = { ...c, hit_rate: rate(c.hits, c.misses), entries: await this.entries(type) };
    }
    return {
      backend: this.store.backend,
      available: this.store.available,
      enabled: this.config.cache.enabled,
      ttl_seconds: this.config.cache.ttlSeconds,
      max_size: this.store.backend === 'memory' ? this.config.cache.maxSize : null,
      hits,
      misses,
      hit_rate: rate(hits, misses),
      in_flight: this.stats.inFlight,
      by_type: byType,
    };
  }

  private async entries(type: CacheType): Promise<number | null> {
    try {
      return await this.store.count(type);
    } catch {
      return null;
    }
  }
}

function rate(hits: number, misses: number): number {
  const total = hits + misses;
  return total === 0 ? 0 : Math.round((hits / total) * 10_000) / 10_000;
}
