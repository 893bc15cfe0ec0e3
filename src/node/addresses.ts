// Where guests can reach this node: the address it listens on is often one nobody else can open
// (127.0.0.1) or none at all (0.0.0.0, a wildcard). On a wildcard bind the machine's own
// non-internal addresses are the ones a phone on the same network can open; `--public-url` (a
// deployment behind a proxy) overrides them all.

import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** 0.0.0.0, ::, or an empty host (Node then listens on every address). */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/**
 * `http://ADDRESS:PORT` for each non-internal address of this machine, IPv4 first (what people
 * type and what QR readers handle best), link-local IPv6 left out (it needs a zone to be opened).
 */
export function lanUrls(
  port: number,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      if (info.internal) continue;
      if (info.family === 'IPv4') v4.push(`http://${info.address}:${port}`);
      else if (!info.address.toLowerCase().startsWith('fe80:')) v6.push(`http://[${info.address}]:${port}`);
    }
  }
  return [...new Set([...v4, ...v6])];
}

/** What the page offers guests: the public URL when configured, else the LAN URLs of a wildcard bind. */
export interface ShareAddresses {
  readonly publicUrl: string | null;
  readonly lanUrls: readonly string[];
}

export function shareAddresses(config: {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string | null;
}): ShareAddresses {
  return {
    publicUrl: config.publicUrl,
    lanUrls: isWildcard(config.host) ? lanUrls(config.port) : [],
  };
}
