import { SerialFlusher } from './serial-flusher';

describe(SerialFlusher.name, () => {
  it('should never run two flushes at once and share a flush not yet started', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const sut = new SerialFlusher(
      async () => {
        runs++;
        maxRunning = Math.max(maxRunning, ++running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
      },
      () => undefined,
    );
    const first = sut.flush();
    const second = sut.flush(); // queued behind nothing yet started: shared
    expect(second).toBe(first);
    await first;
    await Promise.all([sut.flush(), sut.flush(), sut.flush()]);
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('should report a failing flush and keep working', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const sut = new SerialFlusher(
      async () => {
        if (fail) throw new Error('db down');
      },
      (e) => errors.push(e),
    );
    await sut.flush();
    fail = false;
    await sut.flush();
    expect(errors).toHaveLength(1);
  });
});
