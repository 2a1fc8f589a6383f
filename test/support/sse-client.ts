import { withDefaultAuth } from './test-app';

/** A minimal SSE reader for tests: collects `data:` frames, exactly as the extension sees them. */
export interface SseFrame {
  raw: string;
  /** Parsed JSON, or the string '[DONE]'. */
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface SseResponse {
  status: number;
  headers: Headers;
  /** The whole body as received. */
  text: string;
  frames: SseFrame[];
  /** SSE comment lines (`: keep-alive`), when `allowComments`. */
  comments: string[];
  /** JSON body when the answer was not a stream (pre-stream errors). */
  body?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function postSse(
  baseUrl: string,
  path: string,
  body: unknown,
  opts: {
    headers?: Record<string, string>;
    signal?: AbortSignal;
    onFrame?: (f: SseFrame) => void;
    /** /v1 may send `: keep-alive` comments; the HAPA wire format has none (a comment throws). */
    allowComments?: boolean;
  } = {},
): Promise<SseResponse> {
  const res = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...withDefaultAuth(baseUrl, opts.headers) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: opts.signal,
  });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  let text = '';
  let pending = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const s = decoder.decode(chunk, { stream: true });
      text += s;
      pending += s;
      let i: number;
      while ((i = pending.indexOf('\n\n')) !== -1) {
        const block = pending.slice(0, i);
        pending = pending.slice(i + 2);
        if (opts.allowComments && block.startsWith(':')) {
          comments.push(block);
          continue;
        }
        if (!block.startsWith('data: ')) throw new Error(`not a data frame: ${JSON.stringify(block)}`);
        const payload = block.slice(6);
        const frame = { raw: block, data: payload === '[DONE]' ? '[DONE]' : JSON.parse(payload) };
        frames.push(frame);
        opts.onFrame?.(frame);
      }
    }
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
  }
  let parsed: unknown;
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, frames, comments, body: parsed };
}

/** Concatenated token content of a stream. */
export const streamedText = (frames: SseFrame[]): string =>
  frames
    .filter((f) => f.data?.type === 'token')
    .map((f) => f.data.content as string)
    .join('');
