import type { UsageAnnotation } from '../common/ports/usage-annotation';
import type { GenerationOutcome } from './generation.types';

/** The usage event's fields from one outcome; a cached answer spent no model tokens and waited on no upstream of its own. */
export function outcomeUsage(outcome: GenerationOutcome): UsageAnnotation {
  if (outcome.cached) return { cached: true };
  return {
    promptTokens: outcome.usage.prompt_tokens,
    completionTokens: outcome.usage.completion_tokens,
    ttftMs: Math.round(outcome.ttftMs),
    upstreamMs: Math.round(outcome.upstreamMs),
    cached: false,
  };
}
