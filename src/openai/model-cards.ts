import { Injectable } from '@nestjs/common';
import { ModelServerPool } from '../model-server/model-server.pool';

// deepseek-coder-6.7b's context, for model servers that publish no model card (the HAPA protocol).
export const DEFAULT_MAX_MODEL_LEN = 16384;
const TTL_MS = 60_000;
const TIMEOUT_MS = 2_000;

/**
 * The base model's context length as the model servers publish it (vLLM's `/v1/models` carries
 * `max_model_len`); clients read it as the context length. Asked at most once a minute.
 */
@Injectable()
export class ModelCards {
  private cached?: { value: number; until: number };
  private pending?: Promise<number>;

  constructor(private readonly pool: ModelServerPool) {}

  maxModelLen(): Promise<number> {
    if (this.cached && this.cached.until > Date.now()) return Promise.resolve(this.cached.value);
    return (this.pending ??= this.read().finally(() => (this.pending = undefined)));
  }

  private async read(): Promise<number> {
    const lengths = await Promise.all(
      this.pool.all
        .filter((s) => s.healthy && s.server.protocol === 'openai')
        .map(async (s) => {
          try {
            const res = await s.dispatcher.request({
              path: s.server.basePath + '/v1/models',
              method: 'GET',
              headers: this.pool.authHeaders,
              signal: AbortSignal.timeout(TIMEOUT_MS),
            });
            if (res.statusCode !== 200) {
              await res.body.dump();
              return undefined;
            }
            return maxModelLenOf(await res.body.json());
          } catch {
            return undefined; // the health probe reports servers that do not answer
          }
        }),
    );
    const known = lengths.filter((n): n is number => n !== undefined);
    // Several servers: the smallest context is the one every request fits.
    const value = known.length > 0 ? Math.min(...known) : DEFAULT_MAX_MODEL_LEN;
    if (known.length > 0) this.cached = { value, until: Date.now() + TTL_MS };
    return value;
  }
}

/** The base model's (the entry without a parent) or else the first listed `max_model_len`. */
export function maxModelLenOf(body: unknown): number | undefined {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return undefined;
  const cards = data.filter(
    (d): d is { max_model_len: number; parent?: unknown } =>
      typeof d === 'object' && d !== null && Number.isSafeInteger((d as { max_model_len?: unknown }).max_model_len),
  );
  const base = cards.find((c) => c.parent === null || c.parent === undefined) ?? cards[0];
  return base && base.max_model_len > 0 ? base.max_model_len : undefined;
}
