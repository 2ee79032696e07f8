/** Default `from` of the GET routes: `now-15m` (docs/http-api.md#time-and-common-parameters). */
export const DEFAULT_SPAN_MS = 15 * 60 * 1000;
