import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { ModelServerService } from '../model-server/model-server.service';
import { GenerationRequest } from '../model-server/model-server.types';
import { CacheStats } from './cache-stats';
import { CacheStore } from './cache-store';
import { CachedAnswer } from './cache-types';
import { SharedGeneration } from './shared-generation';

const KEY_VERSION = 1;

/** Where a code-generation answer comes from. */
export type AnswerSource =
  | { kind: 'stored'; answer: CachedAnswer }
  /** `joined`: another request's generation, already in flight (a coalesced hit). */
  | { kind: 'generation'; generation: SharedGeneration; joined: boolean };

/**
 * The code-generation response cache: answers stored by a SHA-256 of the upstream request, and
 * identical cacheable requests in flight at the same time coalesced into one upstream generation
 * (per instance; across instances the shared store does the rest).
 */
@Injectable()
export class ResponseCache {
  private readonly inFlight = new Map<string, SharedGeneration>();

  constructor(
    private readonly store: CacheStore,
    private readonly stats: CacheStats,
    private readonly models: ModelServerService,
    private readonly config: AppConfig,
  ) {}

  /**
   * The cache key of an upstream request, or undefined when it must not touch the cache (cache
   * off, the client opted out, or sampled too hot to repeat). The request already holds everything
   * that shapes the answer: adapter, the prompt built from prompt, context and effective profile,
   * and the sampling parameters.
   */
  keyFor(req: GenerationRequest, useCache: boolean | undefined): string | undefined {
    if (!this.config.cache.enabled || useCache === false || req.temperature > this.config.cache.maxTemperature) {
      return undefined;
    }
    const normalised = JSON.stringify([
      KEY_VERSION,
      req.adapter,
      req.prompt,
      req.temperature,
      req.topP,
      req.maxTokens,
      req.stop,
      req.hapaUserId ?? 0,
    ]);
    return createHash('sha256').update(normalised).digest('hex');
  }

  /**
   * A stored answer, the generation in flight for the same key, or a new generation (a miss).
   * `stream` requests generate upstream as a stream; one-shot requests ask for one JSON answer (no
   * per-token work) and may also join a streaming generation, but a stream never waits on a one-shot one.
   */
  async open(key: string | undefined, req: GenerationRequest, stream: boolean): Promise<AnswerSource> {
    if (key === undefined) {
      return { kind: 'generation', generation: this.newGeneration(undefined, req, stream), joined: false };
    }
    let generation = this.joinable(key, stream);
    if (!generation) {
      const answer = await this.store.get<CachedAnswer>('code_generation', key);
      if (answer && Array.isArray(answer.deltas) && answer.usage) {
        this.stats.hit('code_generation');
        return { kind: 'stored', answer };
      }
      generation = this.joinable(key, stream);
      if (!generation) {
        this.stats.miss('code_generation');
        generation = this.newGeneration(key, req, stream);
        this.inFlight.set(flightKey(key, stream), generation);
        return { kind: 'generation', generation, joined: false };
      }
    }
    this.stats.hit('code_generation', true);
    return { kind: 'generation', generation, joined: true };
  }

  /** Generations in flight that others may join (tests and stats). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private joinable(key: string, stream: boolean): SharedGeneration | undefined {
    const own = this.inFlight.get(flightKey(key, stream));
    if (own?.joinable) return own;
    const streaming = stream ? undefined : this.inFlight.get(flightKey(key, true));
    return streaming?.joinable ? streaming : undefined;
  }

  private newGeneration(key: string | undefined, req: GenerationRequest, stream: boolean): SharedGeneration {
    const generation: SharedGeneration = new SharedGeneration(
      (sink, ctl) => this.models.generate(req, sink, ctl, { stream }),
      (outcome, deltas) => {
        if (key === undefined) return;
        const forget = (): void => {
          if (this.inFlight.get(flightKey(key, stream)) === generation) this.inFlight.delete(flightKey(key, stream));
        };
        // errors and abandoned generations are never stored
        if (!outcome) return forget();
        // stays joinable until stored, so a request arriving meanwhile does not go upstream again
        const answer: CachedAnswer = { deltas: [...deltas], usage: outcome.usage };
        void this.store.set('code_generation', key, answer).finally(forget);
      },
    );
    return generation;
  }
}

const flightKey = (key: string, stream: boolean): string => (stream ? 's:' : 'o:') + key;
