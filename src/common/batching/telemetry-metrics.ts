import { makeCounterProvider } from '@willsoto/nestjs-prometheus';

export const TELEMETRY_SPILLED = 'hapa_telemetry_spilled_events_total';
export const TELEMETRY_OVERFLOW = 'hapa_telemetry_overflow_events_total';

/** Shared by analytics and error monitoring (make*Provider reuses a metric already registered). */
export const telemetryMetricProviders = [
  makeCounterProvider({
    name: TELEMETRY_SPILLED,
    help: 'Telemetry records the database could not take before shutdown: written to DATA_DIR/spill (direction="out") or read back at start (direction="in")',
    labelNames: ['source', 'direction'],
  }),
  makeCounterProvider({
    name: TELEMETRY_OVERFLOW,
    help: 'Telemetry records dropped because the in-memory buffer was full (database unreachable for long)',
    labelNames: ['source'],
  }),
];
