/** An error class, for `instanceof` (its constructor's arguments do not matter here). */
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/**
 * The error `run` throws, which must be a `kind`: another error is thrown on (the test fails
 * with it), and no error at all fails the test.
 */
export function thrown<E extends Error>(run: () => unknown, kind: ErrorClass<E>): E {
  try {
    run();
  } catch (error) {
    if (error instanceof kind) return error;
    throw error;
  }
  throw new Error(`expected a ${kind.name}`);
}

/** The error `promise` rejects with, which must be a `kind` (as `thrown`, for a promise). */
export async function rejected<E extends Error>(promise: Promise<unknown>, kind: ErrorClass<E>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof kind) return error;
    throw error;
  }
  throw new Error(`expected a ${kind.name}`);
}
