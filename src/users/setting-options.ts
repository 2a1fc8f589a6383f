/** The fixed option catalogue of /users/settings (spec §4). */
export interface SettingOption {
  id: number;
  setting_type: 'python_skill_level' | 'code_output_structure' | 'explanation_style';
  option_value: string;
}

export const SETTING_OPTIONS: readonly SettingOption[] = [
  { id: 1, setting_type: 'python_skill_level', option_value: 'beginner' },
  { id: 2, setting_type: 'python_skill_level', option_value: 'intermediate' },
  { id: 3, setting_type: 'code_output_structure', option_value: 'minimal' },
  { id: 4, setting_type: 'code_output_structure', option_value: 'standard' },
  { id: 5, setting_type: 'code_output_structure', option_value: 'detailed' },
  { id: 6, setting_type: 'explanation_style', option_value: 'brief' },
  { id: 7, setting_type: 'explanation_style', option_value: 'standard' },
  { id: 8, setting_type: 'explanation_style', option_value: 'detailed' },
  { id: 9, setting_type: 'explanation_style', option_value: 'educational' },
];

export const SETTING_OPTIONS_BY_ID = new Map(SETTING_OPTIONS.map((o) => [o.id, o]));
