import { ENDPOINTS, type ApiEndpoint } from './http/reply.ts';

export type RecordedEndpoint = ApiEndpoint | 'other';

/** One request as it reached the simulator (control requests under `/_sim/` are not recorded). */
export interface RecordedRequest {
  readonly endpoint: RecordedEndpoint;
  readonly method: string;
  readonly path: string;
  /** The query string as a flat object (`page[limit]` stays one key), last value wins. */
  readonly query: Readonly<Record<string, string>>;
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The parsed JSON body, the raw text when it is not JSON, or undefined when empty. */
  readonly body: unknown;
  /** Clock time of arrival, epoch ms. */
  readonly at: number;
  /** What `validateRequest` objected to; empty when valid or not validated. */
  readonly violations: readonly string[];
}

/** Requests kept for inspection; the oldest go first. Enough for any one test. */
export const MAX_RECORDED_REQUESTS = 10_000;
/** Invalid requests kept in full; the count keeps going past it. */
export const MAX_RECORDED_VIOLATIONS = 1_000;

export class Recorder {
  #requests: RecordedRequest[] = [];
  #violations: RecordedRequest[] = [];
  #violationCount = 0;
  #counts = zeroCounts();

  record(request: RecordedRequest): void {
    this.#requests.push(request);
    if (this.#requests.length > MAX_RECORDED_REQUESTS) this.#requests.shift();
    this.#counts[request.endpoint]++;
    if (request.violations.length > 0) {
      this.#violationCount++;
      this.#violations.push(request);
      if (this.#violations.length > MAX_RECORDED_VIOLATIONS) this.#violations.shift();
    }
  }

  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  /** Requests that failed validation (the most recent MAX_RECORDED_VIOLATIONS). */
  get invalid(): readonly RecordedRequest[] {
    return this.#violations;
  }

  get invalidCount(): number {
    return this.#violationCount;
  }

  count(endpoint?: RecordedEndpoint): number {
    if (endpoint) return this.#counts[endpoint];
    return Object.values(this.#counts).reduce((sum, n) => sum + n, 0);
  }

  reset(): void {
    this.#requests = [];
    this.#violations = [];
    this.#violationCount = 0;
    this.#counts = zeroCounts();
  }
}

function zeroCounts(): Record<RecordedEndpoint, number> {
  return Object.fromEntries([...ENDPOINTS, 'validate', 'other'].map((e) => [e, 0])) as Record<RecordedEndpoint, number>;
}
