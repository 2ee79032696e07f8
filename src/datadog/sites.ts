/** The nine Datadog sites (Datadog's OpenAPI `servers` enum) and their API hosts. */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'uk1.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;

export type DatadogSite = (typeof DATADOG_SITES)[number];

export const DEFAULT_SITE: DatadogSite = 'datadoghq.com';

export function isDatadogSite(value: string): value is DatadogSite {
  return (DATADOG_SITES as readonly string[]).includes(value);
}

/** `datadoghq.eu` → `https://api.datadoghq.eu`. */
export function apiBaseUrl(site: DatadogSite): string {
  return `https://api.${site}`;
}
