/**
 * Docker Hub's pull limits as a registry announces them (docs.docker.com/docker-hub/usage/pulls):
 * `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600` on manifest answers (HEAD
 * included, and a HEAD is not a pull), `429 TOOMANYREQUESTS` past the limit. What is left, and the
 * refusal a release or `verify` stops with: the limit, the account, when it resets, what to do.
 */

export interface PullAllowance {
  /** Manifest GETs the window allows. */
  readonly limit: number;
  readonly remaining: number;
  readonly windowSeconds: number;
  /** `docker-ratelimit-source`: the account (or address) the pulls count against. */
  readonly source?: string;
  /** Seconds until a pull is allowed again, when the registry said (`retry-after` of a 429). */
  readonly retryAfterSeconds?: number;
}

/** `100;w=21600` -> 100 in a 21600 s window; undefined when absent or not in that form. */
export function parseRateLimitHeader(
  value: string | null | undefined,
): { count: number; windowSeconds: number } | undefined {
  const match = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?\s*$/.exec(value ?? "");
  if (match === null) return undefined;
  const windowSeconds = match[2] === undefined ? undefined : Number(match[2]);
  if (windowSeconds === undefined || windowSeconds <= 0) return undefined;
  return { count: Number(match[1]), windowSeconds };
}

/** The allowance a response's headers announce, or undefined when it announces none. */
export function allowanceOf(headers: {
  get(name: string): string | null;
}): PullAllowance | undefined {
  const limit = parseRateLimitHeader(headers.get("ratelimit-limit"));
  if (limit === undefined) return undefined;
  const remaining = parseRateLimitHeader(headers.get("ratelimit-remaining"));
  const source = headers.get("docker-ratelimit-source");
  const retryAfter = Number(headers.get("retry-after") ?? Number.NaN);
  return {
    limit: limit.count,
    remaining: remaining?.count ?? limit.count,
    windowSeconds: limit.windowSeconds,
    ...(source === null || source === "" ? {} : { source }),
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
  };
}

/** `21600` -> `6 h`, `90` -> `90 s`, `3600` -> `1 h`, `600` -> `10 min`. */
export function duration(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/**
 * The refusal of a registry past its pull limit: who, the limit, when it resets, and that what
 * was written stays (the next `up` completes the release: every write is create-only or a copy).
 */
export function pullLimitRefusal(
  registry: string,
  what: string,
  allowance: PullAllowance | undefined,
  now: Date,
): string {
  const account = allowance?.source === undefined ? "" : ` for "${allowance.source}"`;
  const limit =
    allowance === undefined
      ? "its pull limit"
      : `its pull limit of ${allowance.limit} manifest reads per ${duration(allowance.windowSeconds)}`;
  let reset: string;
  if (allowance?.retryAfterSeconds !== undefined) {
    const at = new Date(now.getTime() + allowance.retryAfterSeconds * 1000);
    reset = `it resets in ${duration(allowance.retryAfterSeconds)} (at ${at.toISOString().slice(11, 19)} UTC)`;
  } else if (allowance !== undefined) {
    reset = `it resets within ${duration(allowance.windowSeconds)}`;
  } else {
    reset = "it resets when the registry's window ends";
  }
  return `registry ${registry} refused to ${what}: 429 TOOMANYREQUESTS, ${limit}${account} is used up; ${reset}. Each GET of a manifest counts as a pull (a HEAD does not); what this run wrote stays, and running it again after the reset completes it`;
}

/** Whether a tool's output (cosign, syft) says the registry refused it for its pull limit. */
export function mentionsPullLimit(output: string): boolean {
  return /TOOMANYREQUESTS|429 Too Many Requests/i.test(output);
}

/** The registry, repository and reference of the manifest a tool's refused request named. */
export function refusedManifest(
  output: string,
): { registry: string; repository: string; reference: string } | undefined {
  const match = /https:\/\/([^/\s]+)\/v2\/(\S+?)\/manifests\/([^\s:]+(?::[0-9a-f]{64})?)/.exec(
    output,
  );
  if (match === null) return undefined;
  return {
    registry: match[1] as string,
    repository: match[2] as string,
    reference: match[3] as string,
  };
}

/** `pull allowance on docker.io: 76 of 100 manifest reads per 6 h left for "release-bot"`. */
export function allowanceLine(registry: string, allowance: PullAllowance): string {
  const account = allowance.source === undefined ? "" : ` for "${allowance.source}"`;
  return `pull allowance on ${registry}: ${allowance.remaining} of ${allowance.limit} manifest reads per ${duration(allowance.windowSeconds)} left${account}`;
}
