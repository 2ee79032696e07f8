/** Default `from` of the GET routes: `now-15m` (docs/http-api.md#time-and-common-parameters). */
export const DEFAULT_SPAN_MS = 15 * 60 * 1000;

/** Default range of `GET /traces/{trace_id}`: the last 24 h (docs/http-api.md#get-traces-and-get-tracestrace_id). */
export const TRACE_DEFAULT_SPAN_MS = 24 * 60 * 60 * 1000;
