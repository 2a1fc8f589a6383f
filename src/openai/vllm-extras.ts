import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';

/** vLLM sampling fields passed through untouched (the DTOs check their types). */
export const VLLM_EXTRAS = [
  'top_k',
  'min_p',
  'repetition_penalty',
  'min_tokens',
  'stop_token_ids',
  'include_stop_str_in_output',
  'skip_special_tokens',
] as const;

/** OpenAI fields vLLM also reads, forwarded with the extras (`logprobs` is accepted but not asked for: never returned). */
const OPENAI_SAMPLING = ['seed', 'presence_penalty', 'frequency_penalty'] as const;

/**
 * Never forwarded from a client: they reach into the engine (`prompt_embeds` was the way in for
 * CVE-2025-62164) or are the gateway's to set. A body that carries one is refused, not silently trimmed.
 */
export const FORBIDDEN_FIELDS = [
  'prompt_embeds',
  'logits_processors',
  'kv_transfer_params',
  'vllm_xargs',
  'lora_request',
  'priority',
  'cache_salt',
  'request_id',
] as const;

/** 400 when the raw body names a field the gateway never forwards. */
export function refuseForbiddenFields(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  for (const field of FORBIDDEN_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(body, field)) {
      throw new AppException(ErrorCode.E4006, {
        message: `${field} is not accepted by this gateway`,
        details: [{ field, message: 'not accepted' }],
      });
    }
  }
}

/** The sampling extras the client set, in a fixed order (they are part of the cache key). */
export function samplingExtras(dto: Partial<Record<string, unknown>>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const key of [...OPENAI_SAMPLING, ...VLLM_EXTRAS]) {
    const v = dto[key];
    if (v === undefined || v === null) continue;
    (out ??= {})[key] = v;
  }
  return out;
}
