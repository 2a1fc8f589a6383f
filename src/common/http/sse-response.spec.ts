import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { SseResponse } from './sse-response';

/** A response double: what SseResponse touches; its buffer is full while `writableNeedDrain` is set. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    status: 0,
    writes: [] as string[],
    writableNeedDrain: false,
    writableEnded: false,
    destroyed: false,
    writeHead(status: number) {
      res.status = status;
    },
    write(chunk: string) {
      res.writes.push(chunk);
      return !res.writableNeedDrain;
    },
    cork() {},
    uncork() {},
    end(chunk: string) {
      res.writes.push(chunk);
      res.writableEnded = true;
    },
  });
  return res;
}

const KEEP_ALIVE = ': keep-alive\n\n';

describe(SseResponse.name, () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick'] }));
  afterEach(() => jest.useRealTimers());

  const build = (beforeFirstFrame: boolean) => {
    const res = fakeResponse();
    const sut = new SseResponse(res as unknown as Response, { frame: KEEP_ALIVE, afterMs: 1000, beforeFirstFrame });
    return { res, sut };
  };

  it('should open the response with a keep-alive while the first frame is awaited', () => {
    const { res, sut } = build(true);
    jest.advanceTimersByTime(999);
    expect(res.status).toBe(0);
    jest.advanceTimersByTime(1);
    expect(res.status).toBe(200);
    expect(sut.started).toBe(true);
    expect(res.writes).toEqual([KEEP_ALIVE]);
  });

  it('should keep quiet before the first frame unless asked, and fill silences after it', () => {
    const { res, sut } = build(false);
    jest.advanceTimersByTime(5000);
    expect(res.writes).toEqual([]);
    sut.write('data: 1\n\n');
    jest.advanceTimersByTime(2500);
    expect(res.writes).toEqual(['data: 1\n\n', KEEP_ALIVE, KEEP_ALIVE]);
  });

  it('should send no keep-alive while frames flow', () => {
    const { res, sut } = build(true);
    for (let i = 0; i < 5; i++) {
      jest.advanceTimersByTime(900);
      sut.write(`data: ${i}\n\n`);
    }
    expect(res.writes).not.toContain(KEEP_ALIVE);
  });

  it('should queue no keep-alive to a client whose buffer is full, and resume once it drains', () => {
    const { res, sut } = build(true);
    sut.write('data: big\n\n');
    res.writableNeedDrain = true;
    jest.advanceTimersByTime(10_000);
    expect(res.writes).toEqual(['data: big\n\n']);
    res.writableNeedDrain = false;
    jest.advanceTimersByTime(1000);
    expect(res.writes).toEqual(['data: big\n\n', KEEP_ALIVE]);
  });

  it('should stop at the end, on stop() and when the connection closes', () => {
    for (const finish of [
      (sut: SseResponse) => sut.end('data: [DONE]\n\n'),
      (sut: SseResponse) => sut.stop(),
      (_: SseResponse, res: EventEmitter) => res.emit('close'),
    ]) {
      const { res, sut } = build(true);
      finish(sut, res);
      const before = res.writes.length;
      jest.advanceTimersByTime(10_000);
      expect(res.writes.length).toBe(before);
      expect(jest.getTimerCount()).toBe(0);
    }
  });
});
