import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';

export const MODEL_SERVER_UP = 'hapa_model_server_up';

export const modelServerMetricProviders = [
  makeGaugeProvider({
    name: MODEL_SERVER_UP,
    help: '1 when the model server passes its health probe (server = host:port from VLLM_SERVER_URL, or emulator)',
    labelNames: ['server'],
    aggregator: 'min', // WORKERS > 1: up only if every worker sees it up (a sum would read N)
  }),
];
