/** A model server's error body, read in both shapes vLLM has used. */
export interface VllmError {
  message?: string;
  /** The prompt plus max_tokens exceed the model's context (vLLM's 400 "maximum context length"). */
  contextTooLong: boolean;
}

const CONTEXT_RE =
  /maximum context length|maximum model length|context length is|exceeds? the (?:model'?s? )?(?:max(?:imum)? )?context/i;

/**
 * `{"error":{"message",...}}` (current vLLM) or `{"object":"error","message",...}` (older), from an
 * HTTP error body or an in-stream `data:` payload. Undefined message when neither shape is there.
 */
export function readVllmError(body: string | unknown): VllmError {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { contextTooLong: false };
    }
  }
  const message = messageOf(parsed);
  return { message, contextTooLong: message !== undefined && CONTEXT_RE.test(message) };
}

function messageOf(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { error?: unknown; message?: unknown; object?: unknown; detail?: unknown };
  if (typeof o.error === 'object' && o.error !== null) {
    const m = (o.error as { message?: unknown }).message;
    if (typeof m === 'string') return m;
  }
  if (typeof o.error === 'string') return o.error;
  if (typeof o.message === 'string') return o.message;
  if (typeof o.detail === 'string') return o.detail;
  return undefined;
}

/** True when the body is an error in either shape (a stream frame that must fail the generation). */
export function isVllmError(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { error?: unknown; object?: unknown };
  return o.object === 'error' || (o.error !== undefined && o.error !== null);
}
