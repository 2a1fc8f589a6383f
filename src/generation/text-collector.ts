import { FrontDoorWriter } from './generation.types';

/** The one-shot front doors' writer: the answer as one string (the core bounds it by MAX_ANSWER_BYTES). */
export class TextCollector implements FrontDoorWriter {
  text = '';
  cached = false;

  begin(info: { cached: boolean }): void {
    this.cached = info.cached;
  }

  write(delta: string): boolean {
    this.text += delta;
    return true;
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }
}
