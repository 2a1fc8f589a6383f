import { makeCounterProvider } from '@willsoto/nestjs-prometheus';

export const CACHE_HITS = 'hapa_cache_hits_total';
export const CACHE_MISSES = 'hapa_cache_misses_total';

export const cacheMetricProviders = [
  makeCounterProvider({
    name: CACHE_HITS,
    help: 'Cache lookups answered without new work (stored answer, or a joined in-flight generation)',
    labelNames: ['cache_type'],
  }),
  makeCounterProvider({
    name: CACHE_MISSES,
    help: 'Cache lookups that found nothing',
    labelNames: ['cache_type'],
  }),
];
