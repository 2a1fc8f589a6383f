import type { Counter } from 'prom-client';
import { AppException } from '../common/errors/app.exception';
import { CallContext } from '../common/ports/call-context';
import { loadConfig } from '../config/app-config';
import type { GenerationService } from '../generation/generation.service';
import type { DeltaWriter, GenerationCall, GenerationOutcome } from '../generation/generation.types';
import type { ModelCards } from './model-cards';
import { OpenAiService } from './openai.service';

const OUTCOME: GenerationOutcome = {
  usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
  finishReason: 'stop',
  cached: false,
  ttftMs: 12.4,
  upstreamMs: 30.6,
};

/** The core as the service sees it: replays fixed deltas and records the call. */
function fakeCore(deltas: string[]) {
  const calls: GenerationCall[] = [];
  const core = {
    async generate(call: GenerationCall, out: DeltaWriter): Promise<GenerationOutcome> {
      calls.push(call);
      for (const d of deltas) if (!out.write(d)) await out.drained();
      return OUTCOME;
    },
  };
  return { core: core as unknown as GenerationService, calls };
}

function recorder(): DeltaWriter & { writes: string[] } {
  const writes: string[] = [];
  return { writes, write: (d) => writes.push(d) > 0, drained: () => Promise.resolve() };
}

const ctx = (): CallContext => ({
  requestId: 'req-1',
  startedAt: 0n,
  signal: new AbortController().signal,
  annotate: () => undefined,
});

describe(OpenAiService.name, () => {
  const build = (deltas: string[]) => {
    const { core, calls } = fakeCore(deltas);
    const sut = new OpenAiService(loadConfig({}), core, {} as ModelCards, { inc() {} } as unknown as Counter);
    return { sut, calls };
  };
  // A FIM marker split across deltas, an empty delta, and a trailing `<` held back until the end.
  const deltas = ['x = 1<｜fim', '▁hole｜>', '', ' + 2', '<'];

  it('should stream a FIM answer without its markers, no empty delta, the held-back tail last', async () => {
    const { sut, calls } = build(deltas);
    const call = sut.completion({ model: 'hapa-autocomplete', prompt: 'x = ', stream: true }, undefined, {});
    const out = recorder();
    const { outcome, usage } = await sut.stream(call, ctx(), out);
    expect(out.writes).toEqual(['x = 1', ' + 2', '<']);
    expect(outcome).toBe(OUTCOME);
    expect(calls[0]).toMatchObject({ stream: true, cache: true, request: { requestId: 'req-1' } });
    expect(usage).toMatchObject({
      requestedModel: 'hapa-autocomplete',
      completionId: call.id,
      ttftMs: 12,
      stream: true,
    });
  });

  it('should answer the same text in one completion object when not streaming', async () => {
    const { sut } = build(deltas);
    const call = sut.completion({ model: 'hapa-autocomplete', prompt: 'x = ' }, undefined, {});
    const { body } = await sut.answer(call, ctx());
    expect(body).toMatchObject({ id: call.id, object: 'text_completion', choices: [{ text: 'x = 1 + 2<' }] });
  });

  it('should refuse an engine field in the body as sent, before any generation', () => {
    const { sut, calls } = build(deltas);
    expect(() =>
      sut.chat({ model: 'hapa-code', messages: [{ role: 'user', content: 'hi' }] }, undefined, { prompt_embeds: 'x' }),
    ).toThrow(AppException);
    expect(calls).toEqual([]);
  });
});
