import path from 'node:path';

/** What the development path needs of the emulator: an address to call and a way to stop it. */
export interface DevEmulator {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the model-server emulator in-process: the one development-only path to it. The module is
 * resolved at run time so production code never imports it (config refuses production without
 * VLLM_SERVER_URL, so this is never reached there).
 */
export async function startDevEmulator(): Promise<DevEmulator> {
  // src/model-server → <root>/emulator, from the sources (ts-jest) and from dist/ alike.
  const modulePath = path.join(__dirname, '..', '..', 'emulator', 'emulator');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ModelServerEmulator } = require(modulePath) as {
    ModelServerEmulator: new () => { listen(port: number, host: string): Promise<string>; close(): Promise<void> };
  };
  const emulator = new ModelServerEmulator();
  const url = await emulator.listen(0, '127.0.0.1');
  return { url, close: () => emulator.close() };
}
