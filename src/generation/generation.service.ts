import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge } from 'prom-client';
import { AppLogger } from '../common/logging/json-logger';
import { StreamSlotsPort } from '../common/ports/stream-slots.port';
import { CachedAnswer } from '../cache/cache-types';
import { AppConfig } from '../config/app-config';
import { ModelServerService } from '../model-server/model-server.service';
import { UpstreamOutcome } from '../model-server/model-server.types';
import { AnswerCache } from './answer-cache';
import { ClientGoneError, ClientStalledError } from './generation.errors';
import { ACTIVE_STREAMS, CLIENT_STALLS } from './generation.metrics';
import { FrontDoorWriter, GenerationCall, GenerationOutcome } from './generation.types';
import { SharedGeneration } from './shared-generation';

/**
 * The generation core: one call in, deltas out through the front door's writer, one outcome back.
 * A stored answer is replayed; an identical generation in flight is joined (coalescing); otherwise
 * a new upstream generation starts. Knows nothing of HTTP.
 */
@Injectable()
export class GenerationService {
  private readonly inFlight = new Map<string, SharedGeneration>();
  private readonly stallMs: number;

  constructor(
    private readonly cache: AnswerCache,
    private readonly models: ModelServerService,
    private readonly streamSlots: StreamSlotsPort,
    private readonly logger: AppLogger,
    @InjectMetric(ACTIVE_STREAMS) private readonly activeStreams: Gauge,
    @InjectMetric(CLIENT_STALLS) private readonly stalls: Counter,
    config: AppConfig,
  ) {
    this.stallMs = config.codeGen.clientStallMs;
  }

  /**
   * Writes the answer's deltas to `out` in order (honouring its backpressure) and resolves with the
   * outcome; rejects with an AppException, or ClientGoneError once `call.signal` aborted.
   */
  async generate(call: GenerationCall, out: FrontDoorWriter): Promise<GenerationOutcome> {
    if (call.signal.aborted) throw new ClientGoneError();
    const release = call.stream && call.principal ? await this.streamSlots.acquire(call.principal) : undefined;
    if (call.stream) this.activeStreams.inc();
    const watched = this.watchStall(out);
    try {
      if (call.signal.aborted) throw new ClientGoneError();
      return await this.answer(call, watched.writer);
    } finally {
      watched.stop();
      release?.();
      if (call.stream) this.activeStreams.dec();
    }
  }

  /** Generations in flight that others may join (tests and stats). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private async answer(call: GenerationCall, out: FrontDoorWriter): Promise<GenerationOutcome> {
    const key = call.cache ? this.cache.keyFor(call.request) : undefined;
    if (key === undefined) return this.consume(this.start(undefined, call), false, call, out);
    let generation = this.joinable(key, call.stream);
    if (!generation) {
      const stored = await this.cache.get(key);
      if (call.signal.aborted) throw new ClientGoneError();
      if (stored) {
        this.cache.stats.hit('code_generation');
        return this.replay(stored, call, out);
      }
      // another request may have started the same generation while the store answered
      generation = this.joinable(key, call.stream);
      if (!generation) {
        this.cache.stats.miss('code_generation');
        generation = this.start(key, call);
        this.inFlight.set(flightKey(key, call.stream), generation);
        this.cache.stats.inFlight = this.inFlight.size;
        return this.consume(generation, false, call, out);
      }
    }
    this.cache.stats.hit('code_generation', true);
    return this.consume(generation, true, call, out);
  }

  private async consume(
    generation: SharedGeneration,
    joined: boolean,
    call: GenerationCall,
    out: FrontDoorWriter,
  ): Promise<GenerationOutcome> {
    out.begin?.({ cached: joined });
    const o = await generation.consume(out, call.signal);
    // A joined answer spent no model tokens and waited on no upstream of its own.
    return {
      usage: o.usage,
      finishReason: o.finishReason,
      cached: joined,
      ttftMs: joined ? 0 : o.ttftMs,
      upstreamMs: joined ? 0 : o.upstreamMs,
    };
  }

  private async replay(stored: CachedAnswer, call: GenerationCall, out: FrontDoorWriter): Promise<GenerationOutcome> {
    out.begin?.({ cached: true });
    for (const delta of stored.deltas) {
      if (call.signal.aborted) throw new ClientGoneError();
      if (!out.write(delta)) await out.drained();
    }
    if (call.signal.aborted) throw new ClientGoneError();
    return { usage: stored.usage, finishReason: stored.finishReason ?? 'stop', cached: true, ttftMs: 0, upstreamMs: 0 };
  }

  /** A stream never waits on a one-shot generation; a one-shot may join a stream. */
  private joinable(key: string, stream: boolean): SharedGeneration | undefined {
    const own = this.inFlight.get(flightKey(key, stream));
    if (own?.joinable) return own;
    const streaming = stream ? undefined : this.inFlight.get(flightKey(key, true));
    return streaming?.joinable ? streaming : undefined;
  }

  private start(key: string | undefined, call: GenerationCall): SharedGeneration {
    const stream = call.stream;
    const generation: SharedGeneration = new SharedGeneration(
      (out, ctl) => this.models.generate(call.request, out, ctl, { stream }),
      key !== undefined,
      (outcome: UpstreamOutcome | undefined, deltas) => {
        if (key === undefined) return;
        const forget = (): void => {
          if (this.inFlight.get(flightKey(key, stream)) === generation) this.inFlight.delete(flightKey(key, stream));
          this.cache.stats.inFlight = this.inFlight.size;
        };
        // errors and abandoned generations are never stored
        if (!outcome) return forget();
        // stays joinable until stored, so a request arriving meanwhile does not go upstream again
        const answer: CachedAnswer = { deltas: [...deltas], usage: outcome.usage, finishReason: outcome.finishReason };
        void this.cache.set(key, answer).finally(forget);
      },
    );
    return generation;
  }

  /**
   * A client whose buffer stays full for SSE_CLIENT_STALL_SECONDS is cut off (counted, and logged
   * once for that stream); `stop` when the call ends, so a finished call never counts as stalled.
   */
  private watchStall(out: FrontDoorWriter): { writer: FrontDoorWriter; stop(): void } {
    const stallMs = this.stallMs;
    const timers = new Set<NodeJS.Timeout>();
    const writer: FrontDoorWriter = {
      begin: out.begin?.bind(out),
      write: (delta) => out.write(delta),
      drained: () =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            this.stalls.inc();
            this.logger.write('warn', 'stream closed: the client read nothing', { stall_ms: stallMs });
            reject(new ClientStalledError(stallMs / 1000));
          }, stallMs);
          timers.add(timer);
          const settle = (): void => {
            clearTimeout(timer);
            timers.delete(timer);
          };
          out.drained().then(
            () => {
              settle();
              resolve();
            },
            (e: unknown) => {
              settle();
              reject(e);
            },
          );
        }),
    };
    return {
      writer,
      stop: () => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
      },
    };
  }
}

const flightKey = (key: string, stream: boolean): string => (stream ? 's:' : 'o:') + key;
