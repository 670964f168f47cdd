// The stdout and stderr of a hook the plan interpreter ran (createContainer, startContainer), as
// native/child.cc sends them after the 16-byte Msg of a failed hook: u32 stdout length, u32 stderr
// length, then the bytes (the last 2000 of each stream). runc keeps both for its error words
// ("error running hook: exit status 3, stdout: …, stderr: …", spec/hook-words.ts).

export interface HookOutput {
  stdout: string;
  stderr: string;
}

/** The output after a MSG_ERROR's header, or undefined when the message carries none. */
export function hookOutputOf(rest: Buffer): HookOutput | undefined {
  if (rest.length < 8) return undefined;
  const outLen = rest.readUInt32LE(0);
  const errLen = rest.readUInt32LE(4);
  if (8 + outLen + errLen > rest.length) return undefined;
  return {
    stdout: rest.subarray(8, 8 + outLen).toString('utf8'),
    stderr: rest.subarray(8 + outLen, 8 + outLen + errLen).toString('utf8'),
  };
}
