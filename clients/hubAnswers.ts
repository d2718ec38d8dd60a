/**
 * Reading the Docker Hub API's answers: the words of an error answer (JSON, or the HTML page the
 * Hub answers for a path it does not serve), its "tag not found", the wait a 429 asks for, and
 * the claims of an access token. No request is made here.
 */

/**
 * Whether a 404 body is the Hub's own "tag not found": JSON whose `message` or `detail` says the
 * tag is not found. A route the Hub does not serve answers an HTML page instead
 * (docker/hub-feedback#2250), and the emulator a "Not found: <method> <path>" message.
 */
export function isTagNotFound(body: unknown): boolean {
  if (body === null || typeof body !== "object") return false;
  const { message, detail } = body as Record<string, unknown>;
  return [message, detail].some(
    (text) => typeof text === "string" && /\btag\b.*\bnot found\b/i.test(text),
  );
}

/**
 * How long a 429 asks to wait, in milliseconds, or undefined when it does not say.
 * `Retry-After` / `X-Retry-After` may be a number of seconds, a unix timestamp in seconds (the
 * Hub's documented form for `X-Retry-After`) or an HTTP date; `X-RateLimit-Reset` (a unix
 * timestamp) is the fallback. Numbers of at least 1e9 are read as timestamps.
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const untilTimestamp = (seconds: number): number =>
    Math.max(0, Math.ceil(seconds * 1000 - nowMs));
  for (const name of ["x-retry-after", "retry-after"]) {
    const raw = headers.get(name)?.trim();
    if (!raw) {
      continue;
    }
    if (/^\d+(\.\d+)?$/.test(raw)) {
      const value = Number(raw);
      return value >= 1e9 ? untilTimestamp(value) : Math.ceil(value * 1000);
    }
    const date = Date.parse(raw);
    if (!Number.isNaN(date)) {
      return Math.max(0, date - nowMs);
    }
  }
  const reset = headers.get("x-ratelimit-reset")?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset) && Number(reset) >= 1e9) {
    return untilTimestamp(Number(reset));
  }
  return undefined;
}

/** The Hub's own words from an error answer (`message`, `detail`, ...), or the status text. */
export async function hubMessage(response: Response): Promise<string> {
  return (await hubAnswer(response)).message;
}

/** An error answer's words and, when it is JSON, its body. */
export async function hubAnswer(response: Response): Promise<{ message: string; body: unknown }> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // no body
  }
  let found: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
    const body = (parsed ?? {}) as Record<string, unknown>;
    const errors = Array.isArray(body.errors) ? (body.errors as { message?: unknown }[]) : [];
    for (const candidate of [body.message, body.detail, body.text, errors[0]?.message]) {
      if (typeof candidate === "string" && candidate.trim() !== "") {
        found = candidate.trim();
        break;
      }
    }
  } catch {
    found = text.trim() === "" ? undefined : (htmlPage(text) ?? oneLine(text));
  }
  return { message: found ?? (response.statusText || "no message"), body: parsed };
}

function oneLine(text: string): string {
  return text.trim().replace(/\s+/g, " ").slice(0, 300);
}

/** An HTML error page, as the Hub answers a path it does not serve, said by its title. */
function htmlPage(text: string): string | undefined {
  if (!/^\s*<(!doctype html|html)\b/i.test(text)) return undefined;
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1];
  return title === undefined ? "an HTML page" : `an HTML page titled "${oneLine(title)}"`;
}

export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split(".")[1];
  if (!payload) {
    return undefined;
  }
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    return claims !== null && typeof claims === "object"
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function jwtExpiry(token: string): number | undefined {
  const exp = jwtClaims(token)?.exp;
  return typeof exp === "number" ? exp * 1000 : undefined;
}
