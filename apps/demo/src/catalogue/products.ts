import pg from "pg";

/** A catalogue row. `version` goes up by one on every edit: the cache's write-through orders writes by it. */
export interface Product {
  id: number;
  name: string;
  priceCents: number;
  version: number;
  /** The instance that made the last edit (null: never edited). Lets a page say where a change came from. */
  editedBy: string | null;
}

/** Its own table name, so the demo can share a real PostgreSQL with other data. */
const TABLE = "sessionbridge_demo_products";
const COLUMNS = `id, name, price_cents AS "priceCents", version, edited_by AS "editedBy"`;

const SEED: ReadonlyArray<readonly [number, string, number]> = [
  [1, "Teapot", 2400],
  [2, "Kettle", 3900],
  [3, "Mug", 800],
  [4, "French press", 2900],
  [5, "Milk jug", 1200],
  [6, "Tea strainer", 600],
];

/**
 * The products table, read and written through `pg`: the same driver path for a real PostgreSQL
 * (DATABASE_URL) and for the embedded PGlite the launcher serves over the Postgres wire protocol.
 * Counts the queries this process sent, so a page can show what the cache saved.
 */
export class ProductDatabase {
  private readonly pool: pg.Pool;
  private sent = 0;

  constructor(url: string, timeoutMs: number) {
    // Bounded like the store: a database that hangs fails the page within the deadline instead of holding it.
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    // An idle connection that breaks (the database restarted) must not crash the instance; the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  /** Queries this process sent to the database. */
  get queries(): number {
    return this.sent;
  }

  /** Creates the table and the sample rows that are missing; run once by the launcher, safe to repeat. */
  async prepare(): Promise<void> {
    await this.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id integer PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL, version integer NOT NULL DEFAULT 1, edited_by text)`);
    for (const [id, name, priceCents] of SEED) {
      await this.query(`INSERT INTO ${TABLE} (id, name, price_cents) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [id, name, priceCents]);
    }
  }

  async product(id: number): Promise<Product | undefined> {
    return (await this.query<Product>(`SELECT ${COLUMNS} FROM ${TABLE} WHERE id = $1`, [id]))[0];
  }

  async all(): Promise<Product[]> {
    return this.query<Product>(`SELECT ${COLUMNS} FROM ${TABLE} ORDER BY id`);
  }

  /** The application's write: one statement, so the row and its new version change together. Undefined: no such product. */
  async edit(id: number, change: { name: string; priceCents: number }, editedBy: string): Promise<Product | undefined> {
    const rows = await this.query<Product>(`UPDATE ${TABLE} SET name = $2, price_cents = $3, version = version + 1, edited_by = $4 WHERE id = $1 RETURNING ${COLUMNS}`, [id, change.name, change.priceCents, editedBy]);
    return rows[0];
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.sent++;
    return (await this.pool.query(sql, params)).rows as T[];
  }
}
