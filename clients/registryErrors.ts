/** What the registry clients throw: a refusal, a registry that deletes nothing, a pull limit. */
import type { PullAllowance } from "../lib/pullLimit";

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

/**
 * The registry does not delete manifests by digest at all: distribution with
 * `storage.delete.enabled: false` and Docker Hub's registry (docker/hub-feedback#2360) answer
 * `405` with errcode `UNSUPPORTED`. It is the registry's setting, not the manifest's: every other
 * delete by digest would be refused too.
 */
export class DeleteRefusedError extends RegistryError {
  constructor(
    message: string,
    /** What the registry answered, such as `HTTP 405 UNSUPPORTED`. */
    readonly answer: string,
  ) {
    super(message, 405);
    this.name = "DeleteRefusedError";
  }
}

/** A registry past its pull limit (429 TOOMANYREQUESTS): the limit, the account, the reset. */
export class PullLimitError extends RegistryError {
  constructor(
    message: string,
    readonly allowance: PullAllowance | undefined,
  ) {
    super(message, 429);
    this.name = "PullLimitError";
  }
}
