import type { CacheStep, CatalogueStats } from "../catalogue/catalogue.js";
import type { Product } from "../catalogue/products.js";
import { html, type SafeHtml } from "./html.js";
import { layout, type PageContext } from "./views.js";

/** What the catalogue pages show besides their products: this request's cache reads and this instance's counts. */
export interface CacheReport {
  steps: CacheStep[];
  stats: CatalogueStats;
}

const SOURCE_WORDS: Record<string, string> = {
  hit: "hit: read from the cache, no database query",
  miss: "miss: the loader queried the database, and the cache now holds the result",
  stale: "stale: served the expired value while one caller refreshes it",
  grace: "grace: the database failed, so the last value was served",
  joined: "joined: another request in this instance was loading it",
  waited: "waited: another instance held the load lock and loaded it",
  bypass: "bypass: the cache backend is down, so the database answered directly",
  local: "local: from this process's first tier",
};

export const price = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;

function report(ctx: PageContext, { steps, stats }: CacheReport): SafeHtml {
  const rows = steps.map(
    (step) => html`<tr data-what="${step.what}" data-source="${step.source}" data-loader-calls="${step.loaderCalls}">
      <td>${step.what}</td><td><span class="source ${step.source}">${step.source}</span></td><td data-label="Loader calls">${step.loaderCalls}</td><td class="muted">${SOURCE_WORDS[step.source] ?? ""}</td></tr>`,
  );
  return html`<div class="card"><h2>This request, on ${ctx.instance.name}</h2>
    <table><thead><tr><th>Read</th><th>Cache</th><th>Loader calls</th><th></th></tr></thead><tbody id="cache-steps">${rows}</tbody></table></div>
    <div class="card"><h2>${ctx.instance.name} since it started</h2>
    <p id="instance-stats" class="muted">cache hits <strong id="stat-hits">${stats.hits}</strong> · misses <strong id="stat-misses">${stats.misses}</strong>
    · loader calls <strong id="stat-loader-calls">${stats.loaderCalls}</strong> · write-throughs <strong id="stat-writes">${stats.writes}</strong>
    · database queries <strong id="stat-queries">${stats.databaseQueries}</strong></p>
    <p class="muted">Every instance has its own counts: reload and the next instance shows its own. They share the database and the cache.</p></div>`;
}

export function catalogueListPage(ctx: PageContext, products: Product[], cache: CacheReport): string {
  const rows = products.map(
    (p) => html`<tr data-product="${p.id}"><td><a href="/catalogue/${p.id}">${p.name}</a></td><td data-label="Price">${price(p.priceCents)}</td>
      <td data-label="Version">${p.version}</td><td data-label="Edited on">${p.editedBy ?? "never edited"}</td></tr>`,
  );
  return layout(ctx, "Catalogue", html`<div class="card"><h1>Catalogue</h1>
    <p>Products live in a database shared by every instance and are read through the cache: the list on a miss
    costs one query, then every instance reads it from the cache until a product changes.</p>
    <table><thead><tr><th>Product</th><th>Price</th><th>Version</th><th>Edited on</th></tr></thead><tbody id="product-rows">${rows}</tbody></table></div>
    ${report(ctx, cache)}`);
}

export function productPage(ctx: PageContext, product: Product, cache: CacheReport, message: { notice?: string; problem?: string; values?: { name: string; price: string } } = {}): string {
  const values = message.values ?? { name: product.name, price: price(product.priceCents) };
  return layout(ctx, product.name, html`<div class="card"><h1 id="product-name">${product.name}</h1>
    ${message.notice ? html`<p class="notice" id="edit-notice">${message.notice}</p>` : ""}
    ${message.problem ? html`<p class="problem" role="alert">${message.problem}</p>` : ""}
    <p>Price <strong id="product-price">${price(product.priceCents)}</strong> · version <strong id="product-version">${product.version}</strong>
    · <span id="edited-by">${product.editedBy === null ? "never edited" : html`last edited on <strong>${product.editedBy}</strong>`}</span></p>
    ${ctx.user === undefined
      ? html`<p id="edit-login"><a href="/login">Log in</a> to edit this product.</p>`
      : html`<form method="post" action="/catalogue/${product.id}"><input type="hidden" name="_csrf" value="${ctx.csrf}">
      <label for="name">Name</label><input id="name" name="name" type="text" required maxlength="60" value="${values.name}">
      <label for="price">Price</label><input id="price" name="price" type="text" inputmode="decimal" required value="${values.price}">
      <button type="submit">Save</button></form>`}
    <p class="muted">Saving writes the database, then the cache (write-through, ordered by the row's version), and
    invalidates the cached list by its tag. Reload: the next instance reads this product from the cache (a hit, no
    query) and loads the list once.</p>
    <p><a href="/catalogue">All products</a></p></div>
    ${report(ctx, cache)}`);
}
