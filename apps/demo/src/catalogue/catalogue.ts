import { createCache, type Cache, type LookupSource, type WriteOutcome } from "@sessionbridge/cache";
import type { Backend } from "@sessionbridge/core";
import type { Product, ProductDatabase } from "./products.js";

/** What one cache read in this request did: where the value came from, and how often the loader (a database query) ran. */
export interface CacheStep {
  /** What was read, in words: `product 3`, `product list`. */
  what: string;
  source: LookupSource;
  loaderCalls: number;
}

/** This instance's counts since it started. */
export interface CatalogueStats {
  /** Reads answered from the cache (hit, stale, grace, waited, joined). */
  hits: number;
  /** Reads that ran the loader (miss, bypass). */
  misses: number;
  /** Loader calls: database reads made on behalf of the cache. */
  loaderCalls: number;
  /** Write-throughs (set after a database write). */
  writes: number;
  /** Every query this instance sent to the database, reads and writes. */
  databaseQueries: number;
}

export interface EditResult {
  product: Product;
  /** What the write-through did with the new row. */
  write: WriteOutcome;
}

const LIST_TAG = "products";
const FROM_CACHE: ReadonlySet<LookupSource> = new Set(["hit", "stale", "grace", "waited", "joined", "local"]);

/**
 * The catalogue as an application would build it on @sessionbridge/cache: product pages and the list are
 * read with lazy loading (cache-aside); an edit writes the database, then the cache (write-through,
 * ordered by the row's version), and invalidates the list by its tag. Every instance has its own caches
 * over the shared backend, so what one instance writes the others read.
 */
export class Catalogue {
  private readonly products: Cache<Product>;
  private readonly lists: Cache<Product[]>;
  private readonly counts = { hits: 0, misses: 0, loaderCalls: 0, writes: 0 };

  /** `backend()` opens a connection of the cache's own to the shared backend (each cache closes its own). */
  constructor(
    private readonly db: ProductDatabase,
    backend: () => Backend,
    private readonly instanceName: string,
    options: { ttlMs: number; timeoutMs: number },
  ) {
    const common = { ttlMs: options.ttlMs, timeoutMs: options.timeoutMs };
    this.products = createCache<Product>({ ...common, backend: backend(), prefix: "demo:cache:product:", versionOf: (row) => row.version });
    this.lists = createCache<Product[]>({ ...common, backend: backend(), prefix: "demo:cache:list:" });
  }

  stats(): CatalogueStats {
    return { ...this.counts, databaseQueries: this.db.queries };
  }

  async list(): Promise<{ products: Product[]; step: CacheStep }> {
    const step: CacheStep = { what: "product list", source: "miss", loaderCalls: 0 };
    const found = await this.lists.lookup("all", () => this.load(step, () => this.db.all()), { tags: [LIST_TAG] });
    this.note(step, found.source);
    return { products: found.value ?? [], step };
  }

  async product(id: number): Promise<{ product: Product | undefined; step: CacheStep }> {
    const step: CacheStep = { what: `product ${id}`, source: "miss", loaderCalls: 0 };
    const found = await this.products.lookup(String(id), () => this.load(step, () => this.db.product(id)));
    this.note(step, found.source);
    return { product: found.value, step };
  }

  /** Database first, then the cache: the row itself (write-through) and the list that shows it (by tag). */
  async edit(id: number, change: { name: string; priceCents: number }): Promise<EditResult | undefined> {
    const product = await this.db.edit(id, change, this.instanceName);
    if (product === undefined) return undefined;
    const write = await this.products.set(String(id), product);
    await this.lists.invalidateTag(LIST_TAG);
    this.counts.writes++;
    return { product, write };
  }

  async close(): Promise<void> {
    await Promise.all([this.products.close(), this.lists.close()]);
    await this.db.close();
  }

  private async load<T>(step: CacheStep, query: () => Promise<T>): Promise<T> {
    step.loaderCalls++;
    this.counts.loaderCalls++;
    return query();
  }

  private note(step: CacheStep, source: LookupSource): void {
    step.source = source;
    if (FROM_CACHE.has(source)) this.counts.hits++;
    else this.counts.misses++;
  }
}
