// The link guests open to reach a room. The page may have been opened on an address nobody else
// can use (http://127.0.0.1 on the speaker laptop): the node says where it can be reached
// (GET /v1/share), and the link uses, in order, the configured public URL, a LAN address when the
// page itself sits on a loopback address, or the address the page was opened at.

export interface ShareInfo {
  readonly publicUrl: string | null;
  readonly lanUrls: readonly string[];
}

/** localhost, 127.0.0.0/8, ::1: addresses that only reach this very machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127\./.test(h) || h === '::1' || h === '0.0.0.0';
}

/** The base (scheme, host, port) guests should open. */
export function shareBase(info: ShareInfo | null, origin: string): string {
  if (info?.publicUrl) return info.publicUrl.replace(/\/+$/, '');
  const here = new URL(origin);
  const lan = info?.lanUrls[0];
  if (isLoopbackHost(here.hostname) && lan !== undefined) return lan;
  return here.origin;
}

export const roomLink = (base: string, roomId: string): string => `${base}/r/${roomId}`;
