// Types of build-busybox.mjs for the TypeScript that imports it (test/integration/image-fixtures.ts).

/** The static busybox the image is made from (Debian busybox-static). */
export const BUSYBOX: string;
/** The name the image is imported under. */
export const IMAGE_NAME: string;
/** Where the OCI layout is written by default: images/busybox (gitignored). */
export const DEFAULT_OUT: string;

/** Writes the OCI image layout into out (unless it is up to date with /bin/busybox); returns out. */
export function buildBusyboxImage(out?: string): string;
