import { randomUUID } from 'node:crypto';
import type { NextFunction, Response } from 'express';
import type { CallContext } from '../ports/call-context';
import { annotateUsage } from '../ports/usage-annotation';
import { AppRequest } from './app-request';
import { ServerLifecycle } from './server-lifecycle';

export type ResponseCloseHook = (req: AppRequest, res: Response) => void;

/** True once the client went away before its response finished (set by the pipeline's close listener). */
export const clientGone = (res: Response): boolean => res.locals.clientGone === true;

/**
 * Aborts when the client goes away before its response finished: the one place a disconnect is
 * observed, and the signal a front door hands the generation core (it reaches the model server).
 */
export function clientSignal(res: Response): AbortSignal {
  let ctl = res.locals.clientAbort as AbortController | undefined;
  if (!ctl) {
    ctl = new AbortController();
    res.locals.clientAbort = ctl;
    // The client may have left while guards and pipes ran: its close event is past.
    if (clientGone(res)) ctl.abort();
  }
  return ctl.signal;
}

/** What a front-door service gets of its request; `deadline` (the route's own) aborts it like a disconnect. */
export function callContext(req: AppRequest, res: Response, deadline?: AbortSignal): CallContext {
  const client = clientSignal(res);
  return {
    requestId: req.id,
    startedAt: req.startedAt,
    signal: deadline ? AbortSignal.any([client, deadline]) : client,
    annotate: (usage) => annotateUsage(res, usage),
  };
}

/** Resolves once the response can take more ('drain'), or will never need to ('close'). */
export function drainedOrClosed(res: Response): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The one Express layer in front of the routes: request id (a sane incoming X-Request-Id is kept),
 * admission (refused while draining), stream-route marking, and a single `close` listener that runs
 * every telemetry hook (lifecycle, metrics, access log, usage). One layer and one listener instead of
 * one per concern: this runs on every request.
 */
export function requestPipeline(options: {
  lifecycle: ServerLifecycle;
  onClose: ResponseCloseHook[];
  /** Lower-cased paths whose pre-stream errors carry the SSE envelope (type/content). */
  sseRoutes: ReadonlySet<string>;
}) {
  const { lifecycle, sseRoutes } = options;
  const hooks = options.onClose;
  return (req: AppRequest, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.startedAt = process.hrtime.bigint();
    res.setHeader('X-Request-Id', req.id);
    if (req.method === 'POST' && sseRoutes.size > 0 && sseRoutes.has(normalisePath(req.path))) {
      res.locals.sseErrorEnvelope = true;
    }
    try {
      lifecycle.admit(res);
    } catch (e) {
      return next(e);
    }
    res.once('close', () => {
      // Read by routes that start work later (after guards and pipes): a client gone by then aborts nothing otherwise.
      if (!res.writableFinished) {
        res.locals.clientGone = true;
        (res.locals.clientAbort as AbortController | undefined)?.abort();
      }
      lifecycle.onClose();
      for (const hook of hooks) hook(req, res);
    });
    next();
  };
}

function normalisePath(path: string): string {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return p.toLowerCase();
}
