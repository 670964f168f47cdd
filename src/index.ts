// tsrun's public API for Node services. Everything a caller may use is exported from here; the
// package's "exports" hides the rest.
//
//   import { Runtime } from '@tsrun-oci/tsrun';
//   const rt = new Runtime({ root: '/run/tsrun', imageRoot: '/var/lib/tsrun' });
//   const c = await rt.run('job-1', { rootfs: '/srv/rootfs', args: ['sh', '-c', 'echo hi'] });
//   const { exitCode, stdout } = await c.output();
//   await c.delete();
export { Runtime } from './api/runtime.js';
export type {
  RuntimeOptions,
  CreateContainerOptions,
  BundleSource,
  RootfsSource,
  ImageSource,
  CommonCreateOptions,
  ExecOptions,
  DeleteOptions,
} from './api/runtime.js';
export { Container } from './api/container.js';
export { ProcessHandle } from './api/process-handle.js';
export type { ExitStatus, Output, OutputOptions, WaitOptions, SignalLike } from './api/process-handle.js';
export type { StdioEntry, StdioOption } from './api/stdio.js';
export type { ProcessOptions, RootfsOptions, Limits } from './api/spec-options.js';
export { specFromOptions } from './api/spec-options.js';
export type { RuntimeEvent, RuntimeEventType, EventsOptions } from './api/events.js';
export { CHANNELS } from './api/diagnostics.js';
export type { ChannelName } from './api/diagnostics.js';
export { Images, DEFAULT_IMAGE_ROOT } from './api/images.js';
export type { ImagePullOptions, ImageRecord, PullProgress, GcResult } from './api/images.js';
export { ServiceContainers, ServiceContainer, Networks, Volumes, NotReadyError, SERVICE_LABEL, INSTANCE_LABEL } from './api/services.js';
export type {
  ServiceRunOptions,
  ServiceContainerInfo,
  ServiceContainerStatus,
  LogsOptions,
  LogEntry,
  ReadyOptions,
  StopOptions,
  RemoveOptions,
  CopyResult,
  PublishedPort,
  NetworkInfo,
  NetworkRecord,
  VolumeRecord,
} from './api/services.js';
export type { CreateNetworkOptions } from './net/network.js';
export type { ImageRunEvent } from './container/image-run.js';
export type { ContainerState } from './container/state.js';
export type { Logger } from './logger.js';
export type { SpawnMode } from './process/spawn.js';
export * from './errors.js';
export type { Spec, LinuxResources, Mount, Process } from './spec/types.js';
export { defaultSpec } from './spec/defaults.js';
export { DEFAULT_ROOT } from './state/store.js';
