import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';

/**
 * The API documentation at `/docs`: Swagger UI dressed as this project and pointed at the one
 * public document, `/openapi.json`, plus the last touches on that document.
 */

/** The project's mark: a gateway arch over a stream of points. Small, inline, no asset to ship. */
const MARK =
  '<rect width="40" height="40" rx="9" fill="#0e7490"/>' +
  '<path d="M11 30V18a9 9 0 0 1 18 0v12" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round"/>' +
  '<circle cx="20" cy="26" r="3" fill="#fde68a"/>';

/** The top-bar logo: the mark and the name, on Swagger UI's dark bar. */
export const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="190" height="40" viewBox="0 0 190 40">' +
  MARK +
  '<text x="50" y="27" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="20" font-weight="600" fill="#fff">tinkr-server</text>' +
  '</svg>';

/** The browser tab's icon: the mark alone. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40">${MARK}</svg>`;

export const DOCS_TITLE = 'tinkr-server API';

/** Where the UI loads the document from: the route clients use, not the plugin's own copy. */
export const OPENAPI_PATH = '/openapi.json';

export const docsUiOptions: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  // `urls` wins over the plugin's own `./json` in Swagger UI's standalone layout.
  uiConfig: { urls: [{ url: OPENAPI_PATH, name: 'tinkr-server' }], deepLinking: true },
  logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: '/docs', target: '_self' },
  theme: {
    title: DOCS_TITLE,
    favicon: [{ filename: 'favicon.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: Buffer.from(FAVICON_SVG) }],
  },
};

/**
 * zod writes the bounds of a plain `.int()` as ±(2^53 − 1), which say nothing and which Swagger
 * UI then shows as example values (`-9007199254740991`). Removed from the whole document.
 */
export function withoutSafeIntegerBounds<T>(document: T): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (key === 'minimum' && child === Number.MIN_SAFE_INTEGER) continue;
      if (key === 'maximum' && child === Number.MAX_SAFE_INTEGER) continue;
      out[key] = walk(child);
    }
    return out;
  };
  return walk(document) as T;
}
