/** `host:port`, with an IPv6 address in brackets (`[::1]:6379`), as addresses are written in labels. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
