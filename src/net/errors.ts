// Errors of tsrun's networks: a network that is not there, and a CNI plugin that failed (named,
// with the plugin's own code, message and details: CNI spec "Error" result).
import { TsrunError } from '../errors.js';

/** No such network (Docker: "network foo not found"). */
export class NetworkNotFoundError extends TsrunError {
  readonly network: string;
  constructor(network: string) {
    super('TSRUN_NETWORK_NOT_FOUND', `network ${network} not found`);
    this.network = network;
  }
}

/** A network operation failed: a CNI plugin's error, or a network's own problem. */
export class NetworkError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_NETWORK', message, options);
  }
}

/**
 * A CNI plugin exited non-zero. `plugin` is its type ("bridge"), `command` ADD/DEL/CHECK, and
 * `cniCode`/`msg`/`details` what it printed (the spec's error result), or its stderr when it
 * printed no JSON.
 */
export class CniPluginError extends NetworkError {
  readonly plugin: string;
  readonly command: string;
  readonly cniCode: number | undefined;
  readonly msg: string;
  readonly details: string | undefined;
  constructor(o: { plugin: string; command: string; network: string; cniCode?: number; msg: string; details?: string }) {
    super(`network ${o.network}: CNI plugin ${o.plugin} ${o.command} failed: ${o.msg}${o.details ? ` (${o.details})` : ''}`);
    this.plugin = o.plugin;
    this.command = o.command;
    this.cniCode = o.cniCode;
    this.msg = o.msg;
    this.details = o.details;
  }
}
