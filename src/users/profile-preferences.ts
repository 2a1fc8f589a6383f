import {
  ERROR_HANDLING_PREFERENCES,
  EXPLANATION_STYLES,
  LANGUAGE_FEATURES,
  OUTPUT_STRUCTURES,
  PROJECT_CONTEXTS,
  SKILL_LEVELS,
  UserPreferences,
} from '../common/ports/user-preferences.port';
import { SETTING_OPTIONS_BY_ID } from './setting-options';

// The extension sends camelCase; older clients snake_case. First present alias wins.
const ALIASES = {
  pythonSkillLevel: ['pythonSkillLevel', 'python_skill_level', 'skillLevel', 'skill_level'],
  codeOutputStructure: ['codeOutputStructure', 'code_output_structure', 'outputStructure', 'output_structure'],
  explanationStyle: ['explanationStyle', 'explanation_style'],
  preferredLanguageFeatures: [
    'preferredLanguageFeatures',
    'preferred_language_features',
    'languageFeatures',
    'language_features',
  ],
  projectContext: ['projectContext', 'project_context'],
  errorHandlingPreference: ['errorHandlingPreference', 'error_handling_preference', 'errorHandling', 'error_handling'],
} as const;

const norm = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v
        .trim()
        .toLowerCase()
        .replace(/[\s-]+/g, '_')
    : undefined;

function pick<T extends string>(
  data: Record<string, unknown>,
  names: readonly string[],
  allowed: readonly T[],
): T | undefined {
  for (const n of names) {
    const v = norm(data[n]);
    if (v && (allowed as readonly string[]).includes(v)) return v as T;
  }
  return undefined;
}

/**
 * The port's view of a stored profile: profile_data is the source of truth; chosen /users/settings
 * options fill what it leaves out. Unknown values are ignored (they stay stored verbatim).
 */
export function toPreferences(
  profileData: Record<string, unknown> | undefined,
  settingIds: number[],
): UserPreferences | undefined {
  const data = profileData ?? {};
  const prefs: UserPreferences = {};
  const skill = pick(data, ALIASES.pythonSkillLevel, SKILL_LEVELS);
  const structure = pick(data, ALIASES.codeOutputStructure, OUTPUT_STRUCTURES);
  const style = pick(data, ALIASES.explanationStyle, EXPLANATION_STYLES);
  const context = pick(data, ALIASES.projectContext, PROJECT_CONTEXTS);
  const errors = pick(data, ALIASES.errorHandlingPreference, ERROR_HANDLING_PREFERENCES);
  if (skill) prefs.pythonSkillLevel = skill;
  if (structure) prefs.codeOutputStructure = structure;
  if (style) prefs.explanationStyle = style;
  if (context) prefs.projectContext = context;
  if (errors) prefs.errorHandlingPreference = errors;
  for (const n of ALIASES.preferredLanguageFeatures) {
    const raw = data[n];
    if (!Array.isArray(raw)) continue;
    const features = [...new Set(raw.map(norm))].filter((f): f is (typeof LANGUAGE_FEATURES)[number] =>
      (LANGUAGE_FEATURES as readonly (string | undefined)[]).includes(f),
    );
    prefs.preferredLanguageFeatures = features;
    break;
  }
  for (const id of settingIds) {
    const o = SETTING_OPTIONS_BY_ID.get(id);
    if (o?.setting_type === 'python_skill_level')
      prefs.pythonSkillLevel ??= o.option_value as UserPreferences['pythonSkillLevel'];
    if (o?.setting_type === 'code_output_structure') {
      prefs.codeOutputStructure ??= o.option_value as UserPreferences['codeOutputStructure'];
    }
    if (o?.setting_type === 'explanation_style')
      prefs.explanationStyle ??= o.option_value as UserPreferences['explanationStyle'];
  }
  return Object.keys(prefs).length > 0 ? prefs : undefined;
}
