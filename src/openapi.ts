import { systemClock } from './clock.ts';
import { DEFAULT_SETTINGS } from './config/settings.ts';
import { AppError } from './errors.ts';
import { buildServer, settingsDeps } from './server.ts';
import { uncachedEngine } from './upstream/pipeline.ts';
import { VERSION } from './version.ts';

/**
 * The public OpenAPI document, as the server serves it at /openapi.json. Built from an app with
 * inert parts: documenting the routes never calls Datadog.
 */
export async function openapiDocument(): Promise<unknown> {
  const app = await buildServer({
    version: VERSION,
    profileName: 'default',
    profiles: { default: 'datadog' },
    ...settingsDeps({ ...DEFAULT_SETTINGS, auth: { ...DEFAULT_SETTINGS.auth, mode: 'none' } }, []),
    engine: uncachedEngine({ send: () => Promise.reject(new AppError('INTERNAL', 'not connected')) }, systemClock, DEFAULT_SETTINGS.server.requestTimeoutMs),
    clock: systemClock,
    cursorSecret: new Uint8Array(32),
    readiness: () => ({ ready: false, reason: 'document only', secrets: { source: 'none', loaded_at: new Date(0).toISOString(), age_s: 0, refreshes: 0 }, keys: { status: 'unchecked', site: 'datadoghq.com' } }),
  });
  try {
    return app.swagger();
  } finally {
    await app.close();
  }
}
