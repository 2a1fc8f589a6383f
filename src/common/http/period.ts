/** Reporting windows accepted by the ops routes (?period=). */
export const PERIODS = ['1h', '24h', '7d', '30d'] as const;
export type Period = (typeof PERIODS)[number];

export const PERIOD_SECONDS: Record<Period, number> = {
  '1h': 3600,
  '24h': 86_400,
  '7d': 7 * 86_400,
  '30d': 30 * 86_400,
};

export function periodStart(period: Period, now = Date.now()): Date {
  return new Date(now - PERIOD_SECONDS[period] * 1000);
}
