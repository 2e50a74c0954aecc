/** A listen or dial address of the ws transport. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port` (IPv6 as `[::1]:port`).
 *
 * @param address - the address as written by the user
 * @param allowZero - whether port 0 (any free port) is allowed
 * @throws TypeError naming the address when it is malformed
 */
export function parseAddress(address: string, allowZero: boolean): HostPort {
  if (typeof address !== 'string') throw new TypeError(`Invalid address: expected "host:port", got ${typeof address}`);
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new TypeError(`Invalid address "${address}": expected "host:port" with a port from ${allowZero ? 0 : 1} to 65535`);
  }
  return { host, port };
}

/** Formats an address back to `host:port`. */
export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
