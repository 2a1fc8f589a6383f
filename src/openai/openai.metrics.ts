import { makeCounterProvider } from '@willsoto/nestjs-prometheus';

export const OPENAI_TOOLS_IGNORED = 'hapa_openai_tools_ignored_total';

export const openAiMetricProviders = [
  makeCounterProvider({
    name: OPENAI_TOOLS_IGNORED,
    help: '/v1 chat requests whose tools were ignored (the adapters do not call tools)',
  }),
];
