import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';

// Defined beside the upstream client (the lower layer), named here for front doors.
export { ClientGoneError, GenerationAbort } from '../model-server/upstream-abort';

/**
 * The client read nothing for SSE_CLIENT_STALL_SECONDS: its stream is closed (the front door drops
 * the connection rather than write to a reader that is not there) and the upstream aborted.
 */
export class ClientStalledError extends AppException {
  constructor(seconds: number) {
    super(ErrorCode.E5008, { message: `Client read nothing for ${seconds} s: stream closed` });
    this.name = 'ClientStalledError';
  }
}
