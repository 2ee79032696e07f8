/**
 * Failures a secret-manager fake can be told to produce for one secret. Each provider fake
 * answers them with that provider's own wire shape, so the real SDK turns them into its own
 * error objects.
 */
export type FakeFailure =
  /** The service says the secret does not exist. */
  | 'not_found'
  /** The caller's identity may not read the secret. */
  | 'denied'
  /** The service rejects the caller's credentials. */
  | 'unauthenticated'
  /** A JSON 5xx from the service. */
  | 'server_error'
  /** Accept the request and never answer. */
  | 'hang'
  /** A 200 whose body is not the service's JSON (a proxy's HTML page, say). */
  | 'non_json'
  /** A 200 whose JSON is cut short, the secret inside it: a parse error must not quote it. */
  | 'truncated'
  /** The secret exists but the version asked for is disabled or destroyed. */
  | 'disabled';
