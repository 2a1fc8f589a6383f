import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CacheStats } from '../cache/cache-stats';
import { CacheStore } from '../cache/cache-store';
import { CachedAnswer } from '../cache/cache-types';
import { AppConfig } from '../config/app-config';
import { GenerationRequest } from '../model-server/model-server.types';

const KEY_VERSION = 2;

/** Stored answers of the response cache, keyed by a SHA-256 of the upstream request. */
@Injectable()
export class AnswerCache {
  constructor(
    private readonly store: CacheStore,
    readonly stats: CacheStats,
    private readonly config: AppConfig,
  ) {}

  /**
   * The cache key of an upstream request, or undefined when it must not touch the cache (cache off,
   * or sampled too hot to repeat). The request holds everything that shapes the answer: adapter, the
   * prompt as built, the sampling parameters and the passed-through extras.
   */
  keyFor(req: GenerationRequest): string | undefined {
    if (!this.config.cache.enabled || req.temperature > this.config.cache.maxTemperature) return undefined;
    const normalised = JSON.stringify([
      KEY_VERSION,
      req.adapter,
      req.prompt,
      req.temperature,
      req.topP,
      req.maxTokens,
      req.stop,
      req.hapaUserId ?? 0,
      req.extra ?? null,
    ]);
    return createHash('sha256').update(normalised).digest('hex');
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const answer = await this.store.get<CachedAnswer>('code_generation', key);
    return answer && Array.isArray(answer.deltas) && answer.usage ? answer : undefined;
  }

  set(key: string, answer: CachedAnswer): Promise<void> {
    return this.store.set('code_generation', key, answer);
  }
}
