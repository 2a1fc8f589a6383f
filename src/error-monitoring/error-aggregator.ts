import { clip, clipOptional, storedMethod } from '../common/batching/stored-values';
import { ErrorEvent } from '../common/errors/error-reporter';
import { isServerError } from '../common/errors/error-codes';
import { errorFingerprint, normaliseMessage } from './fingerprint';

export interface ErrorCountRow {
  minute: Date;
  code: string;
  route: string;
  count: number;
}

export interface ErrorDetailRow {
  at: Date;
  code: string;
  status: number;
  route: string;
  method: string;
  message: string;
  requestId: string;
  incidentId: string;
  fingerprint: string;
  apiKeyId?: string;
  userId?: string;
}

export interface IncidentDelta {
  fingerprint: string;
  code: string;
  route: string;
  message: string;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  firstIncidentId: string;
  lastIncidentId: string;
}

export interface ErrorBatch {
  counts: ErrorCountRow[];
  details: ErrorDetailRow[];
  incidents: IncidentDelta[];
}

export interface AggregatorLimits {
  /** Detail rows kept per fingerprint per minute. */
  samplePerMinute: number;
  /** Detail rows waiting for a flush; beyond this they are dropped (counts stay exact). */
  maxPendingDetails: number;
  /** Distinct fingerprints tracked for sampling within one minute. */
  maxFingerprintsPerMinute: number;
  /** Distinct incidents waiting for a flush. */
  maxPendingIncidents: number;
  incidentTracking: boolean;
}

// Column lengths of error_counts / error_events / error_incidents (migrations).
const ROUTE_MAX = 200;
const MESSAGE_MAX = 500;
const REQUEST_ID_MAX = 128;
const ID_MAX = 64;

/**
 * In-memory side of error monitoring. Everything here is bounded whatever the error rate:
 * counts aggregate per (minute, code, route), detail rows are sampled per fingerprint and minute,
 * incidents aggregate per fingerprint until the next flush.
 */
export class ErrorAggregator {
  private counts = new Map<string, ErrorCountRow>();
  private details: ErrorDetailRow[] = [];
  private incidents = new Map<string, IncidentDelta>();
  private sampleMinute = 0;
  private sampled = new Map<string, number>();
  /** Detail rows left out by sampling or the pending bound since start. */
  droppedDetails = 0;
  /** Server errors that could not be grouped because too many distinct incidents were pending. */
  droppedIncidentUpdates = 0;
  /** Detail rows sampling kept but the pending bound dropped (the database unreachable for long). */
  overflowDetails = 0;

  constructor(private readonly limits: AggregatorLimits) {}

  get pendingDetails(): number {
    return this.details.length;
  }

  get pendingCountKeys(): number {
    return this.counts.size;
  }

  get trackedFingerprints(): number {
    return this.sampled.size;
  }

  add(e: ErrorEvent): void {
    const at = e.at.getTime();
    const minute = at - (at % 60_000);
    // Made to fit the columns here: a row the database refuses costs the flush a slower path.
    const route = clip(e.route, ROUTE_MAX);
    const rawMessage = clip(e.message, MESSAGE_MAX);
    const countKey = `${minute}\u0000${e.code}\u0000${route}`;
    const row = this.counts.get(countKey);
    if (row) row.count++;
    else this.counts.set(countKey, { minute: new Date(minute), code: e.code, route, count: 1 });

    // Normalised from the whole text (it cuts to 500 itself), so fingerprints stay what they were.
    const message = normaliseMessage(clip(e.message, Infinity));
    const fingerprint = errorFingerprint(e.code, route, message);
    if (minute !== this.sampleMinute) {
      this.sampleMinute = minute;
      this.sampled.clear();
    }
    const taken = this.sampled.get(fingerprint);
    const canTrack = taken !== undefined || this.sampled.size < this.limits.maxFingerprintsPerMinute;
    const wanted = canTrack && (taken ?? 0) < this.limits.samplePerMinute;
    if (wanted && this.details.length < this.limits.maxPendingDetails) {
      this.sampled.set(fingerprint, (taken ?? 0) + 1);
      this.details.push({
        at: e.at,
        code: e.code,
        status: e.status,
        route,
        method: storedMethod(e.method),
        message: rawMessage,
        requestId: clip(e.requestId, REQUEST_ID_MAX),
        incidentId: e.incidentId,
        fingerprint,
        apiKeyId: clipOptional(e.apiKeyId, ID_MAX),
        userId: clipOptional(e.userId, ID_MAX),
      });
    } else {
      if (canTrack && taken !== undefined) this.sampled.set(fingerprint, taken + 1);
      this.droppedDetails++;
      if (wanted) this.overflowDetails++;
    }

    if (!this.limits.incidentTracking || !isServerError(e.code)) return;
    const inc = this.incidents.get(fingerprint);
    if (inc) {
      inc.count++;
      if (e.at < inc.firstSeen) inc.firstSeen = e.at;
      if (e.at >= inc.lastSeen) {
        inc.lastSeen = e.at;
        inc.lastIncidentId = e.incidentId;
      }
    } else if (this.incidents.size < this.limits.maxPendingIncidents) {
      this.incidents.set(fingerprint, {
        fingerprint,
        code: e.code,
        route,
        message,
        count: 1,
        firstSeen: e.at,
        lastSeen: e.at,
        firstIncidentId: e.incidentId,
        lastIncidentId: e.incidentId,
      });
    } else {
      this.droppedIncidentUpdates++;
    }
  }

  /** True when a flush should run now rather than on the timer. */
  get wantsFlush(): boolean {
    return this.details.length >= 500 || this.incidents.size >= this.limits.maxPendingIncidents;
  }

  isEmpty(): boolean {
    return this.counts.size === 0 && this.details.length === 0 && this.incidents.size === 0;
  }

  /** Hands over everything pending and starts afresh. */
  take(): ErrorBatch {
    const batch = { counts: [...this.counts.values()], details: this.details, incidents: [...this.incidents.values()] };
    this.counts = new Map();
    this.details = [];
    this.incidents = new Map();
    return batch;
  }

  /**
   * Puts back a batch that could not be written: aggregates merge, so counts stay exact; detail rows
   * go back in front while they fit under maxPendingDetails, the rest are counted as dropped.
   */
  restore(batch: ErrorBatch): void {
    for (const r of batch.counts) {
      const key = `${r.minute.getTime()}\u0000${r.code}\u0000${r.route}`;
      const row = this.counts.get(key);
      if (row) row.count += r.count;
      else this.counts.set(key, r);
    }
    const room = Math.max(0, this.limits.maxPendingDetails - this.details.length);
    this.details = batch.details.slice(0, room).concat(this.details);
    this.droppedDetails += Math.max(0, batch.details.length - room);
    this.overflowDetails += Math.max(0, batch.details.length - room);
    for (const d of batch.incidents) {
      const inc = this.incidents.get(d.fingerprint);
      if (!inc) {
        this.incidents.set(d.fingerprint, d);
        continue;
      }
      inc.count += d.count;
      if (d.firstSeen < inc.firstSeen) {
        inc.firstSeen = d.firstSeen;
        inc.firstIncidentId = d.firstIncidentId;
      }
      if (d.lastSeen > inc.lastSeen) {
        inc.lastSeen = d.lastSeen;
        inc.lastIncidentId = d.lastIncidentId;
      }
    }
  }
}
