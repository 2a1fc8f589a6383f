import type { FinishReason, TokenUsage } from '../model-server/model-server.types';

export const CACHE_TYPES = ['code_generation', 'user_profiles'] as const;
export type CacheType = (typeof CACHE_TYPES)[number];

/** A cached generation: the cleaned token deltas as streamed (replayed one by one) and the usage. */
export interface CachedAnswer {
  deltas: string[];
  usage: TokenUsage;
  finishReason?: FinishReason;
}
