import cluster, { Worker } from 'node:cluster';
import { JsonLogger } from './common/logging/json-logger';
import { AppConfig, logListening } from './config/app-config';
import { serveClusterMetrics } from './metrics/cluster-metrics';

/** Sent by a worker once its server listens (main.ts). */
export const WORKER_READY = 'hapa:ready';

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * WORKERS > 1: this process only forks and supervises; each worker is a whole server (same port,
 * connections handed out round-robin by node:cluster) sharing PostgreSQL and Redis like separate
 * instances. Before the server first listens, a worker that dies stops everything (a bad database
 * URL would otherwise restart forever); after that, a dead worker is replaced, with a growing delay
 * while replacements keep failing. SIGTERM/SIGINT drain every worker (SHUTDOWN_TIMEOUT each); the
 * exit code is 0 only if every serving worker drained cleanly.
 */
export function runPrimary(config: AppConfig, logger: JsonLogger): void {
  const n = config.http.workers;
  // Our own bookkeeping: cluster.workers drops a worker only after both 'exit' and 'disconnect'.
  const alive = new Set<Worker>();
  const serving = new Set<Worker>();
  let announced = false;
  let stopping = false;
  let restartDelayMs = 1_000;
  const fail = (): void => void (process.exitCode = 1);
  serveClusterMetrics(() => [...serving]);

  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker);
    worker.on('error', (e) =>
      logger.write('warn', 'worker channel error', { pid: worker.process.pid, error: e.message }),
    );
    worker.on('message', (msg: { type?: string; url?: string }) => {
      if (msg?.type !== WORKER_READY) return;
      serving.add(worker);
      restartDelayMs = 1_000;
      if (announced) logger.write('info', 'replacement worker serving', { pid: worker.process.pid });
      else if (serving.size === n) {
        announced = true;
        logListening(logger, config, msg.url ?? '');
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    alive.delete(worker);
    const wasServing = serving.delete(worker);
    if (stopping) {
      // A worker still starting has nothing to drain: being stopped by the signal is no failure.
      if (wasServing && code !== 0) fail();
      if (alive.size === 0) process.exit();
      return;
    }
    if (!announced) {
      logger.write('error', 'worker failed to start: stopping', { pid: worker.process.pid, code, signal });
      fail();
      return stop('worker start failure');
    }
    const delay = wasServing ? 0 : restartDelayMs;
    if (!wasServing) restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, restartDelayMs * 2);
    logger.write('error', 'worker exited: starting a replacement', {
      pid: worker.process.pid,
      code,
      signal,
      delay_ms: delay,
    });
    setTimeout(() => stopping || fork(), delay);
  });

  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.write('info', `${reason}: draining ${alive.size} workers`, { timeout_ms: config.http.shutdownTimeoutMs });
    if (alive.size === 0) process.exit();
    for (const w of alive) w.process.kill('SIGTERM');
    // A worker that hangs past its own drain deadline is not waited for.
    setTimeout(() => {
      fail();
      for (const w of alive) w.process.kill('SIGKILL');
    }, config.http.shutdownTimeoutMs + 10_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM received'));
  process.once('SIGINT', () => stop('SIGINT received'));

  for (let i = 0; i < n; i++) fork();
}
