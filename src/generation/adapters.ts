import { ADAPTERS, TASKS } from '../config/env.schema';

export type Task = (typeof TASKS)[number];
export type Adapter = (typeof ADAPTERS)[number];

/** Spec §5: which LoRA adapter serves which task. */
export const DEFAULT_TASK_ADAPTERS: Record<Task, Adapter> = {
  code_completion: 'autocomplete',
  code_generation: 'prompt',
  code_optimization: 'prompt',
  unit_test_generation: 'prompt',
  code_explanation: 'comment',
  code_review: 'comment',
  documentation: 'comment',
  bug_fix: 'error_fix',
};

/**
 * Task -> deployed adapter name. MODEL_ADAPTERS keys are tasks (`bug_fix=error_fix`) or adapter
 * names (`autocomplete=my-fim-lora`, renaming that adapter for every task that uses it).
 */
export function resolveAdapters(overrides: Record<string, string>): Record<Task, string> {
  const out = {} as Record<Task, string>;
  for (const task of TASKS) {
    const adapter = overrides[task] ?? DEFAULT_TASK_ADAPTERS[task];
    out[task] = overrides[adapter] ?? adapter;
  }
  return out;
}
