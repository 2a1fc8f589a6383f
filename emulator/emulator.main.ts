// Standalone model-server emulator for development and benchmarks (not part of the Nest app, so it
// reads its few settings straight from the environment).
import { EmulatorOptions, ModelServerEmulator } from './emulator';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

function envBoolean(name: string, fallback: boolean): boolean {
  const raw = process.env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${process.env[name]}"`);
}

async function main(): Promise<void> {
  const host = process.env.EMULATOR_HOST?.trim() || '127.0.0.1';
  const port = envNumber('EMULATOR_PORT', 8002);
  const options: EmulatorOptions = {
    ttftMs: envNumber('EMULATOR_TTFT_MS', 0),
    tokenDelayMs: envNumber('EMULATOR_TOKEN_DELAY_MS', 0),
    slowDripMs: envNumber('EMULATOR_SLOW_DRIP_MS', 2000),
    padToMaxTokens: envBoolean('EMULATOR_PAD_TO_MAX_TOKENS', false),
    hapaLegacyDone: envBoolean('EMULATOR_HAPA_LEGACY_DONE', false),
  };
  if (process.env.EMULATOR_BASE_MODEL?.trim()) options.baseModel = process.env.EMULATOR_BASE_MODEL.trim();
  if (process.env.EMULATOR_ADAPTERS?.trim()) {
    options.adapters = process.env.EMULATOR_ADAPTERS.split(',')
      .map((a) => a.trim())
      .filter(Boolean);
  }

  const emulator = new ModelServerEmulator(options);
  // The benchmark pairs these lines with its own abort times (by request id) to time cancellation.
  if (envBoolean('EMULATOR_LOG_DISCONNECTS', false)) {
    emulator.on('disconnect', (record) => {
      console.log(JSON.stringify({ msg: 'disconnect', at: Date.now(), request_id: record.headers['x-request-id'] }));
    });
  }
  const url = await emulator.listen(port, host);
  console.log(
    JSON.stringify({ level: 'info', msg: 'model-server emulator listening', url, pid: process.pid, ...options }),
  );

  const shutdown = (signal: NodeJS.Signals): void => {
    console.log(JSON.stringify({ level: 'info', msg: 'model-server emulator stopping', signal }));
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'model-server emulator failed to start', error: String(error) }));
  process.exit(1);
});
