import { EmulatorOutputStyle, generateOutput } from './emulator-output';
import { countTokens, tokenize } from './emulator-tokenizer';

/** `abort`: vLLM's reason when the engine dropped the request (the `finish-abort` fault). */
export type EmulatorFinishReason = 'stop' | 'length' | 'abort';

export interface CompletionRequest {
  style: EmulatorOutputStyle;
  prompt: string;
  /** Appended to the natural answer: `<|EOT|>` (OpenAI protocol) or `\n# --- Generation Complete ---` (HAPA). */
  endMarker: string;
  maxTokens: number;
  stop?: readonly string[];
  padToMaxTokens?: boolean;
}

/** What one request streams; shared between requests through the cache, so never mutate it. */
export interface CompletionPlan {
  readonly tokens: readonly string[];
  readonly text: string;
  readonly finishReason: EmulatorFinishReason;
  readonly promptTokens: number;
}

const PAD_WORDS = ['keep', 'going', 'until', 'done'];
const CACHE_LIMIT = 512;
const cache = new Map<string, CompletionPlan>();

/** Lines costing exactly `count` tokens: `step_N = N * N` is 5 tokens, a comment line tops up the rest. */
function padding(count: number, indent: string): string {
  let out = '';
  const lines = Math.floor(count / 5);
  for (let i = 1; i <= lines; i++) out += `\n${indent}step_${i} = ${i} * ${i}`;
  const rest = count % 5;
  if (rest > 0)
    out +=
      `\n${indent}#` +
      PAD_WORDS.slice(0, rest - 1)
        .map((w) => ` ${w}`)
        .join('');
  return out;
}

// Like vLLM: output stops before the first stop string (which is not sent), a token straddling it
// is sent cut short, and running out of max_tokens first is finish_reason 'length'.
function emit(
  full: string,
  maxTokens: number,
  stop: readonly string[],
): { tokens: string[]; finishReason: EmulatorFinishReason } {
  let cut = full.length;
  for (const s of stop) {
    const at = s ? full.indexOf(s) : -1;
    if (at >= 0 && at < cut) cut = at;
  }
  const tokens: string[] = [];
  let pos = 0;
  for (const token of tokenize(full)) {
    if (pos >= cut) break;
    if (tokens.length === maxTokens) return { tokens, finishReason: 'length' };
    const end = pos + token.length;
    tokens.push(end <= cut ? token : token.slice(0, cut - pos));
    pos = end;
  }
  return { tokens, finishReason: 'stop' };
}

function buildPlan(req: CompletionRequest): CompletionPlan {
  const out = generateOutput(req.style, req.prompt);
  const stop = req.stop ?? [];
  const build = (pad: string) => out.text.slice(0, out.padAt) + pad + out.text.slice(out.padAt) + req.endMarker;
  let result = emit(build(''), req.maxTokens, stop);
  if (req.padToMaxTokens && result.finishReason === 'stop' && result.tokens.length < req.maxTokens) {
    result = emit(build(padding(req.maxTokens - result.tokens.length, out.padIndent)), req.maxTokens, stop);
  }
  return {
    tokens: result.tokens,
    text: result.tokens.join(''),
    finishReason: result.finishReason,
    promptTokens: countTokens(req.prompt),
  };
}

/** The tokens a request streams, derived only from its inputs (same request, same bytes). */
export function planCompletion(req: CompletionRequest): CompletionPlan {
  const key = JSON.stringify([
    req.style,
    req.prompt,
    req.endMarker,
    req.maxTokens,
    req.stop ?? [],
    !!req.padToMaxTokens,
  ]);
  const hit = cache.get(key);
  if (hit) return hit;
  const plan = buildPlan(req);
  // Benchmarks repeat a handful of prompts; a wholesale clear keeps memory bounded without LRU bookkeeping.
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, plan);
  return plan;
}
