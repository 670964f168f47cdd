// The version the CLI reports; one place, so every verb bundle agrees.
export const VERSION = '0.1.0';
