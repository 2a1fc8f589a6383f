import cluster, { Worker } from 'node:cluster';
import { JsonLogger } from './common/logging/json-logger';
import { AppConfig, describeRuntime } from './config/app-config';
import { serveClusterMetrics } from './metrics/cluster-metrics';

/** Sent by a worker once its server listens (main.ts). */
export const WORKER_READY = 'hapa:ready';

/**
 * WORKERS > 1: this process only forks and supervises; each worker is a whole server (same port,
 * connections handed out round-robin by node:cluster) sharing PostgreSQL and Redis like separate
 * instances. A worker that dies after it was serving is replaced; one that dies while starting
 * stops the server (a bad database URL would otherwise restart forever). SIGTERM/SIGINT drain every
 * worker (SHUTDOWN_TIMEOUT each) and the primary exits 0 only if every worker did.
 */
export function runPrimary(config: AppConfig, logger: JsonLogger): void {
  const n = config.http.workers;
  const serving = new Set<Worker>();
  let announced = false;
  let stopping = false;
  /** A worker that did not drain cleanly while stopping. */
  let failed = false;
  serveClusterMetrics();

  const fork = (): void => {
    const worker = cluster.fork();
    worker.on('message', (msg: { type?: string; url?: string }) => {
      if (msg?.type !== WORKER_READY) return;
      serving.add(worker);
      if (announced) logger.write('info', 'replacement worker serving', { pid: worker.process.pid });
      if (!announced && serving.size === n) {
        announced = true;
        logger.always(`HAPA backend ${config.env.version} listening on ${msg.url} ${describeRuntime(config)}`, {
          environment: config.env.environment,
        });
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const wasServing = serving.delete(worker);
    if (stopping) {
      // A worker still starting has nothing to drain: being stopped by the signal is no failure.
      if (wasServing && code !== 0) failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    if (!wasServing) {
      logger.write('error', 'worker failed to start: stopping', { pid: worker.process.pid, code, signal });
      failed = true;
      return stop('worker start failure');
    }
    logger.write('error', 'worker exited: starting a replacement', { pid: worker.process.pid, code, signal });
    fork();
  });

  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.write('info', `${reason}: draining ${n} workers`, { timeout_ms: config.http.shutdownTimeoutMs });
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (alive.length === 0) process.exit(1);
    for (const w of alive) w.process.kill('SIGTERM');
    // A worker that hangs past its own drain deadline is not waited for.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, config.http.shutdownTimeoutMs + 10_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM received'));
  process.once('SIGINT', () => stop('SIGINT received'));

  for (let i = 0; i < n; i++) fork();
}
