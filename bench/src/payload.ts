/**
 * The session every configuration stores: a logged-in user of about 300 bytes as JSON, the size of a
 * typical session (user id, name, roles, a few preferences). The same object for every store keeps the
 * comparison fair.
 */
export const USER = {
  id: "u_4f1c9a2e7b",
  name: "Ada Lovelace",
  email: "ada.lovelace@example.com",
  roles: ["reader", "editor", "billing"],
  locale: "en-GB",
  theme: "dark",
  plan: "team",
  cartItems: 3,
  lastSeenPage: "/projects/engine/notes",
  csrfSecret: "c1c2c3c4c5c6c7c8c9c0d1d2d3d4d5d6",
  flags: { beta: true, tour: false, newsletter: true },
};

/** A new visitor's session: what a landing page records before anyone logs in (same size class). */
export const VISITOR = {
  landing: "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=autumn",
  referrer: "https://news.example.org/articles/2026/session-stores-compared",
  locale: "en-GB",
  consent: { analytics: false, marketing: false },
  abTests: { pricingTable: "B", heroImage: "A", checkout: "control" },
  cart: [],
};

/** Session lifetime of every configuration: one day, sliding. */
export const SESSION_MAX_AGE_MS = 86_400_000;

/** One secret for every framework (≥ 32 characters, as @fastify/session requires). */
export const SECRET = "bench-secret-0123456789abcdef-0123456789";
