import type { Permission } from '../common/auth/authenticated.decorator';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { resolveAdapters, Task } from '../generation/adapters';

/** One gateway model name on /v1: what it is listed as, what else it answers to, and the task it serves. */
export interface OpenAiModel {
  id: string;
  /** The task whose adapter serves the listed id (MODEL_ADAPTERS may rename or remap it). */
  task: Task;
  aliases: readonly string[];
  permission: Permission;
}

// Listed in this order: Continue's vLLM provider takes data[0] as its model.
export const OPENAI_MODELS: readonly OpenAiModel[] = [
  {
    id: 'hapa-code',
    task: 'code_generation',
    aliases: ['prompt', 'code_generation', 'code_optimization', 'unit_test_generation'],
    permission: 'code_generation',
  },
  {
    id: 'hapa-autocomplete',
    task: 'code_completion',
    aliases: ['autocomplete', 'code_completion'],
    permission: 'code_completion',
  },
  {
    id: 'hapa-explain',
    task: 'code_explanation',
    aliases: ['comment', 'code_explanation', 'code_review', 'documentation'],
    permission: 'code_generation',
  },
  { id: 'hapa-bugfix', task: 'bug_fix', aliases: ['error_fix', 'bug_fix'], permission: 'code_generation' },
];

/** A client's `model` resolved: the gateway model, the task (an alias may name its own) and the adapter to call. */
export interface ResolvedModel {
  model: OpenAiModel;
  task: Task;
  adapter: string;
  /** The name exactly as the client sent it (echoed in answers, recorded in usage). */
  requested: string;
}

/** Resolves gateway model names and aliases; never forwards a client's name upstream. */
export class OpenAiModelCatalog {
  private readonly byName = new Map<string, { model: OpenAiModel; task: Task }>();
  private readonly adapters: Record<Task, string>;

  constructor(adapterOverrides: Record<string, string>) {
    this.adapters = resolveAdapters(adapterOverrides);
    for (const model of OPENAI_MODELS) {
      this.byName.set(model.id, { model, task: model.task });
      for (const alias of model.aliases) {
        // A task alias keeps its own task (MODEL_ADAPTERS may map code_review elsewhere than code_explanation).
        const task = (Object.keys(this.adapters) as Task[]).includes(alias as Task) ? (alias as Task) : model.task;
        this.byName.set(alias, { model, task });
      }
    }
  }

  /** Unknown model → 404 model_not_found; no silent fallback. */
  resolve(name: string): ResolvedModel {
    const hit = this.byName.get(name);
    if (!hit) {
      throw new AppException(ErrorCode.E4009, {
        message: `The model \`${name.slice(0, 100)}\` does not exist. Available: ${OPENAI_MODELS.map((m) => m.id).join(', ')}`,
        details: [{ field: 'model', message: 'model_not_found' }],
      });
    }
    return { ...hit, adapter: this.adapters[hit.task], requested: name };
  }

  /** The models a principal with these permissions may use, in listing order. */
  usableBy(permissions: readonly string[]): OpenAiModel[] {
    return OPENAI_MODELS.filter((m) => mayUse(permissions, m));
  }
}

export function mayUse(permissions: readonly string[], model: OpenAiModel): boolean {
  return permissions.includes('admin') || permissions.includes(model.permission);
}
