import { AuthPrincipal } from '../http/app-request';

/**
 * Per-key cap on concurrent streams (429 E4013 when full); implemented by the rate-limit module.
 * acquire() resolves to a release function that must be called exactly once, when the stream ends
 * or its client disconnects (calling it again is a no-op).
 */
export abstract class StreamSlotsPort {
  abstract acquire(principal: AuthPrincipal): Promise<() => void>;
}
