import { normalizeIp } from '@nestjs/throttler';
import express, { NextFunction, Response } from 'express';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-codes';
import { AppRequest } from './app-request';

export interface BodyLimits {
  maxBytes: number;
  /** Time to receive the whole body once the headers are in. */
  timeoutMs: number;
  /** Bodies one client address may be sending at once. */
  maxPendingPerAddress: number;
}

/**
 * JSON body parsing with coded errors. Nest's own body parser is off because its errors bypass
 * the exception filter (they would answer in Express's HTML format). A body must arrive within
 * `timeoutMs` and an address may send only so many at once: clients that stop mid-body would
 * otherwise hold their connections for as long as they like.
 */
export function jsonBodyMiddleware(limits: BodyLimits) {
  const { maxBytes, timeoutMs, maxPendingPerAddress } = limits;
  const parse = express.json({ limit: maxBytes, strict: false, type: ['application/json', 'application/*+json'] });
  const pending = new Map<string, number>();
  const seconds = Math.ceil(timeoutMs / 1000);
  return (req: AppRequest, res: Response, next: NextFunction): void => {
    if (!hasBody(req)) return next();
    if (!req.is(['application/json', 'application/*+json'])) {
      return next(new AppException(ErrorCode.E4001, { message: 'Content-Type must be application/json' }));
    }
    const address = normalizeIp(req.ip ?? 'unknown', 56);
    const count = pending.get(address) ?? 0;
    if (count >= maxPendingPerAddress) {
      res.setHeader('Connection', 'close');
      return next(
        new AppException(ErrorCode.E4004, {
          message: 'Too many unfinished request bodies from this address',
          headers: { 'Retry-After': String(seconds) },
        }),
      );
    }
    pending.set(address, count + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = pending.get(address)! - 1;
      if (left > 0) pending.set(address, left);
      else pending.delete(address);
    };
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      next(err);
    };
    const timer = setTimeout(() => {
      // The rest of the body is not worth waiting for: answer, then close the connection.
      res.setHeader('Connection', 'close');
      finish(new AppException(ErrorCode.E4001, { message: `Request body not received within ${seconds} s` }));
    }, timeoutMs);
    res.once('close', () => {
      clearTimeout(timer);
      release();
    });
    parse(req, res, (err?: unknown) => finish(err ? bodyError(err, maxBytes) : undefined));
  };
}

function bodyError(err: unknown, maxBytes: number): AppException {
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') {
    return new AppException(ErrorCode.E4008, { message: `Request body exceeds ${maxBytes} bytes` });
  }
  if (type === 'entity.parse.failed') {
    return new AppException(ErrorCode.E4001, { message: 'Malformed JSON in request body' });
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppException(ErrorCode.E4001, { message: 'Unsupported body encoding' });
  }
  return new AppException(ErrorCode.E4001, { message: 'Unreadable request body', cause: err });
}

function hasBody(req: AppRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
