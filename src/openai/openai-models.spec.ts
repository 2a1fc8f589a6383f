import { AppException } from '../common/errors/app.exception';
import { OpenAiModelCatalog } from './openai-models';

describe(OpenAiModelCatalog.name, () => {
  it('should resolve the listed names and every alias to its adapter', () => {
    const sut = new OpenAiModelCatalog({});
    expect(sut.resolve('hapa-code')).toMatchObject({ adapter: 'prompt', task: 'code_generation' });
    expect(sut.resolve('unit_test_generation')).toMatchObject({ adapter: 'prompt', task: 'unit_test_generation' });
    expect(sut.resolve('hapa-autocomplete')).toMatchObject({ adapter: 'autocomplete', task: 'code_completion' });
    expect(sut.resolve('autocomplete').model.id).toBe('hapa-autocomplete');
    expect(sut.resolve('code_review')).toMatchObject({ adapter: 'comment', requested: 'code_review' });
    expect(sut.resolve('bug_fix').model.id).toBe('hapa-bugfix');
  });

  it('should follow MODEL_ADAPTERS renames and remaps', () => {
    const sut = new OpenAiModelCatalog({ autocomplete: 'my-fim-lora', code_review: 'error_fix' });
    expect(sut.resolve('hapa-autocomplete').adapter).toBe('my-fim-lora');
    expect(sut.resolve('code_review').adapter).toBe('error_fix');
    expect(sut.resolve('hapa-explain').adapter).toBe('comment');
  });

  it('should refuse an unknown model with model_not_found details, never a fallback', () => {
    const sut = new OpenAiModelCatalog({});
    const run = () => sut.resolve('gpt-4o');
    expect(run).toThrow(AppException);
    expect(run).toThrow(/gpt-4o/);
    try {
      run();
    } catch (e) {
      expect((e as AppException).code).toBe('E4009');
      expect((e as AppException).details).toEqual([{ field: 'model', message: 'model_not_found' }]);
    }
  });

  it('should list only the models the permissions allow, hapa-code first', () => {
    const sut = new OpenAiModelCatalog({});
    expect(sut.usableBy(['code_generation']).map((m) => m.id)).toEqual(['hapa-code', 'hapa-explain', 'hapa-bugfix']);
    expect(sut.usableBy(['code_completion']).map((m) => m.id)).toEqual(['hapa-autocomplete']);
    expect(sut.usableBy(['admin'])[0].id).toBe('hapa-code');
    expect(sut.usableBy(['profile'])).toEqual([]);
  });
});
