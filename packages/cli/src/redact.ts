/**
 * Never print a password: every line the command writes (its own and commander's) goes through
 * `redact`. Credentials in URLs are masked by shape (`redis://user:***@host`), and every secret value
 * the configuration holds (passwords, key secrets, encryption keys) is masked wherever it appears.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;

const secrets = new Set<string>();

/** Remembers a secret so that no output ever shows it. Short values are masked by the URL rule only. */
export function addSecret(value: unknown): void {
  if (typeof value === "string" && value.length >= 4) secrets.add(value);
  else if (value instanceof Uint8Array && value.length >= 4) {
    for (const encoding of ["base64", "base64url", "hex", "utf8"] as const) secrets.add(Buffer.from(value).toString(encoding));
  }
}

/** Remembers the password of every URL in the text (so it is masked even where it appears alone). */
export function addUrlSecrets(url: unknown): void {
  if (typeof url !== "string") return;
  for (const match of url.matchAll(URL_CREDENTIALS)) {
    const userinfo = match[2] ?? "";
    const colon = userinfo.indexOf(":");
    const password = colon < 0 ? userinfo : userinfo.slice(colon + 1);
    addSecret(password);
    try {
      addSecret(decodeURIComponent(password));
    } catch {
      // not percent-encoded: the raw form is already remembered
    }
  }
}

export function redact(text: string): string {
  let out = text.replace(URL_CREDENTIALS, (_whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return colon < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
  // Longest first, so a secret containing another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join("***");
  return out;
}
