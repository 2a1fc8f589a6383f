import {
  ERROR_HANDLING_PREFERENCES,
  EXPLANATION_STYLES,
  LANGUAGE_FEATURES,
  OUTPUT_STRUCTURES,
  PROJECT_CONTEXTS,
  SKILL_LEVELS,
  UserPreferences,
} from '../common/ports/user-preferences.port';
import { Task } from '../generation/adapters';
import { UPSTREAM_STOP } from '../model-server/stop-markers';
import { GenerateCodeDto } from './dto/generate-code.dto';

type Skill = (typeof SKILL_LEVELS)[number];
type Structure = (typeof OUTPUT_STRUCTURES)[number];
type Explanation = (typeof EXPLANATION_STYLES)[number];
type Feature = (typeof LANGUAGE_FEATURES)[number];
type Project = (typeof PROJECT_CONTEXTS)[number];
type ErrorHandling = (typeof ERROR_HANDLING_PREFERENCES)[number];

/** Request > stored preferences > defaults, resolved. */
export interface EffectiveProfile {
  skill: Skill;
  structure: Structure;
  explanation: Explanation;
  features: Feature[];
  project: Project;
  errorHandling: ErrorHandling;
  /** Free-text project context from the extension. */
  projectNote?: string;
  codeStyle?: string;
  includeComments?: boolean;
  includeDocstring?: boolean;
}

export const DEFAULT_PROFILE: EffectiveProfile = {
  skill: 'intermediate',
  structure: 'standard',
  explanation: 'standard',
  features: [],
  project: 'general_purpose',
  errorHandling: 'basic',
};

export const DEFAULT_SAMPLING = { temperature: 0.3, topP: 0.95, maxTokens: 1024 };

const SKILL_TEXT: Record<Skill, string> = {
  beginner:
    'You are writing for a beginner: use simple constructs, descriptive names and no clever one-liners, and explain each step.',
  intermediate: 'You are writing for an intermediate Python developer: idiomatic code, explain the non-obvious parts.',
  advanced: 'You are writing for an advanced Python developer: idiomatic, efficient code; skip basic explanations.',
  expert:
    'You are writing for a Python expert: concise, idiomatic, performance-aware code; explain only subtle points.',
};
const STRUCTURE_TEXT: Record<Structure, string> = {
  minimal: 'Always keep the code minimal: only the essential function, no extras.',
  standard: 'Always give complete, runnable code with a short docstring.',
  detailed: 'Always give detailed code: docstrings, inline comments and a usage example.',
  comprehensive:
    'Always give comprehensive code: full docstrings, comments, input validation, a usage example and unit tests.',
};
const EXPLANATION_TEXT: Record<Explanation, string> = {
  brief: 'Always keep the explanation to one or two sentences.',
  standard: 'Always explain the approach in a short paragraph.',
  detailed: 'Always explain the approach, the key decisions and the complexity in detail.',
  educational: 'Always explain like a teacher: the concepts involved, why each step works, and what to learn next.',
};
const FEATURE_TEXT: Record<Feature, string> = {
  type_hints: 'type hints on every signature',
  dataclasses: 'dataclasses for records',
  async_await: 'async/await for I/O',
  comprehensions: 'comprehensions instead of simple loops',
  generators: 'generators for lazy sequences',
  decorators: 'decorators where they remove repetition',
  context_managers: 'context managers for resources',
  f_strings: 'f-strings for formatting',
};
const PROJECT_TEXT: Record<Project, string> = {
  web_development: 'You are working in a web application codebase (request handling, validation, JSON).',
  data_science: 'You are working in a data-science codebase (pandas/numpy idioms, vectorised operations).',
  automation: 'You are working on automation scripts (files, processes, robust logging).',
  general_purpose: 'You are working in a general-purpose Python codebase.',
  academic: 'You are working in an academic setting (clarity and correctness over micro-optimisation).',
  enterprise: 'You are working in an enterprise codebase (maintainability, logging, configuration).',
};
const ERROR_TEXT: Record<ErrorHandling, string> = {
  minimal: 'Always keep error handling minimal; let unexpected errors propagate.',
  basic: 'Always validate obvious bad input and raise clear built-in exceptions.',
  comprehensive:
    'Always handle errors comprehensively: validate input, catch specific exceptions, give helpful messages.',
  production_ready:
    'Always write production-ready error handling: custom exceptions, logging, retries where sensible, no bare except.',
};
const TASK_TEXT: Record<Task, string> = {
  code_generation: 'Write Python code for this request',
  code_completion: 'Complete this Python code',
  code_explanation: 'Explain this Python code',
  code_review: 'Review this Python code',
  documentation: 'Document this Python code',
  bug_fix: 'Fix the bug in this Python code',
  code_optimization: 'Optimise this Python code',
  unit_test_generation: 'Write pytest unit tests for this Python code',
};

