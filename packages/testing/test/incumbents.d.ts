// The incumbent packages the migration tests write sessions with ship no types of their own.
declare module "koa-redis" {
  const koaRedis: (options: { url?: string; client?: unknown }) => unknown;
  export default koaRedis;
}
declare module "connect-memjs" {
  const connectMemjs: (session: unknown) => new (options: { servers?: string[]; prefix?: string; client?: unknown }) => unknown;
  export default connectMemjs;
}
declare module "connect-memcached" {
  const connectMemcached: (session: unknown) => new (options: { hosts?: string | string[]; prefix?: string; client?: unknown; ttl?: number }) => unknown;
  export default connectMemcached;
}
