import { AppException } from '../common/errors/app.exception';
import { FORBIDDEN_FIELDS, refuseForbiddenFields, samplingExtras } from './vllm-extras';

describe('refuseForbiddenFields', () => {
  it.each(FORBIDDEN_FIELDS)('should refuse a body carrying %s, naming it', (field) => {
    try {
      refuseForbiddenFields({ model: 'hapa-code', prompt: 'x', [field]: null });
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(AppException);
      expect((e as AppException).details).toEqual([{ field, message: 'not accepted' }]);
    }
  });

  it('should let ordinary bodies through', () => {
    expect(() => refuseForbiddenFields({ model: 'hapa-code', prompt: 'x', top_k: 5 })).not.toThrow();
    expect(() => refuseForbiddenFields(undefined)).not.toThrow();
  });
});

describe('samplingExtras', () => {
  it('should keep only the set passthrough fields, in a fixed order', () => {
    const extra = samplingExtras({
      min_p: 0.1,
      top_k: 20,
      seed: 7,
      repetition_penalty: 1.1,
      temperature: 0.2,
      prompt_embeds: 'x',
      stop_token_ids: [2],
      min_tokens: null,
    });
    expect(extra).toEqual({ seed: 7, top_k: 20, min_p: 0.1, repetition_penalty: 1.1, stop_token_ids: [2] });
    expect(Object.keys(extra!)).toEqual(['seed', 'top_k', 'min_p', 'repetition_penalty', 'stop_token_ids']);
    expect(samplingExtras({ temperature: 1 })).toBeUndefined();
  });
});