// Skill level scales the budget and creativity; output structure scales the length.
const SKILL_SAMPLING: Record<Skill, { tokens: number; temperature: number }> = {
  beginner: { tokens: 1.25, temperature: 0.2 },
  intermediate: { tokens: 1, temperature: 0.3 },
  advanced: { tokens: 0.9, temperature: 0.35 },
  expert: { tokens: 0.8, temperature: 0.4 },
};
const STRUCTURE_TOKENS: Record<Structure, number> = { minimal: 0.5, standard: 1, detailed: 1.5, comprehensive: 2 };
const MAX_TOKENS_BOUNDS = [64, 4096] as const;

const SKILL_ALIASES: Record<string, Skill> = { novice: 'beginner', junior: 'beginner', senior: 'advanced' };
const EXPLANATION_ALIASES: Record<string, Explanation> = {
  minimal: 'brief',
  short: 'brief',
  medium: 'standard',
  comprehensive: 'detailed',
  verbose: 'detailed',
};

function pick<T extends string>(
  values: readonly T[],
  raw: string | undefined,
  aliases: Record<string, T> = {},
): T | undefined {
  if (!raw) return undefined;
  const v = raw.trim().toLowerCase();
  return (values as readonly string[]).includes(v) ? (v as T) : aliases[v];
}

/** The effective profile: request fields (flat and nested) > stored preferences > defaults. */
export function effectiveProfile(dto: GenerateCodeDto, stored: UserPreferences | undefined): EffectiveProfile {
  const p = dto.user_profile;
  const s = stored ?? {};
  let features: Feature[] = [...(p?.preferredLanguageFeatures ?? s.preferredLanguageFeatures ?? [])];
  if (dto.include_type_hints === true && !features.includes('type_hints')) features.push('type_hints');
  if (dto.include_type_hints === false) features = features.filter((f) => f !== 'type_hints');
  const projectEnum = pick(PROJECT_CONTEXTS, dto.project_context);
  return {
    skill:
      pick(SKILL_LEVELS, dto.programming_level, SKILL_ALIASES) ??
      p?.pythonSkillLevel ??
      s.pythonSkillLevel ??
      DEFAULT_PROFILE.skill,
    structure: p?.codeOutputStructure ?? s.codeOutputStructure ?? DEFAULT_PROFILE.structure,
    explanation:
      pick(EXPLANATION_STYLES, dto.explanation_detail, EXPLANATION_ALIASES) ??
      p?.explanationStyle ??
      s.explanationStyle ??
      DEFAULT_PROFILE.explanation,
    features,
    project: projectEnum ?? p?.projectContext ?? s.projectContext ?? DEFAULT_PROFILE.project,
    errorHandling: p?.errorHandlingPreference ?? s.errorHandlingPreference ?? DEFAULT_PROFILE.errorHandling,
    projectNote: projectEnum ? undefined : dto.project_context?.trim() || undefined,
    codeStyle: dto.code_style?.trim() || undefined,
    includeComments: dto.include_comments,
    includeDocstring: dto.include_docstring,
  };
}

export interface BuiltPrompt {
  prompt: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: readonly string[];
}

