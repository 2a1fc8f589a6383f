import { ErrorEvent } from '../common/errors/error-reporter';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorAggregator } from './error-aggregator';

const event = (over: Partial<ErrorEvent> = {}): ErrorEvent => ({
  code: ErrorCode.E5004,
  status: 500,
  message: 'Internal server error',
  route: '/api/v1/x',
  method: 'GET',
  path: '/api/v1/x',
  requestId: 'r',
  incidentId: 'INC-20261122-00000001',
  at: new Date('2026-11-22T10:00:05Z'),
  ...over,
});

const limits = {
  samplePerMinute: 3,
  maxPendingDetails: 100,
  maxFingerprintsPerMinute: 2,
  maxPendingIncidents: 10,
  incidentTracking: true,
};

describe(ErrorAggregator.name, () => {
  it('should count every event but keep only the first N details per fingerprint and minute', () => {
    const sut = new ErrorAggregator(limits);
    for (let i = 0; i < 10; i++) sut.add(event({ at: new Date(`2026-11-22T10:00:${10 + i}Z`) }));
    for (let i = 0; i < 4; i++) sut.add(event({ at: new Date(`2026-11-22T10:01:0${i}Z`) }));
    const batch = sut.take();
    expect(batch.counts.map((c) => c.count)).toEqual([10, 4]);
    expect(batch.details).toHaveLength(6);
    expect(batch.incidents).toHaveLength(1);
    expect(batch.incidents[0]).toMatchObject({ count: 14, code: 'E5004' });
    expect(sut.droppedDetails).toBe(8);
    expect(sut.isEmpty()).toBe(true);
  });

  it('should stop tracking new fingerprints beyond the per-minute bound and keep counting', () => {
    const sut = new ErrorAggregator(limits);
    for (const m of ['a', 'b', 'c', 'd']) sut.add(event({ code: ErrorCode.E4006, status: 422, message: m }));
    const batch = sut.take();
    expect(batch.counts).toEqual([expect.objectContaining({ code: 'E4006', count: 4 })]);
    expect(batch.details.map((d) => d.message)).toEqual(['a', 'b']);
    expect(batch.incidents).toHaveLength(0);
    expect(sut.trackedFingerprints).toBe(2);
  });

  it('should restore counts and incidents of a batch that failed to write', () => {
    const sut = new ErrorAggregator(limits);
    sut.add(event({ incidentId: 'INC-20261122-00000001', at: new Date('2026-11-22T10:00:01Z') }));
    const failed = sut.take();
    sut.add(event({ incidentId: 'INC-20261122-00000002', at: new Date('2026-11-22T10:00:02Z') }));
    sut.restore(failed);
    const batch = sut.take();
    expect(batch.counts).toEqual([expect.objectContaining({ count: 2 })]);
    expect(batch.incidents[0]).toMatchObject({
      count: 2,
      firstIncidentId: 'INC-20261122-00000001',
      lastIncidentId: 'INC-20261122-00000002',
    });
  });

  it('should put back the detail rows of a failed batch while they fit under the pending bound', () => {
    const sut = new ErrorAggregator({ ...limits, maxPendingDetails: 3 });
    sut.add(event({ requestId: 'a' }));
    sut.add(event({ requestId: 'b' }));
    const failed = sut.take();
    sut.add(event({ requestId: 'c', at: new Date('2026-11-22T10:01:00Z') }));
    sut.add(event({ requestId: 'd', at: new Date('2026-11-22T10:01:01Z') }));
    const dropped = sut.droppedDetails;
    sut.restore(failed);
    expect(sut.take().details.map((d) => d.requestId)).toEqual(['a', 'c', 'd']);
    expect(sut.droppedDetails).toBe(dropped + 1);
  });

  it('should store what the columns take: usual methods or OTHER, texts without NUL and cut to length', () => {
    const sut = new ErrorAggregator(limits);
    sut.add(
      event({
        method: 'UNSUBSCRIBE',
        route: 'r'.repeat(300),
        message: 'm\u0000'.repeat(600),
        requestId: 'q'.repeat(200),
        userId: 'u'.repeat(100),
      }),
    );
    const { counts, details, incidents } = sut.take();
    expect(counts[0].route).toHaveLength(200);
    expect(details[0]).toMatchObject({ method: 'OTHER', message: 'm'.repeat(500), requestId: 'q'.repeat(128) });
    expect(details[0].route).toHaveLength(200);
    expect(details[0].userId).toHaveLength(64);
    expect(incidents[0]).toMatchObject({ message: 'm'.repeat(500) });
  });
});
