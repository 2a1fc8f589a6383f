import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as OpenAiModule from '../clients/node_modules/openai';

/** The real third-party clients installed in test/clients (npm test's pretest installs them). */
export const CLIENTS_DIR = path.join(__dirname, '..', 'clients');
const requireClient = createRequire(path.join(CLIENTS_DIR, 'package.json'));

export type OpenAiSdk = typeof OpenAiModule;
export type OpenAiClient = InstanceType<OpenAiSdk['OpenAI']>;

/** The official `openai` npm SDK. */
export function openAiSdk(): OpenAiSdk {
  return requireClient('openai') as OpenAiSdk;
}

export const CONTINUE_CLI = path.join(CLIENTS_DIR, 'node_modules', '@continuedev', 'cli', 'dist', 'cn.js');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function runNode(args: string[], env: Record<string, string> = {}, cwd = CLIENTS_DIR): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 50_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** One call through Continue's `@continuedev/openai-adapters` (ESM, so in a child process). */
export async function continueAdapters<T = unknown>(
  op: 'list' | 'fimStream' | 'completionStream',
  args: { apiBase: string; apiKey: string; body?: unknown },
): Promise<T> {
  const ran = await runNode([path.join(CLIENTS_DIR, 'adapters-driver.mjs'), op, JSON.stringify(args)]);
  const out = JSON.parse(ran.stdout || '{}') as { ok?: T; error?: string };
  if (out.error !== undefined || ran.code !== 0) throw new Error(`adapters ${op}: ${out.error ?? ran.stderr}`);
  return out.ok as T;
}