/**
 * Turns the request and the effective profile into the adapter prompt and sampling parameters.
 * The user's request comes first in the instruction block; the personalisation follows as rules.
 */
export function buildPrompt(
  task: Task,
  dto: GenerateCodeDto,
  userPrompt: string,
  profile: EffectiveProfile,
): BuiltPrompt {
  const rules = [
    SKILL_TEXT[profile.skill],
    STRUCTURE_TEXT[profile.structure],
    EXPLANATION_TEXT[profile.explanation],
    PROJECT_TEXT[profile.project],
    ERROR_TEXT[profile.errorHandling],
  ];
  if (profile.features.length > 0) {
    rules.push(`Always prefer these Python features: ${profile.features.map((f) => FEATURE_TEXT[f]).join('; ')}.`);
  }
  if (profile.projectNote) rules.push(`You are working on this project: ${profile.projectNote.replace(/\s+/g, ' ')}`);
  if (profile.codeStyle) rules.push(`Always follow the ${profile.codeStyle} code style.`);
  if (profile.includeComments !== undefined) {
    rules.push(profile.includeComments ? 'Always include helpful inline comments.' : 'Do not add inline comments.');
  }
  if (profile.includeDocstring !== undefined) {
    rules.push(profile.includeDocstring ? 'Always include docstrings.' : 'Do not add docstrings.');
  }
  rules.push('Respond with the code in one python code block, then the explanation after a line "--- Rationale ---".');

  const context = dto.context ?? dto.code_context;
  let prompt = `### Instruction:\n${TASK_TEXT[task]}: ${userPrompt.trim()}\n`;
  if (context && context.trim()) prompt += `\nContext:\n\`\`\`python\n${context}\n\`\`\`\n`;
  prompt += `\n${rules.join('\n')}\n### Response:\n`;

  const skill = SKILL_SAMPLING[profile.skill];
  const scaled = Math.round(DEFAULT_SAMPLING.maxTokens * skill.tokens * STRUCTURE_TOKENS[profile.structure]);
  return {
    prompt,
    temperature: dto.temperature ?? skill.temperature,
    topP: dto.top_p ?? DEFAULT_SAMPLING.topP,
    maxTokens: dto.max_tokens ?? Math.min(MAX_TOKENS_BOUNDS[1], Math.max(MAX_TOKENS_BOUNDS[0], scaled)),
    stop: UPSTREAM_STOP,
  };
}

/** Fill-in-the-middle prompt from a template with {prefix} and {suffix}. */
const SEPARATORS = ['--- Rationale ---', '--- Fix Explanation ---'];
const FENCE_RE = /```[A-Za-z0-9_+-]*\n?([\s\S]*?)(?:```|$)/g;

/** Splits model output into code and explanation: separators first, then code fences. */
export function splitCodeAndExplanation(text: string): { code: string; explanation: string } {
  for (const sep of SEPARATORS) {
    const at = text.indexOf(sep);
    if (at !== -1) {
      const before = text.slice(0, at);
      const after = text.slice(at + sep.length).trim();
      const fenced = fencedCode(before);
      return fenced
        ? { code: fenced.code, explanation: joinText(fenced.prose, after) }
        : { code: before.trim(), explanation: after };
    }
  }
  const fenced = fencedCode(text);
  if (fenced) return { code: fenced.code, explanation: fenced.prose };
  return { code: text.trim(), explanation: '' };
}

function fencedCode(text: string): { code: string; prose: string } | undefined {
  if (text.indexOf('```') === -1) return undefined;
  const blocks: string[] = [];
  const prose = text.replace(FENCE_RE, (_, code: string) => {
    blocks.push(code.replace(/\n$/, ''));
    return '\n';
  });
  return { code: blocks.join('\n\n').trim(), prose: prose.replace(/\n{3,}/g, '\n\n').trim() };
}

function joinText(a: string, b: string): string {
  return a && b ? `${a}\n\n${b}` : a || b;
}
