import { toPreferences } from './profile-preferences';

describe(toPreferences.name, () => {
  it('should map the onboarding fields and drop unknown values', () => {
    const sut = toPreferences(
      {
        pythonSkillLevel: 'Advanced',
        codeOutputStructure: 'comprehensive',
        explanationStyle: 'not-a-style',
        preferredLanguageFeatures: ['type_hints', 'f-strings', 'goto'],
        project_context: 'data science',
        errorHandlingPreference: 'production_ready',
      },
      [],
    );
    expect(sut).toEqual({
      pythonSkillLevel: 'advanced',
      codeOutputStructure: 'comprehensive',
      preferredLanguageFeatures: ['type_hints', 'f_strings'],
      projectContext: 'data_science',
      errorHandlingPreference: 'production_ready',
    });
  });

  it('should fill gaps from chosen settings but let profile_data win', () => {
    expect(toPreferences({ pythonSkillLevel: 'expert' }, [1, 5, 9])).toEqual({
      pythonSkillLevel: 'expert',
      codeOutputStructure: 'detailed',
      explanationStyle: 'educational',
    });
  });

  it('should return undefined when nothing is known', () => {
    expect(toPreferences({ foo: 'bar' }, [])).toBeUndefined();
  });
});
