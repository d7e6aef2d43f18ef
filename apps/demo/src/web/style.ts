import { createHash } from "node:crypto";

// Inlined into every page rather than served from /style.css: each page view is then exactly one
// request, so the balancer's round robin moves the visitor to the next instance on every reload
// (a separate stylesheet request would take every other turn).
export const STYLESHEET = `
:root { --ink:#1d2330; --muted:#5b6474; --line:#dfe3ea; --bg:#f5f7fa; --card:#fff; --accent:#2458d6; --danger:#b42318;
  --express:#444; --fastify:#0b7a5c; --koa:#8a3ffc; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.5; font-size:16px; }
header, main, footer { max-width:44rem; margin:0 auto; padding:0 1rem; }
header { display:flex; flex-wrap:wrap; align-items:center; justify-content:space-between; gap:.5rem; padding-top:1rem; }
header .brand { font-weight:700; text-decoration:none; color:var(--ink); }
nav { display:flex; flex-wrap:wrap; gap:.25rem .9rem; align-items:center; }
a { color:var(--accent); text-underline-offset:.15em; } a:visited { color:var(--accent); }
nav a { color:var(--accent); text-decoration:none; }
nav form { display:inline; }
.served { margin:1rem auto 0; max-width:44rem; padding:0 1rem; }
.served p { margin:0; padding:.55rem .8rem; border-radius:.5rem; background:#eef2fb; color:var(--muted); font-size:.9rem; }
.served strong { color:var(--ink); }
.badge { display:inline-block; padding:0 .5rem; border-radius:1rem; color:#fff; font-size:.8rem; font-weight:600; vertical-align:1px; }
.badge.express { background:var(--express); } .badge.fastify { background:var(--fastify); } .badge.koa { background:var(--koa); }
main { margin-top:1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:.75rem; padding:1.1rem 1.2rem; margin-bottom:1rem; }
h1 { font-size:1.5rem; margin:0 0 .5rem; } h2 { font-size:1.1rem; margin:0 0 .5rem; }
label { display:block; font-weight:600; margin:.75rem 0 .25rem; }
input[type=text], input[type=password] { width:100%; padding:.6rem .7rem; font-size:1rem; border:1px solid var(--line); border-radius:.5rem; }
button, a.button { display:inline-block; font:inherit; padding:.55rem 1rem; border-radius:.5rem; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; margin-top:1rem; text-decoration:none; }
button.link { background:none; border:none; color:var(--accent); padding:0; margin:0; }
button.danger { background:var(--danger); border-color:var(--danger); }
button.quiet, a.button.quiet { background:#fff; color:var(--accent); }
.notice { padding:.6rem .8rem; border-radius:.5rem; background:#e8f5ee; margin-bottom:1rem; }
.problem { padding:.6rem .8rem; border-radius:.5rem; background:#fdecea; color:var(--danger); margin-bottom:1rem; }
.stat { font-size:2.2rem; font-weight:700; margin:0; }
.muted { color:var(--muted); font-size:.9rem; }
table { width:100%; border-collapse:collapse; font-size:.95rem; }
th, td { text-align:left; padding:.5rem .4rem; border-bottom:1px solid var(--line); vertical-align:top; }
td form { margin:0; } td button { margin:0; padding:.3rem .7rem; }
.actions { display:flex; flex-wrap:wrap; gap:.5rem; } .actions form { margin:0; }
.source { display:inline-block; padding:0 .5rem; border-radius:1rem; font-size:.85rem; font-weight:600; background:#eef2fb; }
.source.hit, .source.local, .source.waited, .source.joined { background:#e8f5ee; color:#0b6b3a; } .source.miss, .source.bypass { background:#fff1e0; color:#9a4b00; }
footer { color:var(--muted); font-size:.85rem; padding-bottom:2rem; }
@media (max-width: 32rem) {
  body { font-size:15px; }
  thead { display:none; }
  tr { display:block; border-bottom:1px solid var(--line); padding:.4rem 0; }
  td { display:block; border:none; padding:.1rem 0; }
  td[data-label]::before { content: attr(data-label) ": "; color:var(--muted); }
}
`;

/** For the Content-Security-Policy: only this exact stylesheet may be applied inline. */
export const STYLESHEET_HASH = `'sha256-${createHash("sha256").update(STYLESHEET).digest("base64")}'`;
