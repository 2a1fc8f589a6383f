import { randomUUID } from 'node:crypto';
import type { NextFunction, Response } from 'express';
import { AppRequest } from './app-request';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accept a sane incoming X-Request-Id, otherwise mint one; echo it on the response. */
export function requestIdMiddleware(req: AppRequest, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  req.id = typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req.startedAt = process.hrtime.bigint();
  res.setHeader('X-Request-Id', req.id);
  next();
}
