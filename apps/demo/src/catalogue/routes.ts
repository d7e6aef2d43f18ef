import type { PageContext } from "../web/views.js";
import { catalogueListPage, productPage } from "../web/catalogue-views.js";
import type { Catalogue } from "./catalogue.js";

/** A catalogue page, or where to go next (after an edit: 303, so a reload never re-submits). */
export type CatalogueReply = { status: number; body: string } | { location: string };

const PRODUCT_PATH = /^\/catalogue\/(\d{1,9})$/;

/** GET /catalogue and /catalogue/<id>; undefined for any other path. */
export async function showCatalogue(catalogue: Catalogue, path: string, query: URLSearchParams, ctx: PageContext): Promise<CatalogueReply | undefined> {
  if (path === "/catalogue") {
    const { products, step } = await catalogue.list();
    return { status: 200, body: catalogueListPage(ctx, products, { steps: [step], stats: catalogue.stats() }) };
  }
  const id = productId(path);
  if (id === undefined) return undefined;
  const { product, step } = await catalogue.product(id);
  if (product === undefined) return { location: "/catalogue" };
  const notice = query.get("m") === "saved" ? `Saved on ${product.editedBy ?? ctx.instance.name}: the database row is at version ${product.version}, and the cache holds it (write-through). This page came from ${ctx.instance.name}; reload for the next instance.` : undefined;
  return { status: 200, body: productPage(ctx, product, { steps: [step], stats: catalogue.stats() }, { notice }) };
}

/** POST /catalogue/<id> (CSRF and a signed-in user already checked); undefined for any other path. */
export async function editProduct(catalogue: Catalogue, path: string, form: Record<string, unknown>, ctx: PageContext): Promise<CatalogueReply | undefined> {
  const id = productId(path);
  if (id === undefined) return undefined;
  const name = typeof form["name"] === "string" ? form["name"].trim() : "";
  const priceText = typeof form["price"] === "string" ? form["price"].trim() : "";
  const priceCents = parsePrice(priceText);
  const problem = name.length === 0 || name.length > 60 ? "The name must be 1 to 60 characters long." : priceCents === undefined ? "The price must look like 24 or 24.50 (at most 100000)." : undefined;
  if (problem !== undefined) {
    const { product, step } = await catalogue.product(id);
    if (product === undefined) return { location: "/catalogue" };
    return { status: 400, body: productPage(ctx, product, { steps: [step], stats: catalogue.stats() }, { problem, values: { name, price: priceText } }) };
  }
  const edited = await catalogue.edit(id, { name, priceCents: priceCents as number });
  return { location: edited === undefined ? "/catalogue" : `/catalogue/${id}?m=saved` };
}

function productId(path: string): number | undefined {
  const match = PRODUCT_PATH.exec(path);
  return match ? Number(match[1]) : undefined;
}

function parsePrice(text: string): number | undefined {
  const match = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return undefined;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? "0").padEnd(2, "0"));
  return cents <= 10_000_000 ? cents : undefined;
}
