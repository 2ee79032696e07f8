/**
 * Key Vault URLs. Microsoft asks clients to check that a vault URL really is a Key Vault
 * before sending it a token (aka.ms/azsdk/blog/vault-uri); the SDK checks the challenge's
 * resource against the host, and we refuse anything else at config time.
 */

/** DNS suffixes of Key Vault in the public cloud and the sovereign clouds. */
export const KEY_VAULT_SUFFIXES = ['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'] as const;

// Vault names: 3-24 characters, letters, digits and single dashes, starting with a letter and not ending with a dash.
const VAULT_NAME = /^[a-z](?:[a-z0-9]|-(?!-)){1,22}[a-z0-9]$/i;

export function isKeyVaultUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.port !== '' || url.username !== '' || url.password !== '') return false;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return false;
  const host = url.hostname.toLowerCase();
  const suffix = KEY_VAULT_SUFFIXES.find((s) => host.endsWith(`.${s}`));
  if (suffix === undefined) return false;
  return VAULT_NAME.test(host.slice(0, -(suffix.length + 1)));
}
