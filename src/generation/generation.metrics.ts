import { makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';

export const ACTIVE_STREAMS = 'hapa_active_streams';
export const CLIENT_STALLS = 'hapa_stream_client_stalls_total';

// Token, time-to-first-token, upstream and overhead metrics are observed by analytics from the usage
// annotation (src/analytics/usage-recorder.ts), so each figure is counted in one place.
export const generationMetricProviders = [
  makeGaugeProvider({ name: ACTIVE_STREAMS, help: 'Streaming generations open now (every front door)' }),
  makeCounterProvider({
    name: CLIENT_STALLS,
    help: 'Streams closed because the client read nothing for SSE_CLIENT_STALL_SECONDS',
  }),
];
