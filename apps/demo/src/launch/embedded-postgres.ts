import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgres {
  /** A postgres:// URL for `pg` (no password: the server is on loopback and lives as long as the demo). */
  url: string;
  stop(): Promise<void>;
}

/**
 * The catalogue's default database: PGlite (PostgreSQL compiled to WebAssembly, in memory) in the
 * launcher's process, served over the Postgres wire protocol on a free loopback port, so the instance
 * processes reach one shared database through the same `pg` driver as a real PostgreSQL. Nothing to
 * install, nothing left behind; the data goes when the demo stops.
 *
 * PGlite runs one query at a time; the socket server queues the connections' queries. Fine for single
 * statements (all the demo sends); an explicit transaction would be interleaved with other connections.
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const db = await PGlite.create();
  // port 0: the kernel picks a free port (no race between choosing one and listening on it).
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 64 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
