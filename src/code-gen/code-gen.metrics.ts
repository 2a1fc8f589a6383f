import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';

export const TOKENS_USED = 'hapa_ai_tokens_used_total';
export const TTFT = 'hapa_ai_time_to_first_token_seconds';
export const UPSTREAM_DURATION = 'hapa_ai_upstream_duration_seconds';
export const GATEWAY_OVERHEAD = 'hapa_gateway_overhead_seconds';
export const ACTIVE_STREAMS = 'hapa_active_streams';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];

// Labels are adapters (from configuration) and fixed words: bounded.
export const codeGenMetricProviders = [
  makeCounterProvider({
    name: TOKENS_USED,
    help: 'Tokens sent to (prompt) and received from (completion) the model, by adapter',
    labelNames: ['adapter', 'direction'],
  }),
  makeHistogramProvider({
    name: TTFT,
    help: 'Time from request start to the first model token',
    labelNames: ['adapter'],
    buckets: LATENCY_BUCKETS,
  }),
  makeHistogramProvider({
    name: UPSTREAM_DURATION,
    help: 'Time spent waiting on model servers per request',
    labelNames: ['adapter'],
    buckets: LATENCY_BUCKETS,
  }),
  makeHistogramProvider({
    name: GATEWAY_OVERHEAD,
    help: 'Request time not spent waiting on the model server (one-shot routes)',
    labelNames: ['route'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
  }),
  makeGaugeProvider({ name: ACTIVE_STREAMS, help: 'SSE generation streams open now' }),
];
