/** Personalisation values (spec §4). */
export const SKILL_LEVELS = ['beginner', 'intermediate', 'advanced', 'expert'] as const;
export const OUTPUT_STRUCTURES = ['minimal', 'standard', 'detailed', 'comprehensive'] as const;
export const EXPLANATION_STYLES = ['brief', 'standard', 'detailed', 'educational'] as const;
export const LANGUAGE_FEATURES = [
  'type_hints',
  'dataclasses',
  'async_await',
  'comprehensions',
  'generators',
  'decorators',
  'context_managers',
  'f_strings',
] as const;
export const PROJECT_CONTEXTS = [
  'web_development',
  'data_science',
  'automation',
  'general_purpose',
  'academic',
  'enterprise',
] as const;
export const ERROR_HANDLING_PREFERENCES = ['minimal', 'basic', 'comprehensive', 'production_ready'] as const;

export interface UserPreferences {
  pythonSkillLevel?: (typeof SKILL_LEVELS)[number];
  codeOutputStructure?: (typeof OUTPUT_STRUCTURES)[number];
  explanationStyle?: (typeof EXPLANATION_STYLES)[number];
  preferredLanguageFeatures?: (typeof LANGUAGE_FEATURES)[number][];
  projectContext?: (typeof PROJECT_CONTEXTS)[number];
  errorHandlingPreference?: (typeof ERROR_HANDLING_PREFERENCES)[number];
}

/** A user's stored preferences; implemented by the users module, read by code generation. */
export abstract class UserPreferencesPort {
  /** Must be cheap on the request path (cached; invalidated when the profile changes). */
  abstract forUser(userId: string): Promise<UserPreferences | undefined>;
}
