import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';
import { CACHE_HITS, CACHE_MISSES } from './cache.metrics';
import { CACHE_TYPES, CacheType } from './cache-types';

export interface CacheCounts {
  hits: number;
  misses: number;
  /** Hits that joined a generation already in flight (included in hits). */
  coalesced: number;
}

/** Hit and miss counts of this instance since start, mirrored to Prometheus counters. */
@Injectable()
export class CacheStats {
  private readonly counts = Object.fromEntries(
    CACHE_TYPES.map((t) => [t, { hits: 0, misses: 0, coalesced: 0 }]),
  ) as Record<CacheType, CacheCounts>;
  /** Generations in flight that identical requests may join (kept by the generation core). */
  inFlight = 0;

  constructor(
    @InjectMetric(CACHE_HITS) private readonly hitsTotal: Counter<'cache_type'>,
    @InjectMetric(CACHE_MISSES) private readonly missesTotal: Counter<'cache_type'>,
  ) {}

  hit(type: CacheType, coalesced = false): void {
    const c = this.counts[type];
    c.hits++;
    if (coalesced) c.coalesced++;
    this.hitsTotal.inc({ cache_type: type });
  }

  miss(type: CacheType): void {
    this.counts[type].misses++;
    this.missesTotal.inc({ cache_type: type });
  }

  snapshot(type: CacheType): CacheCounts {
    return { ...this.counts[type] };
  }
}
