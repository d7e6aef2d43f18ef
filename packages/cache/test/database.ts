import { randomBytes } from "node:crypto";

/**
 * A real database for the cache's tests: PGlite (Postgres compiled to WebAssembly, embedded, no server)
 * by default, a real PostgreSQL when DATABASE_URL is set (each test file gets a schema of its own,
 * dropped at the end). Counts the queries that reach it, so tests can say "the database was asked once".
 */
export interface Database {
  readonly kind: "pglite" | "postgres";
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Queries made so far. */
  readonly queries: number;
  close(): Promise<void>;
}

export interface Product {
  id: number;
  name: string;
  price_cents: number;
  version: number;
}

export async function openDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  let queries = 0;
  if (url !== undefined && url !== "") {
    const { default: pg } = await import("pg");
    const schema = `cache_test_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const scoped = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
    return {
      kind: "postgres",
      async query<T>(sql: string, params: unknown[] = []) {
        queries++;
        return (await scoped.query(sql, params)).rows as T[];
      },
      get queries() {
        return queries;
      },
      async close() {
        await scoped.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
        await scoped.end();
      },
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create();
  return {
    kind: "pglite",
    async query<T>(sql: string, params: unknown[] = []) {
      queries++;
      return (await db.query<T>(sql, params)).rows;
    },
    get queries() {
      return queries;
    },
    close: () => db.close(),
  };
}

/** A products table with a row version, the shape the demo and the docs use. */
export async function seedProducts(db: Database, count = 5): Promise<void> {
  await db.query("CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL, version integer NOT NULL DEFAULT 1)");
  await db.query("DELETE FROM products");
  for (let id = 1; id <= count; id++) await db.query("INSERT INTO products (id, name, price_cents) VALUES ($1, $2, $3)", [id, `Product ${id}`, 100 * id]);
}

export async function productById(db: Database, id: number): Promise<Product | undefined> {
  return (await db.query<Product>("SELECT id, name, price_cents, version FROM products WHERE id = $1", [id]))[0];
}

export async function allProducts(db: Database): Promise<Product[]> {
  return db.query<Product>("SELECT id, name, price_cents, version FROM products ORDER BY id");
}

/** The application's write: update the row, bump its version, return the new row. */
export async function renameProduct(db: Database, id: number, name: string): Promise<Product> {
  const [row] = await db.query<Product>("UPDATE products SET name = $2, version = version + 1 WHERE id = $1 RETURNING id, name, price_cents, version", [id, name]);
  if (row === undefined) throw new Error(`no product ${id}`);
  return row;
}
