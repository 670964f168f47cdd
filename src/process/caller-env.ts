// The environment tsrun's caller gave it, for the programs tsrun starts with the caller's
// environment (an OCI hook without an env of its own, as runc's nil exec.Cmd Env). bin/tsrun
// changes a few variables for its JS engine (RLIMIT_NOFILE's record, Bun's JIT and GC options, a
// dropped NODE_EXTRA_CA_CERTS): it lists the names it added in TSRUN_ADDED and keeps a dropped
// NODE_EXTRA_CA_CERTS as TSRUN_CALLER_CA_CERTS. In a library caller's own Node neither is set, and
// its environment is returned as it is.

/** `env` as bin/tsrun's caller had it. */
export function callerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const added = env.TSRUN_ADDED;
  const ca = env.TSRUN_CALLER_CA_CERTS;
  if (added === undefined && ca === undefined) return env;
  const out = { ...env };
  for (const name of (added ?? '').split(' ')) if (name) delete out[name];
  delete out.TSRUN_ADDED;
  delete out.TSRUN_CALLER_CA_CERTS;
  if (ca !== undefined) out.NODE_EXTRA_CA_CERTS = ca;
  return out;
}
