import type { InstanceInfo } from "../instance-info.js";
import type { PublicUser } from "../users.js";
import { html, SafeHtml } from "./html.js";
import { STYLESHEET } from "./style.js";

/** What every page needs besides its own content. */
export interface PageContext {
  instance: InstanceInfo;
  user: PublicUser | undefined;
  csrf: string;
  visits: number;
}

export interface ActiveSession {
  handle: string;
  current: boolean;
  device: string;
  ip: string;
  createdAtMs: number;
  lastSeenMs: number;
}

const csrfField = (ctx: PageContext) => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;

export function layout(ctx: PageContext, title: string, body: SafeHtml): string {
  const { instance, user } = ctx;
  const nav = user
    ? html`<a href="/">Home</a><a href="/catalogue">Catalogue</a><a href="/profile">Profile</a>${instance.listsUserSessions ? html`<a href="/sessions">Active sessions</a>` : ""}
        <form method="post" action="/logout">${csrfField(ctx)}<button class="link" type="submit">Log out</button></form>`
    : html`<a href="/catalogue">Catalogue</a><a href="/login">Log in</a><a href="/signup">Sign up</a>`;
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sessionbridge demo</title>
<link rel="icon" href="data:,">
<style>${new SafeHtml(STYLESHEET)}</style></head>
<body>
<header><a class="brand" href="/">sessionbridge demo</a><nav>${nav}</nav></header>
<section class="served" aria-label="Served by"><p id="served-by" data-instance="${instance.name}" data-framework="${instance.framework}">
Served by <strong>${instance.name}</strong> <span class="badge ${instance.framework.toLowerCase()}">${instance.framework}</span>
· pid ${instance.pid} · port ${instance.port} · visit <strong id="visits">${ctx.visits}</strong>
· ${user ? html`signed in as <strong id="whoami">${user.username}</strong>` : html`<span id="whoami-anon">not signed in</span>`}</p></section>
<main>${body}</main>
<footer><p>Sessions live in ${instance.backendKind}; this instance keeps none. Reload to be served by the next instance. <a href="/operations">Operations</a></p></footer>
</body></html>`}`;
}

export function homePage(ctx: PageContext, notice?: string): string {
  const body = ctx.user
    ? html`${notice ? html`<p class="notice">${notice}</p>` : ""}
      <div class="card"><h1>Hello, <span id="display-name">${ctx.user.displayName}</span></h1>
      <p>You are signed in. Reload this page: the banner above changes instance and framework, and you stay signed in,
      because every instance reads the same session from the shared store.</p></div>
      <div class="card"><h2>Visits in this session</h2><p class="stat">${ctx.visits}</p>
      <p class="muted">Counted in the session itself: each page view is a session write, whichever framework served it.</p></div>`
    : html`${notice ? html`<p class="notice">${notice}</p>` : ""}
      <div class="card"><h1>One login, every instance</h1>
      <p>Express, Fastify and Koa instances sit behind a round-robin load balancer. None keeps state: they share
      one session store. Sign up or log in, then reload and watch the banner.</p>
      <div class="actions"><a class="button quiet" href="/signup">Sign up</a><a class="button" href="/login">Log in</a></div></div>`;
  return layout(ctx, "Home", body);
}

export function signUpPage(ctx: PageContext, problem?: string, values: { username?: string; displayName?: string } = {}): string {
  return layout(ctx, "Sign up", html`<div class="card"><h1>Create an account</h1>
    ${problem ? html`<p class="problem" role="alert">${problem}</p>` : ""}
    <form method="post" action="/signup">${csrfField(ctx)}
      <label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required value="${values.username ?? ""}">
      <label for="displayName">Display name</label><input id="displayName" name="displayName" type="text" autocomplete="nickname" required value="${values.displayName ?? ""}">
      <label for="password">Password (8 characters or more)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8">
      <button type="submit">Sign up</button></form></div>`);
}

export function logInPage(ctx: PageContext, problem?: string, username = "", notice?: string): string {
  return layout(ctx, "Log in", html`<div class="card"><h1>Log in</h1>
    ${notice ? html`<p class="notice">${notice}</p>` : ""}
    ${problem ? html`<p class="problem" role="alert">${problem}</p>` : ""}
    <form method="post" action="/login">${csrfField(ctx)}
      <label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required value="${username}">
      <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Log in</button></form>
    <p class="muted">No account yet? <a href="/signup">Sign up</a>.</p></div>`);
}

export function profilePage(ctx: PageContext, user: PublicUser, message?: { notice?: string; problem?: string }): string {
  return layout(ctx, "Profile", html`<div class="card"><h1>Profile</h1>
    ${message?.notice ? html`<p class="notice">${message.notice}</p>` : ""}
    ${message?.problem ? html`<p class="problem" role="alert">${message.problem}</p>` : ""}
    <p class="muted">Username: ${user.username}</p>
    <form method="post" action="/profile">${csrfField(ctx)}
      <label for="displayName">Display name</label><input id="displayName" name="displayName" type="text" required value="${user.displayName}">
      <button type="submit">Save</button></form>
    <p class="muted">Saving writes the session (every instance sees the new name at once) and your account.</p></div>`);
}

export function sessionsPage(ctx: PageContext, sessions: ActiveSession[], notice?: string): string {
  const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const rows = sessions.map(
    (s) => html`<tr data-current="${s.current}"><td>${s.device}${s.current ? html` <strong>(this browser)</strong>` : ""}</td>
      <td data-label="IP">${s.ip}</td><td data-label="Last seen">${when(s.lastSeenMs)}</td><td data-label="Signed in">${when(s.createdAtMs)}</td>
      <td>${s.current ? "" : html`<form method="post" action="/sessions/revoke">${csrfField(ctx)}
        <input type="hidden" name="handle" value="${s.handle}"><button class="quiet" type="submit" aria-label="Revoke ${s.device}, signed in ${when(s.createdAtMs)}">Revoke</button></form>`}</td></tr>`,
  );
  return layout(ctx, "Active sessions", html`<div class="card"><h1>Active sessions</h1>
    ${notice ? html`<p class="notice">${notice}</p>` : ""}
    <table><thead><tr><th>Device</th><th>IP</th><th>Last seen</th><th>Signed in</th><th></th></tr></thead>
    <tbody id="session-rows">${rows}</tbody></table>
    <div class="actions">
      <form method="post" action="/sessions/logout-others">${csrfField(ctx)}<button class="quiet" type="submit">Log out other sessions</button></form>
      <form method="post" action="/sessions/logout-all">${csrfField(ctx)}<button class="danger" type="submit" id="logout-everywhere">Log out everywhere</button></form>
    </div></div>`);
}

export function errorPage(ctx: PageContext, status: number, title: string, message: string): string {
  return layout(ctx, title, html`<div class="card"><h1>${title}</h1><p>${message}</p><p><a href="/">Back to the home page</a></p></div>`);
}
