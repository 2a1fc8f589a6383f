import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';

export const ACTIVE_STREAMS = 'hapa_active_streams';

// Token, time-to-first-token, upstream and overhead metrics are observed by analytics from the usage
// annotation (src/analytics/usage-recorder.ts), so each figure is counted in one place.
export const codeGenMetricProviders = [
  makeGaugeProvider({ name: ACTIVE_STREAMS, help: 'SSE generation streams open now' }),
];
