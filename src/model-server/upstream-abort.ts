/** Why a generation's AbortController fired; the controller's `reason`. */
export class GenerationAbort extends Error {
  constructor(readonly kind: 'client' | 'first-token' | 'idle' | 'shutdown') {
    super(`generation aborted: ${kind}`);
    this.name = 'GenerationAbort';
  }
}

/** The caller's own client went away (its signal aborted); nothing is reported. */
export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGoneError';
  }
}
