// node:diagnostics_channel channels for lifecycle events, named as undici names its own
// (lib/core/diagnostics.js: "undici:request:create", …). The library never prints: an APM agent,
// a logger or a test subscribes here instead. Every message is a plain object; publishing costs
// nothing while a channel has no subscribers.
//
//   tsrun:container:create   { id, pid, bundle, durationMs }      the init is parked (or running, for run)
//   tsrun:container:start    { id, pid }                           released from exec.fifo / exec'd
//   tsrun:container:exit     { id, pid, exitCode, signal }         the init exited (seen through its pidfd)
//   tsrun:container:kill     { id, signal, all }
//   tsrun:container:stop     { id }                                a Docker-style container stopped (rt.containers)
//   tsrun:container:pause / resume / update / delete   { id } (delete: reaped, when the reaper removed it)
//   tsrun:container:exec     { id, pid, args }
//   tsrun:container:exec-exit { id, pid, exitCode, signal }       an exec'd process exited
//   tsrun:container:error    { id, op, error }                     an operation failed
//   tsrun:image:pull         { ref, id, digest, durationMs }
import diagnosticsChannel from 'node:diagnostics_channel';

export const channels = {
  create: diagnosticsChannel.channel('tsrun:container:create'),
  start: diagnosticsChannel.channel('tsrun:container:start'),
  exit: diagnosticsChannel.channel('tsrun:container:exit'),
  kill: diagnosticsChannel.channel('tsrun:container:kill'),
  stop: diagnosticsChannel.channel('tsrun:container:stop'),
  pause: diagnosticsChannel.channel('tsrun:container:pause'),
  resume: diagnosticsChannel.channel('tsrun:container:resume'),
  update: diagnosticsChannel.channel('tsrun:container:update'),
  delete: diagnosticsChannel.channel('tsrun:container:delete'),
  exec: diagnosticsChannel.channel('tsrun:container:exec'),
  'exec-exit': diagnosticsChannel.channel('tsrun:container:exec-exit'),
  error: diagnosticsChannel.channel('tsrun:container:error'),
  pull: diagnosticsChannel.channel('tsrun:image:pull'),
} as const;

export type ChannelName = keyof typeof channels;

/** The channel names, for subscribers: `diagnostics_channel.subscribe(CHANNELS.exit, fn)`. */
export const CHANNELS: Readonly<Record<ChannelName, string>> = Object.freeze(
  Object.fromEntries(Object.entries(channels).map(([k, c]) => [k, c.name as string])) as Record<ChannelName, string>,
);

export function publish(name: ChannelName, message: object): void {
  const c = channels[name];
  if (c.hasSubscribers) c.publish(message);
}
