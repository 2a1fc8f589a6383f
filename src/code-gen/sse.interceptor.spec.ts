import { CallHandler, ExecutionContext } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Observable, of } from 'rxjs';
import { ErrorEvent } from '../common/errors/error-reporter';
import { ServerLifecycle } from '../common/http/server-lifecycle';
import { loadConfig } from '../config/app-config';
import { SseItem } from './sse';
import { SseInterceptor } from './sse.interceptor';

/** A response double: only what the interceptor touches. */
function fakeResponse(clientGone: boolean) {
  const res = Object.assign(new EventEmitter(), {
    locals: { clientGone },
    writes: [] as string[],
    headersSent: false,
    writableEnded: false,
    writeHead() {
      res.headersSent = true;
    },
    write(chunk: string) {
      res.writes.push(chunk);
      return true;
    },
    cork() {},
    uncork() {},
    end() {
      res.writableEnded = true;
    },
  });
  return res;
}

function context(res: ReturnType<typeof fakeResponse>): ExecutionContext {
  const req = { id: 'req-1', method: 'POST', path: '/api/v1/code/generate/stream', route: { path: '/x' } };
  return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
}

describe(SseInterceptor.name, () => {
  const reported: ErrorEvent[] = [];
  const sut = new SseInterceptor(new ServerLifecycle(), { report: (e) => reported.push(e) }, loadConfig({}));

  it('should not start the handler (nor its upstream call) for a client that left during guards and pipes', async () => {
    const res = fakeResponse(true);
    let handled = false;
    const next: CallHandler<SseItem> = {
      handle: () =>
        new Observable<SseItem>(() => {
          handled = true;
        }),
    };
    await new Promise<void>((resolve) => sut.intercept(context(res), next).subscribe({ complete: resolve }));
    expect(handled).toBe(false);
    expect(res.writes).toEqual([]);
  });

  it('should frame tokens for a client still there: start, tokens in order, done, [DONE]', async () => {
    const res = fakeResponse(false);
    const next: CallHandler<SseItem> = {
      handle: () =>
        of<SseItem[]>('def ', 'f', {
          type: 'done',
          token_usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        }),
    };
    await new Promise<void>((resolve) => sut.intercept(context(res), next).subscribe({ complete: resolve }));
    const types = res.writes.map((w) => (w === 'data: [DONE]\n\n' ? '[DONE]' : JSON.parse(w.slice(6)).type));
    expect(types).toEqual(['start', 'token', 'token', 'done', '[DONE]']);
    expect(res.writes.map((w) => (w.startsWith('data: {') ? JSON.parse(w.slice(6)).content : '')).join('')).toBe(
      'def f',
    );
  });
});
